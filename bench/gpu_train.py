"""GPU training benchmark: the pipeline's QLoRA step on the 8B-shaped NF4 model, Alpaca.

Figures in bench/RESULTS.md: under 'One-process benches', the fast recipe's tokens/s with its loss check, its
profile and training on a simulated 24 GB card.

On the lent GPU machine, after `python3 bench/gpu_eval.py setup` (the model and data):
    python3 bench/gpu_train.py VARIANT STEPS
runs `train_adapter` with configs/qlora_alpaca_10k.toml ("recipe") or qlora_alpaca_10k_fast.toml ("fast") limited to
STEPS optimizer steps ("all": the recipe's whole run), as written or changed by '+'-joined switches: "packed"
(padding-free packing), "liger" (liger_kernel), "varlen" (varlen_attention: attention per packed sequence), "nockpt"
(no gradient checkpointing), "autockpt" (gradient_checkpointing = "auto"), "noupcast" (upcast_unquantized =
false), "fusedlora" (fused_lora_update), "mbN" (micro-batch N, accumulation so a step still holds 16 sequences),
"seedN" (training seed N); each a recipe key, e.g. "packed+liger+nockpt+mb2". Logs real tokens/s (the run's,
and from step 1's end on), peak GPU memory and the loss curve (bench.jsonl and loss_<variant>.csv under $OUT).
BENCH_PROFILE=1 also prints the top CUDA kernels; BENCH_CARD_GIB=23 leaves 23 GiB of the GPU free (a 24 GB card).
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import sys
import time
from pathlib import Path

from common import OUT, REPO, WORK, leave_card_of, record
from gpu_eval import NF4

RECIPES = {"recipe": "qlora_alpaca_10k.toml", "fast": "qlora_alpaca_10k_fast.toml"}


def bench_recipe(variant: str, steps: str) -> Path:
    switches = variant.split("+")
    text = (REPO / "configs" / RECIPES.get(switches[0], RECIPES["recipe"])).read_text()
    if steps != "all":
        text = re.sub(r"save_steps = \d+", f"save_steps = {10 * int(steps)}\nmax_steps = {steps}", text)
    for switch in switches:
        if switch == "packed":
            text = text.replace("packing = false", "packing = true")
        elif switch == "liger":
            text += "liger_kernel = true\n"
        elif switch == "varlen":
            text += "varlen_attention = true\n"
        elif switch == "nockpt":
            text += "gradient_checkpointing = false\n"
        elif switch == "autockpt":
            text += 'gradient_checkpointing = "auto"\n'
        elif switch == "fusedlora":
            text += "fused_lora_update = true\n"
        elif switch == "noupcast":
            text += "upcast_unquantized = false\n"
        elif switch.startswith("mb"):
            micro = int(switch[2:])
            text = re.sub(r"micro_batch_size = \d+", f"micro_batch_size = {micro}", text)
            text = re.sub(r"gradient_accumulation = \d+", f"gradient_accumulation = {16 // micro}", text)
        elif switch.startswith("seed"):
            text = re.sub(r"seeds = \[[^]]*\]", f"seeds = [{int(switch[4:])}]", text)
        elif switch not in RECIPES:
            raise SystemExit(f"unknown switch {switch!r}")
    path = WORK / f"qlora_bench_{variant}.toml"
    path.write_text(text)
    return path


def training_seed(variant: str) -> int:
    """The training seed a variant's "seedN" switch sets (0 without one)."""
    return next((int(switch[4:]) for switch in variant.split("+") if switch.startswith("seed")), 0)


def after_first_step(training_log: Path) -> float | None:
    """Real tokens/s from the end of step 1 to the last step (step 1 includes first-use tuning and sizing); of a
    resumed run, from the end of the first step after the resumption, where its clock started again."""
    from ll_hallucination_pipeline.training.train import ELAPSED

    rows = list(csv.DictReader(training_log.read_text().splitlines()))
    clock = [float(row[ELAPSED]) for row in rows]
    rows = rows[max((i for i in range(1, len(rows)) if clock[i] < clock[i - 1]), default=0) :]
    if len(rows) < 2:
        return None
    first, last = rows[0], rows[-1]
    tokens = float(last["num_tokens"]) - float(first["num_tokens"])
    return round(tokens / (float(last[ELAPSED]) - float(first[ELAPSED])), 1)


def main(variant: str, steps: str) -> None:
    import torch

    from ll_hallucination_pipeline.models.quantization import QuantizationSettings
    from ll_hallucination_pipeline.tasks.data import local_source, prepare_dataset
    from ll_hallucination_pipeline.training.train import TRAINING_LOG_NAME, train_adapter

    alpaca = WORK / "data/alpaca.jsonl"
    if not alpaca.exists():
        source = local_source("alpaca", REPO / ".bench-alpaca")
        prepare_dataset("alpaca", alpaca, WORK / "data/alpaca.manifest.json", source=source)
    out = WORK / f"adapter_{variant}"
    shutil.rmtree(out, ignore_errors=True)
    if "BENCH_CARD_GIB" in os.environ:
        leave_card_of(float(os.environ["BENCH_CARD_GIB"]))
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    profile = os.environ.get("BENCH_PROFILE") == "1"
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) if profile else contextlib.nullcontext() as prof:
        manifest = train_adapter(
            bench_recipe(variant, steps),
            training_seed(variant),
            model_dir=NF4,
            data_file=alpaca,
            out_dir=out,
            work_dir=WORK / f"work_{variant}",
            quantization=QuantizationSettings(),
        )
    if profile:
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25), flush=True)
    loss_csv = OUT / f"loss_{variant.replace('+', '_')}_{steps}.csv"
    shutil.copyfile(out / TRAINING_LOG_NAME, loss_csv)
    record(
        {
            "phase": "train",
            "variant": variant,
            "cudnn_sdpa": torch.backends.cuda.cudnn_sdp_enabled(),
            "steps": manifest["global_steps"],
            "real_tokens": manifest["real_tokens"],
            "train_seconds": round(manifest["seconds"], 1),
            "real_tokens_per_s": round(manifest["tokens_per_second"], 1),
            "real_tokens_per_s_after_step_1": after_first_step(loss_csv),
            "wall_incl_load_s": round(time.perf_counter() - start, 1),
            "card_gib": os.environ.get("BENCH_CARD_GIB"),
            "layers_keeping_activations": manifest["layers_keeping_activations"],
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "train_loss": manifest["train_loss"],
        }
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
