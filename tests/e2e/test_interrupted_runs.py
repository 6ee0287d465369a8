"""kill -9 of README command 1 during evaluation, training and analysis; after each, the README's own recovery
(`snakemake --unlock`, then the same command) finishes the study with the uninterrupted run's numbers.

The run starts from a copy of the uninterrupted study with everything from the evaluations on removed (the score
cache too): the converted model, data, environment snapshot and smoke test are kept, as a killed run keeps them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import REPO, run_snakemake

pytestmark = pytest.mark.slow
COMMAND = ["all", "--cores", "all", "--resources", "gpu=1"]
FINAL_CSVS = [
    "evals/baseline/summary.csv",
    "evals/baseline/bootstrap_ci.csv",
    "evals/postqlora/summary.csv",
    "evals/compare/deltas.csv",
    "evals/compare/paired_tests.csv",
    "docs/delta_summary.csv",
]


def run_until(workdir: Path, ready: Callable[[], bool], timeout: float = 600) -> None:
    """Start README command 1 in ``workdir`` and kill -9 it (with every job it started) once ``ready()``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *COMMAND]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the run ended before the point it was to be killed at"
        assert time.monotonic() < deadline, "the kill point was never reached"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def recover(workdir: Path) -> None:
    """The README's lines for a killed run: unlock once (no other run uses the directory)."""
    assert run_snakemake(workdir, "--unlock").returncode == 0


def contains(path: Path, text: str) -> Callable[[], bool]:
    return lambda: path.is_file() and text in path.read_text()


def started_from_its_first_evaluation(baseline_workdir: Path, workdir: Path) -> None:
    """A copy of the finished study (mtimes and Snakemake's records kept) without what the evaluations and the
    steps after them wrote, their logs and the score cache."""
    shutil.copytree(baseline_workdir, workdir, symlinks=True, dirs_exist_ok=True)
    for name in ("evals", "adapters", "logs", "benchmarks", "cache", "docs/figures"):
        shutil.rmtree(workdir / name)
    kept = {"nvidia-smi.txt", "torch_env.txt", "smoke_test.json"}  # what the first jobs wrote into docs/
    for path in (workdir / "docs").iterdir():
        if path.is_file() and path.name not in kept:
            path.unlink()


def test_killed_three_times_then_finished(baseline_workdir: Path, tmp_path: Path):
    started_from_its_first_evaluation(baseline_workdir, tmp_path)
    to_run = set(re.findall(r"^rule (\w+):", run_snakemake(tmp_path, "all", "-n").stdout, flags=re.MULTILINE))
    assert "evaluate_baseline" in to_run and not to_run & {"convert_model", "smoke_test", "prepare_data"}
    run_until(tmp_path, contains(tmp_path / "logs/evaluate_baseline.log", "model loaded"))
    recover(tmp_path)
    run_until(tmp_path, lambda: any((tmp_path / "adapters/.work").glob("*/checkpoint-*/trainer_state.json")))
    recover(tmp_path)
    run_until(tmp_path, lambda: (tmp_path / "logs/compare_prepost.log").is_file())
    recover(tmp_path)
    done = run_snakemake(tmp_path, *COMMAND)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "resuming from" in (tmp_path / "logs/train_qlora/tiny_seed0.log").read_text()
    for name in FINAL_CSVS:
        assert (tmp_path / name).read_bytes() == (baseline_workdir / name).read_bytes(), name
    assert run_snakemake(tmp_path, "all", "-n").stdout.count("Nothing to be done") == 1
