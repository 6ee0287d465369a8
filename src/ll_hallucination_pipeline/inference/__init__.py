"""Inference: the scorer and batched generator behind lm-eval's ``LM`` interface, the score cache, the forward
layout, and the evaluation, smoke test and judge that drive them.

What the layers above, the rules and the thin scripts use; each module is imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "evaluate": ["EvalRequest", "build_lm", "evaluate_jobs"],
        "judge": ["answers_of", "judgements"],
        "knowledge": ["CATEGORIES", "PROBE_SETS", "ProbeSettings", "arc_choice_item", "item_id", "probe_rows"],
        "smoke": ["run_smoke_test"],
    },
)
