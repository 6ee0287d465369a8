"""Smoke test: load the base model quantized and generate a few tokens."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..models import QuantizationSettings, load_model, load_tokenizer
from ..utils import atomic_write_json, best_device

PROMPT = "Question: What is the capital of France?\nAnswer:"


def run_smoke_test(model_dir: str | Path, settings: QuantizationSettings, out_file: str | Path) -> dict[str, Any]:
    """Load ``model_dir`` with ``settings`` on CUDA or the CPU, greedily generate 8 tokens, record it."""
    import torch

    device = best_device()
    start = time.perf_counter()
    model = load_model(model_dir, settings, device=device)
    tokenizer = load_tokenizer(model_dir)
    inputs = tokenizer(PROMPT, return_tensors="pt").to(device)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    layer = type(next(m for m in model.modules() if "Linear" in type(m).__name__)).__name__
    report = {
        "device": device,
        "quantization": settings.for_device(device).as_dict(),
        "linear_layer_class": layer,
        "prompt": PROMPT,
        "generated": tokenizer.decode(new_tokens, skip_special_tokens=True),
        "new_tokens": int(new_tokens.numel()),
        "seconds": round(time.perf_counter() - start, 2),
    }
    if report["new_tokens"] == 0:
        raise RuntimeError("the model generated no token; the checkpoint or quantization is broken")
    atomic_write_json(out_file, report)
    return report
