"""Fixtures of the unit tests: a small study of hand-made lm-eval outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ll_hallucination_pipeline.stats.analysis import RunSet
from tests.helpers import write_run

N = 40


@pytest.fixture
def runs(tmp_path: Path) -> RunSet:
    rng = np.random.default_rng(0)
    arc_base = rng.integers(0, 2, N).astype(float)
    tqa_base = rng.uniform(0.2, 0.8, N)
    base_dirs, post_dirs = [], []
    for seed in (0, 1):
        base_dirs += [write_run(tmp_path, "arc_easy", seed, arc_base.tolist())]
        base_dirs += [write_run(tmp_path, "truthfulqa_mc2", seed, tqa_base.tolist())]
    for train_seed, shift in ((0, 0.10), (1, 0.14)):
        arc_post = arc_base.copy()
        arc_post[: int(N * shift)] = 1.0
        tqa_post = tqa_base + shift + rng.normal(0, 0.02, N)
        for seed in (0, 1):
            meta = {"recipe": "r", "training_seed": train_seed}
            post_dirs.append(write_run(tmp_path, "arc_easy", seed, arc_post.tolist(), f"r_seed{train_seed}", **meta))
            post_dirs.append(
                write_run(tmp_path, "truthfulqa_mc2", seed, tqa_post.tolist(), f"r_seed{train_seed}", **meta)
            )
    return RunSet.load(base_dirs, post_dirs)


@pytest.fixture
def tiny_nf4_model(tmp_path: Path):
    """A loader of a tiny random Llama saved to ``tmp_path``, loaded in NF4 on the CPU with a compute dtype."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from ll_hallucination_pipeline.models.model_loading import load_model
    from ll_hallucination_pipeline.models.quantization import QuantizationSettings

    config = LlamaConfig(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "tiny")

    def loader(compute_dtype: str):
        settings = QuantizationSettings("nf4", True, compute_dtype)
        return lambda **kw: load_model(tmp_path / "tiny", settings, device="cpu", **kw)

    return loader
