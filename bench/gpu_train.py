"""GPU training benchmark (issue D): the pipeline's QLoRA step on the 8B-shaped NF4 model, Alpaca.

On the lent GPU machine, after `python3 bench/gpu_eval.py setup` (the model and data):
    python3 bench/gpu_train.py recipe|packed STEPS
runs `train_adapter` with configs/qlora_alpaca_10k.toml limited to STEPS optimizer steps, as written
("recipe": micro-batch 4, no packing) or with padding-free packing ("packed"), and logs real tokens/s,
peak GPU memory and the loss curve (bench.jsonl and loss_<variant>.csv under $OUT).
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_eval import NF4, OUT, REPO, WORK, log  # noqa: E402


def bench_recipe(variant: str, steps: int) -> Path:
    text = (REPO / "configs/qlora_alpaca_10k.toml").read_text()
    text = re.sub(r"save_steps = \d+", f"save_steps = {10 * steps}\nmax_steps = {steps}", text)
    if variant == "packed":
        text = text.replace("packing = false", "packing = true")
    path = WORK / f"qlora_bench_{variant}.toml"
    path.write_text(text)
    return path


def main(variant: str, steps: str) -> None:
    import torch

    from ll_hallucination_pipeline.data import local_source, prepare_dataset
    from ll_hallucination_pipeline.model import QuantizationSettings
    from ll_hallucination_pipeline.train import TRAINING_LOG_NAME, train_adapter

    alpaca = WORK / "data/alpaca.jsonl"
    if not alpaca.exists():
        source = local_source("alpaca", REPO / ".bench-alpaca")
        prepare_dataset("alpaca", alpaca, WORK / "data/alpaca.manifest.json", source=source)
    out = WORK / f"adapter_{variant}"
    shutil.rmtree(out, ignore_errors=True)
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    manifest = train_adapter(
        bench_recipe(variant, int(steps)),
        0,
        model_dir=NF4,
        data_file=alpaca,
        out_dir=out,
        work_dir=WORK / f"work_{variant}",
        quantization=QuantizationSettings(),
    )
    shutil.copyfile(out / TRAINING_LOG_NAME, OUT / f"loss_{variant}.csv")
    log(
        {
            "phase": "train",
            "variant": variant,
            "steps": manifest["global_steps"],
            "real_tokens": manifest["real_tokens"],
            "train_seconds": round(manifest["seconds"], 1),
            "real_tokens_per_s": round(manifest["tokens_per_second"], 1),
            "wall_incl_load_s": round(time.perf_counter() - start, 1),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "train_loss": manifest["train_loss"],
        }
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
