"""The tiny DAG through `--profile profiles/slurm` on a real one-node SLURM (tests/slurm/start_slurm.sh).

The node declares one fake GPU, so GPU jobs get CUDA_VISIBLE_DEVICES=0 with no device and must run
on the CPU; the final CSVs must equal the local run's byte for byte.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from ll_hallucination_pipeline.utils.environment import torch_job_threads
from tests.helpers import REPO, run_snakemake, write_config

GPU_RULES = {"snapshot_environment", "smoke_test", "evaluate_baseline", "train_qlora", "evaluate_postqlora"}
START_SLURM = REPO / "tests" / "slurm" / "start_slurm.sh"
# The test cluster has no accounting database: status through squeue (MinJobAge=300 keeps finished jobs).
TEST_ONLY = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1"]


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    done = subprocess.run(["bash", str(START_SLURM)], capture_output=True, text=True, check=False)
    if done.returncode == 77:
        pytest.skip(f"no SLURM here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster: None, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """The same config as the local run, every job submitted with sbatch (its own, empty score cache)."""
    workdir = tmp_path_factory.mktemp("slurm")
    write_config(workdir, data={"source": "local", "local_dir": str(tiny_data)}, stats={"bootstrap_iterations": 500})
    done = run_snakemake(workdir, "all", "--profile", str(REPO / "profiles/slurm"), *TEST_ONLY, "--verbose")
    assert done.returncode == 0, done.stdout[-6000:]
    return workdir, done.stdout


def _sbatch_calls(log: str) -> dict[str, list[str]]:
    """Rule name -> the sbatch command lines the plugin ran for it."""
    calls: dict[str, list[str]] = {}
    for line in log.splitlines():
        if "sbatch call: " in line:
            call = line.split("sbatch call: ", 1)[1]
            rule = re.search(r"--comment '?rule_(\w+?)(?:_wildcards_\S*)?'? ", call).group(1)
            calls.setdefault(rule, []).append(call)
    return calls


@pytest.mark.slow
def test_slurm_run_makes_the_local_runs_csvs(slurm_run, baseline_workdir: Path):
    workdir, _ = slurm_run
    csvs = [*(baseline_workdir / "evals").rglob("*.csv"), *(baseline_workdir / "docs").rglob("*.csv")]
    local = sorted(p.relative_to(baseline_workdir) for p in csvs)
    assert Path("evals/compare/deltas.csv") in local and Path("evals/baseline/summary.csv") in local
    differ = [str(p) for p in local if (workdir / p).read_bytes() != (baseline_workdir / p).read_bytes()]
    assert differ == []


@pytest.mark.slow
def test_every_job_went_through_slurm_and_fell_back_to_the_cpu(slurm_run):
    workdir, log = slurm_run
    calls = _sbatch_calls(log)
    assert GPU_RULES | {"convert_model", "prepare_data", "summarize_baseline", "compare_prepost"} <= set(calls)
    assert "CUDA_VISIBLE_DEVICES: 0" in (workdir / "docs/torch_env.txt").read_text()
    results = json.loads((workdir / "evals/baseline/arc_easy_seed0_full/results.json").read_text())
    assert results["pipeline"]["device"] == "cpu"


@pytest.mark.slow
def test_gpu_rules_ask_for_exactly_one_gpu(slurm_run):
    _, log = slurm_run
    for rule, calls in _sbatch_calls(log).items():
        for call in calls:
            gpu_args = re.findall(r"--(?:gpus|gres|gpus-per-\w+)[= ]\S+", call)
            assert gpu_args == (["--gpus=1"] if rule in GPU_RULES else []), (rule, call)


@pytest.mark.slow
def test_torch_jobs_ask_for_their_threads_and_use_them(slurm_run):
    workdir, log = slurm_run
    torch_threads = torch_job_threads()
    for rule, calls in _sbatch_calls(log).items():
        for call in calls:
            cpus = re.findall(r"--cpus-per-task[= ](\d+)", call)
            assert cpus == [str(torch_threads if rule in GPU_RULES else 1)], (rule, call)
    assert f"cpu threads (torch): {torch_threads}\n" in (workdir / "docs/torch_env.txt").read_text()
