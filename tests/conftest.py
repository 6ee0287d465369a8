"""Shared fixtures: the real data directory (a setting), tiny data subsets, the converted model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, run_snakemake, run_with_external_adapter, write_config, write_subset

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
    """The real DAG run once as README command 1 runs it, on the embedded model and 6 items per task (minutes);
    its multiple-choice tasks only (a config's default): truthfulqa_gen runs through the DAG in the external study."""
    workdir = tmp_path_factory.mktemp("baseline")
    write_config(workdir, data={"source": "local", "local_dir": str(tiny_data)}, stats={"bootstrap_iterations": 500})
    done = run_snakemake(workdir, "all", "--cores", "all", "--resources", "gpu=1")
    assert done.returncode == 0, done.stdout[-4000:]
    return workdir


@pytest.fixture(scope="session")
def converted_model(baseline_workdir: Path) -> Path:
    """The checkpoint that the convert_model rule made from the embedded GGUF."""
    return baseline_workdir / "models" / "smollm2-135m-instruct"


# Every task beyond the default two, in one study: TruthfulQA mc1, ARC-Challenge, both generation tasks and the
# example own task (examples/own_task), beside TruthfulQA mc2.
EXTERNAL_STUDY_TASKS = ["truthfulqa_mc2", "truthfulqa_mc1", "arc_challenge", "truthfulqa_gen", "nq_open", "capitals"]
OWN_TASK = {"task_dirs": ["examples/own_task"], "own_tasks": {"capitals": {"label": "World capitals"}}}


@pytest.fixture(scope="session")
def external_study(baseline_workdir: Path, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real DAG run once on every other task (:data:`EXTERNAL_STUDY_TASKS`) with the baseline run's model and
    tiny adapter as $MODEL_PATH and $LORA_ADAPTER_PATH (no training): two eval seeds, 32 new tokens, the embedded
    model standing in as the judge (its verdicts mean nothing). Shared by the tests that only read it (minutes)."""
    workdir = tmp_path_factory.mktemp("external")
    shutil.copytree(REPO / "examples/own_task", workdir / "examples/own_task")
    judge = {"model": str(baseline_workdir / "models/smollm2-135m-instruct")}
    done = run_with_external_adapter(
        workdir,
        baseline_workdir,
        tiny_data,
        judge,
        tasks=EXTERNAL_STUDY_TASKS,
        seeds=[0, 1],
        max_gen_toks=32,
        **OWN_TASK,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    return workdir


@pytest.fixture(autouse=True)
def registry_as_shipped():
    """Each test starts from the built-in task registry: own tasks one test registers do not leak into the next."""
    from ll_hallucination_pipeline.tasks.registry import TASKS

    shipped = dict(TASKS)
    yield
    TASKS.clear()
    TASKS.update(shipped)
