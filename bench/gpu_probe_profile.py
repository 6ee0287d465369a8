"""Where the short-answer probe's generation time goes on the GPU: one prompt's pass (the greedy answer and S
samples per item, the paper's defaults) over ITEMS items of the EfficientQA pool, through the probe's public API.

Figure in bench/RESULTS.md, under 'The knowledge probe (SliCK)': 'where the short-answer probe's decode step goes'.

On the GPU machine, from the repo root, after `bash bench/gpu_study.sh install .whl-study` and
`BENCH_TRAIN_ONLY=1 python3 bench/gpu_eval.py setup` (the 8B-shaped checkpoint):
    [PROFILE=1] [ITEMS=32] python3 bench/gpu_probe_profile.py [MODEL_DIR]
Prints one JSON record of the pass's generation counters (rows, tokens, decode steps, seconds) after a warm-up pass
of 16 other items; PROFILE=1 also prints the top CUDA kernels of the timed pass.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

import torch
from common import BENCH_DATA, WORK

from ll_hallucination_pipeline.inference import ProbeSettings, build_lm, probe_rows
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.data import read_jsonl, split_question_pool

GENERATION = ("generated_sequences", "prefill_tokens", "generated_tokens", "decode_steps", "generation_seconds")


def generation_counters(lm) -> dict[str, float]:
    stats = lm.stats.as_dict()
    return {key: stats[key] for key in GENERATION}


def main(model_dir: Path, items: int, profile: bool) -> None:
    pool, exemplars = split_question_pool([read_jsonl(BENCH_DATA / "nq_open/efficientqa_dev.jsonl")])
    lm = build_lm(model_dir, QuantizationSettings(), cache_dir=WORK / "probe-profile-cache", token_budget="auto")
    settings = ProbeSettings(prompts=1)
    probe_rows(lm, pool[:16], exemplars, settings, kind="short_answer")  # warm-up: graphs captured, kernels tuned
    before = generation_counters(lm)
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) if profile else contextlib.nullcontext() as prof:
        start = time.perf_counter()
        probe_rows(lm, pool[16 : 16 + items], exemplars, settings, kind="short_answer")
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    counters = {key: round(value - before[key], 2) for key, value in generation_counters(lm).items()}
    seconds = max(counters["generation_seconds"], 1e-9)
    record = {"items": items, "profiled": profile, "wall_s": round(wall, 2), **counters}
    record["decode_tokens_per_s"] = round(counters["generated_tokens"] / seconds)
    record["ms_per_step"] = round(1000 * seconds / max(counters["decode_steps"], 1), 1)
    print(json.dumps(record), flush=True)
    if profile:
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=30), flush=True)


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else WORK / "q8b-bf16",
        int(os.environ.get("ITEMS", "32")),
        os.environ.get("PROFILE") == "1",
    )
