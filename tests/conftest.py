"""Shared fixtures: the real data directory (a setting), tiny data subsets, the converted model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import REPO, run_snakemake, write_config, write_subset

SHARED_DATA = Path(os.environ.get("LLHP_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "arc_easy" / "test.jsonl").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}; set LLHP_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_subset(shared_data, tmp_path_factory.mktemp("tiny_data"), 6)


@pytest.fixture(scope="session")
def baseline_workdir(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real DAG run once as README command 1 runs it, on the embedded model and 6 items per task (minutes)."""
    workdir = tmp_path_factory.mktemp("baseline")
    write_config(workdir, data={"source": "local", "local_dir": str(tiny_data)}, stats={"bootstrap_iterations": 500})
    done = run_snakemake(workdir, "all", "--cores", "all", "--resources", "gpu=1")
    assert done.returncode == 0, done.stdout[-4000:]
    return workdir


@pytest.fixture(scope="session")
def converted_model(baseline_workdir: Path) -> Path:
    """The checkpoint that the convert_model rule made from the embedded GGUF."""
    return baseline_workdir / "models" / "smollm2-135m-instruct"


@pytest.fixture(autouse=True)
def registry_as_shipped():
    """Each test starts from the built-in task registry: own tasks one test registers do not leak into the next."""
    from ll_hallucination_pipeline.tasks.registry import TASKS

    shipped = dict(TASKS)
    yield
    TASKS.clear()
    TASKS.update(shipped)
