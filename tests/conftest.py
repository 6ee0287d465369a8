"""Shared fixtures: the real data directory (a setting), tiny data subsets, the converted model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LLHP_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "arc_easy" / "test.jsonl").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}; set LLHP_SHARED_DATA")
    return SHARED_DATA


def write_subset(shared: Path, out_dir: Path, n_items: int) -> Path:
    """A data directory in the shared layout holding the first ``n_items`` of each file."""
    for rel in ("arc_easy/test.jsonl", "truthfulqa/mc_validation.jsonl", "alpaca/train.jsonl"):
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(shared / rel, encoding="utf-8") as src:
            lines = [next(src) for _ in range(n_items)]
        target.write_text("".join(lines), encoding="utf-8")
    return out_dir


@pytest.fixture(scope="session")
def tiny_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_subset(shared_data, tmp_path_factory.mktemp("tiny_data"), 6)


@pytest.fixture(scope="session")
def baseline_workdir(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real baseline DAG run once on the embedded model and 6 items per task (a few minutes)."""
    workdir = tmp_path_factory.mktemp("baseline")
    write_config(workdir, data={"source": "local", "local_dir": str(tiny_data)}, stats={"bootstrap_iterations": 500})
    done = run_snakemake(workdir, "all", "--cores", "1", "--resources", "gpu=1")
    assert done.returncode == 0, done.stderr[-4000:]
    return workdir


@pytest.fixture(scope="session")
def converted_model(baseline_workdir: Path) -> Path:
    """The checkpoint that the convert_model rule made from the embedded GGUF."""
    return baseline_workdir / "models" / "smollm2-135m-instruct"


def run_snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run this repository's Snakefile in ``workdir`` (its own config.yaml); stdout holds both streams."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=merged, check=False
    )


def write_config(workdir: Path, **sections: dict) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(json.dumps(sections, indent=2))
    return path
