"""Where one evaluation job's time goes, through the package's public API: a Python profile of the whole job
(lm-eval's request building, our batching and masks, the forwards), then a torch profile of its GPU kernels.

Figures in bench/RESULTS.md: 'scorer throughput by the task's place in one process', 'passes after the shards' and
'where a decode step's time goes'.

On the GPU machine, from the repo root, after `bash bench/gpu_study.sh install .whl-study`:
    bash bench/gpu_study.sh profile MODEL_DIR TASK [ADAPTER_DIR]   (TASK: arc_easy, truthfulqa_mc2, truthfulqa_gen,
                                                                   nq_open; PROFILE_LIMIT=N items, GEN_TOKS=N)
    bash bench/gpu_study.sh profile MODEL_DIR passes TASK [TASK ...]   (unprofiled, one process, in order)
MODEL_DIR is a checkpoint (e.g. the study's bf16 one), ADAPTER_DIR one of its adapters (e.g. the study's);
the tasks' data files come from the study's workdir (made there first where missing). ``passes`` shows what a
task's scoring costs in a process whose CUDA is already warm: each pass loads the model again, with a fresh
score cache.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import time
from pathlib import Path

from common import OUT, WORK, record


def evaluate_once(
    model_dir: Path, task: str, name: str, adapter_dir: Path | None, model_sha256: str | None = None
) -> dict:
    """One task, one seed, a fresh score cache: what an evaluation job does after its imports."""
    from ll_hallucination_pipeline.inference.evaluate import EvalRequest, evaluate_jobs
    from ll_hallucination_pipeline.models.quantization import QuantizationSettings
    from ll_hallucination_pipeline.tasks.registry import task_data_file

    out_dir = WORK / "profile" / name
    shutil.rmtree(out_dir, ignore_errors=True)
    limit = int(os.environ["PROFILE_LIMIT"]) if "PROFILE_LIMIT" in os.environ else None
    request = EvalRequest(
        task,
        0,
        WORK / "study" / task_data_file(task),
        out_dir / "run",
        limit=limit,
        draft=limit is not None,
        max_gen_toks=int(os.environ.get("GEN_TOKS", "256")),
    )
    start = time.perf_counter()
    evaluate_jobs(
        [request],
        model_dir=model_dir,
        model_label=model_dir.name,
        quantization=QuantizationSettings(),
        cache_dir=out_dir / "cache",
        token_budget="auto",
        adapter_dir=adapter_dir,
        model_sha256=model_sha256,
    )
    scoring = json.loads((out_dir / "run/scoring.json").read_text())
    return {"wall_seconds": round(time.perf_counter() - start, 1), **scoring}


def prepare(model_dir: Path, tasks: list[str]) -> None:
    """The tasks' data files, prepared by the DAG in the study's workdir where missing."""
    from gpu_study import DATA, snakemake, write_config

    from ll_hallucination_pipeline.tasks.registry import task_data_file

    workdir = WORK / "study"
    if not all((workdir / task_data_file(task)).is_file() for task in tasks):
        write_config(workdir, "alpaca_10k_fast", DATA)
        snakemake(
            workdir, *{task_data_file(task) for task in tasks}, "--cores", "all", env={"MODEL_PATH": str(model_dir)}
        )


def passes(model_dir: Path, tasks: list[str]) -> None:
    """Each task evaluated in turn in this one process, unprofiled: its first pass pays CUDA's warm-up."""
    from ll_hallucination_pipeline.models.weights_hash import weights_sha256

    prepare(model_dir, tasks)
    model_sha256 = weights_sha256(model_dir)  # once, as the DAG's hash_base_model rule does
    for n, task in enumerate(tasks):
        scoring = evaluate_once(model_dir, task, f"pass{n}", None, model_sha256)
        record({"phase": "pass", "order": n, "task": task, **scoring})


def main(model_dir: Path, task: str, adapter_dir: Path | None = None) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    OUT.mkdir(parents=True, exist_ok=True)
    prepare(model_dir, [task])
    python_profile = cProfile.Profile()
    python_profile.enable()
    first = evaluate_once(model_dir, task, "python", adapter_dir)
    python_profile.disable()
    text = io.StringIO()
    pstats.Stats(python_profile, stream=text).sort_stats("cumulative").print_stats(45)
    label = f"{task}-{adapter_dir.name}" if adapter_dir else task
    (OUT / f"profile-python-{label}.txt").write_text(text.getvalue())
    record({"phase": "profile_python", "run": label, **first})
    print("\n".join(text.getvalue().splitlines()[:70]))

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as kernels:
        second = evaluate_once(model_dir, task, "torch", adapter_dir)
    averages = kernels.key_averages()
    table = averages.table(sort_by="cuda_time_total", row_limit=30)
    table += "\n" + averages.table(sort_by="self_cpu_time_total", row_limit=30)
    (OUT / f"profile-torch-{label}.txt").write_text(table)
    # Host syncs: each makes the CPU wait for the GPU (a decode step's stop check reads its tokens back).
    syncs = {e.key: e.count for e in averages if e.key in ("cudaStreamSynchronize", "aten::item", "cudaMemcpyAsync")}
    record({"phase": "profile_torch", "run": label, "host_syncs": syncs, **second})
    print(table)
    torch.cuda.synchronize()


if __name__ == "__main__":
    if sys.argv[2] == "passes":
        passes(Path(sys.argv[1]), sys.argv[3:])
    else:
        main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]) if len(sys.argv) > 3 else None)
