"""One layer of the scorer's forward pass on a GPU at the 8B shape's sizes, each way it could be computed.

Figures in bench/RESULTS.md: the table 'One layer of the forward, each way it can be computed'.

- Attention under the scorer's tree mask (:func:`ll_hallucination_pipeline.inference.forward_layout.tree_mask`),
  with each SDPA kernel PyTorch can take and with its own choice.
- An NF4 linear layer as the scorer loads it, alone and with a LoRA update: peft's way (float32) and the
  scorer's (:class:`ll_hallucination_pipeline.models.inference_layers.LoraAddmmLinear`, compute dtype), with the
  largest difference between the two.

For each: GPU time per call, host-to-device copies per call (a pageable copy makes the host wait for the
GPU), and the wall time of 36 calls with host work between them, as a forward pass makes them.

``first`` times what the warm figures leave out: each kernel's first call on a shape it has not seen, as a
scorer's forwards bring one new shape after another (rows and width change from batch to batch).

On the GPU machine, after `bash bench/gpu_study.sh install .whl-study`:
    PYTHONPATH=/tmp/site:src python3 bench/gpu_layers.py [first]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from ll_hallucination_pipeline.inference.forward_layout import tree_mask  # noqa: E402

LAYERS = 36
HEADS, HEAD_DIM = 32, 128  # Qwen3-8B's query heads (transformers repeats the 8 key/value heads under a mask)
# (rows, width, shared prefix): a TruthfulQA forward (preamble run once) and an ARC-Easy one, at a 32k budget
SHAPES = {"truthfulqa": (80, 140, 230), "arc_easy": (640, 50, 0)}
BACKENDS = {
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
    "default": None,
}


def host_work(seconds: float = 0.002) -> None:
    """Stand-in for the Python and kernel launches of one decoder layer's other operations."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def measure(name: str, call) -> dict:
    """One operation: GPU time and host-to-device copies per call, and the wall of LAYERS calls with host work."""
    for _ in range(3):
        call()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        call()
        torch.cuda.synchronize()
    events = prof.key_averages()
    copies = sum(e.count for e in events if e.key.startswith("Memcpy HtoD"))
    gpu_ms = sum(e.self_device_time_total for e in events) / 1000
    start = time.perf_counter()
    for _ in range(LAYERS):
        call()
        host_work()
    torch.cuda.synchronize()
    wall = time.perf_counter() - start
    return {
        "op": name,
        "gpu_ms_per_call": round(gpu_ms, 2),
        "htod_copies_per_call": copies,
        f"wall_ms_{LAYERS}_calls_with_host_work": round(wall * 1000, 1),
        "wall_ms_host_work_alone": round(LAYERS * 2.0, 1),
    }


def attention(shape: str, backend: str) -> dict:
    rows, width, prefix = SHAPES[shape]
    q = torch.randn(rows, HEADS, width, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
    k, v = (torch.randn(rows, HEADS, prefix + width, HEAD_DIM, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    segments = torch.zeros(rows, width, dtype=torch.long, device="cuda")
    segments[:, width // 2 :] = torch.arange(width - width // 2, device="cuda") % 4 + 1
    mask = tree_mask(segments, prefix, torch.bfloat16)

    return {
        "shape": shape,
        "backend": backend,
        **measure(f"sdpa {shape} {backend}", lambda: attend(backend, q, k, v, mask)),
    }


def attend(backend: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked SDPA by the kernel ``backend`` names (PyTorch's own choice for ``default``)."""
    if BACKENDS[backend] is None:
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    with sdpa_kernel([BACKENDS[backend]]):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def first_calls(backend: str, offset: int, count: int = 8) -> dict:
    """Wall ms of the first and second call on ``count`` shapes new to this process (TruthfulQA-like rows,
    widths shifted by ``offset`` so that no two backends share a shape)."""
    firsts, seconds = [], []
    for n in range(count):
        rows, width, prefix = 80 - n, 120 + offset + n, 172
        q = torch.randn(rows, HEADS, width, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
        k, v = (torch.randn(rows, HEADS, prefix + width, HEAD_DIM, device="cuda", dtype=torch.bfloat16) for _ in "kv")
        mask = tree_mask(torch.zeros(rows, width, dtype=torch.long, device="cuda"), prefix, torch.bfloat16)
        for times in (firsts, seconds):
            torch.cuda.synchronize()
            start = time.perf_counter()
            attend(backend, q, k, v, mask)
            torch.cuda.synchronize()
            times.append(round((time.perf_counter() - start) * 1000, 2))
    return {"op": "sdpa first call per new shape", "backend": backend, "first_ms": firsts, "second_ms": seconds}


def nf4_linears(tokens: int = 16384, rank: int = 16) -> list[dict]:
    """Qwen3-8B's up projection (4096 -> 12288) in NF4 with double quantization and bf16 compute, alone
    and with a rank-``rank`` LoRA update: peft's way (float32 weights, input cast to float32) and the
    scorer's way (:class:`ll_hallucination_pipeline.models.inference_layers.LoraAddmmLinear`, compute dtype)."""
    import bitsandbytes as bnb

    from ll_hallucination_pipeline.models.inference_layers import LoraAddmmLinear

    layer = bnb.nn.Linear4bit(
        4096, 12288, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4", compress_statistics=True
    ).to("cuda")
    x = torch.randn(tokens, 4096, device="cuda", dtype=torch.bfloat16)
    a = torch.randn(rank, 4096, device="cuda") / 64
    b = torch.randn(12288, rank, device="cuda") / 64

    def peft_float32() -> torch.Tensor:
        return layer(x) + ((x.float() @ a.t()) @ b.t() * 2.0).to(torch.bfloat16)

    addmm = LoraAddmmLinear(layer, a, b, 2.0, torch.bfloat16)
    largest_update = (peft_float32() - layer(x)).float().abs().max().item()
    difference = (addmm(x).float() - peft_float32().float()).abs().max().item()
    return [
        measure("nf4 linear 4096x12288", lambda: layer(x)),
        measure("+ lora peft float32", peft_float32),
        {
            **measure("+ lora addmm bf16", lambda: addmm(x)),
            "max_abs_difference_from_peft": round(difference, 4),
            "largest_update": round(largest_update, 4),
        },
    ]


def main() -> None:
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "cudnn": torch.backends.cudnn.version(),
                "device": torch.cuda.get_device_name(),
            }
        ),
        flush=True,
    )
    with torch.inference_mode():
        if sys.argv[1:] == ["first"]:
            for offset, backend in enumerate(["math", "efficient", "cudnn", "default"]):  # math warms CUDA up
                print(json.dumps(first_calls(backend, offset * 10)), flush=True)
            return
        for shape in SHAPES:
            for backend in BACKENDS:
                try:
                    print(json.dumps(attention(shape, backend)), flush=True)
                except RuntimeError as error:
                    print(json.dumps({"shape": shape, "backend": backend, "error": str(error)[:200]}), flush=True)
        for row in nf4_linears():
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
