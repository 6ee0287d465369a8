"""A LoRA layer on the CPU, side by side: peft's way (the update in float32, three more passes over the output)
and the scorer's (:class:`ll_hallucination_pipeline.models.inference_layers.LoraAddmmLinear`, one addmm in bf16).
The embedded model's up projection (576 -> 1536) over 8192 tokens, rank 16; milliseconds per call.

Figure in bench/RESULTS.md, CPU: 'a LoRA layer on the CPU, side by side'.

    uv run python bench/cpu_lora_layer.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from ll_hallucination_pipeline.models.inference_layers import LoraAddmmLinear  # noqa: E402


def ms_per_call(call, repeats: int = 20) -> float:
    for _ in range(3):
        call()
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return round((time.perf_counter() - start) / repeats * 1000, 2)


def main(tokens: int = 8192, rank: int = 16) -> None:
    torch.manual_seed(0)
    base = torch.nn.Linear(576, 1536, bias=False).to(torch.bfloat16)
    x = torch.randn(tokens, 576, dtype=torch.bfloat16)
    a, b = torch.randn(rank, 576) / 24, torch.randn(1536, rank) / 24
    fused = LoraAddmmLinear(base, a, b, 2.0, torch.bfloat16)

    def peft_float32() -> torch.Tensor:
        return base(x) + ((x.float() @ a.t()) @ b.t() * 2.0).to(x.dtype)

    with torch.inference_mode():
        rows = {
            "base alone": ms_per_call(lambda: base(x)),
            "+ lora, peft's way (float32 update)": ms_per_call(peft_float32),
            "+ lora, one bf16 addmm (LoraAddmmLinear)": ms_per_call(lambda: fused(x)),
        }
    print(json.dumps({"threads": torch.get_num_threads(), "ms_per_call": rows}))


if __name__ == "__main__":
    main()
