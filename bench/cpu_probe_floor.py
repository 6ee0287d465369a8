"""The multiple-choice knowledge probe on this CPU against what its matmuls alone must cost: one prompt's pass
over the first N items of the ARC-Easy train pool through the probe's public API (the converted embedded model,
config.yaml's defaults), then PyTorch's own bf16 (or float32) linear at the model's layer shapes on the same
machine, in the same process.

Figure in bench/RESULTS.md, CPU: 'the ARC-Easy train pool's probe against its matmul floor'.

Usage (after the convert_model rule): uv run python bench/cpu_probe_floor.py [N]   (default 300)
Prints one JSON record: the pass's tokens and seconds, the linear's rate, and for the whole pool at the paper's
K = 10 the projected probe time and the time its layers' matmuls alone take at that rate (the floor: every
token of a pass goes through every layer once; the head runs on answer positions only).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import CONVERTED_MODEL, SHARED_DATA, machine
from transformers import AutoConfig

from ll_hallucination_pipeline.inference import ProbeSettings, build_lm, probe_rows
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.data import local_source, prepare_dataset, read_jsonl
from ll_hallucination_pipeline.utils.devices import native_cpu_dtype


def layer_shapes(c: Any) -> list[tuple[int, int]]:
    """(out, in) of each linear of one decoder layer of a model config: attention's q, k, v, o and the MLP's gate,
    up, down."""
    head = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    h, m = c.hidden_size, c.intermediate_size
    q, kv = c.num_attention_heads * head, c.num_key_value_heads * head
    return [(q, h), (kv, h), (kv, h), (h, q), (m, h), (m, h), (h, m)]


def linear_rate(
    shapes: list[tuple[int, int]], rows: int, dtype: torch.dtype, repeats: int = 20, trials: int = 5
) -> float:
    """FLOP/s of PyTorch's linear over ``rows`` tokens at these shapes, warm: the best of ``trials`` timings, as
    a floor takes the fastest the kernel goes (this machine's speed swings from run to run)."""
    inputs = {i: torch.randn(rows, i, dtype=dtype) for _, i in shapes}
    weights = [torch.randn(o, i, dtype=dtype) for o, i in shapes]
    for w in weights * 3:
        torch.nn.functional.linear(inputs[w.shape[1]], w)
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            for w in weights:
                torch.nn.functional.linear(inputs[w.shape[1]], w)
        best = min(best, time.perf_counter() - start)
    return repeats * sum(2 * rows * o * i for o, i in shapes) / best


def main(items: int = 300) -> None:
    work = Path(tempfile.mkdtemp(prefix="cpu_probe_floor-"))
    files = {}
    for name in ("arc_easy_train", "arc_easy_validation"):
        files[name] = work / f"{name}.jsonl"
        prepare_dataset(name, files[name], work / f"{name}.manifest.json", source=local_source(name, SHARED_DATA))
    pool = read_jsonl(files["arc_easy_train"])
    quantization = QuantizationSettings(cpu_compute_dtype="auto")  # config.yaml's defaults
    lm = build_lm(CONVERTED_MODEL, quantization, cache_dir=work / "cache", token_budget="auto")
    start = time.perf_counter()
    probe_rows(lm, pool[:items], read_jsonl(files["arc_easy_validation"]), ProbeSettings(prompts=1))
    seconds = time.perf_counter() - start
    stats = lm.stats.as_dict()
    config = AutoConfig.from_pretrained(CONVERTED_MODEL)
    shapes, layers = layer_shapes(config), config.num_hidden_layers
    dtype = getattr(torch, native_cpu_dtype())  # what the CPU computes in under cpu_compute_dtype: auto
    rows = stats["tokens_run"] // max(stats["batches"], 1)
    rate = linear_rate(shapes, rows, dtype)
    pool_tokens = stats["tokens_run"] / items * len(pool) * ProbeSettings().prompts
    flop_per_token = layers * sum(2 * o * i for o, i in shapes)
    record = {
        **machine(),
        "threads": torch.get_num_threads(),
        "dtype": str(dtype),
        "items": items,
        "pass_seconds": round(seconds, 1),
        "tokens_run": stats["tokens_run"],
        "tokens_per_second": round(stats["tokens_run"] / seconds),
        "rows_per_forward": rows,
        "linear_tflops": round(rate / 1e12, 3),
        "scorer_layer_tflops": round(stats["tokens_run"] * flop_per_token / seconds / 1e12, 3),
        "pool_items": len(pool),
        "pool_probe_projected_seconds": round(seconds / items * len(pool) * ProbeSettings().prompts),
        "pool_matmul_floor_seconds": round(pool_tokens * flop_per_token / rate),
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
