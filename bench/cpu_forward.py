"""Forward-pass throughput of the converted embedded model on this CPU, per weight format and compute dtype.

Usage (after the convert_model rule): uv run python bench/cpu_forward.py float32|nf4-float32|nf4-bfloat16|bfloat16
"""

from __future__ import annotations

import sys
import time

import torch
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

MODEL = "models/smollm2-135m-instruct"


def load(variant: str) -> torch.nn.Module:
    if variant.startswith("nf4-"):
        compute = getattr(torch, variant.removeprefix("nf4-"))
        nf4 = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute
        )
        return AutoModelForCausalLM.from_pretrained(MODEL, quantization_config=nf4)
    return AutoModelForCausalLM.from_pretrained(MODEL, dtype=getattr(torch, variant))


def main(variant: str, rows: int = 16, width: int = 192) -> None:
    model = load(variant).eval()
    ids = torch.randint(0, model.config.vocab_size, (rows, width))
    with torch.inference_mode():
        model(ids[:2, :32])  # warm-up
        start = time.perf_counter()
        model(ids)
        seconds = time.perf_counter() - start
    print(f"{variant}: {ids.numel() / seconds:.0f} tokens/s ({rows} x {width}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main(sys.argv[1])
