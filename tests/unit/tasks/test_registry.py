"""The task registry is the only place a task is described: a task added here alone flows through config
validation, data preparation, summaries, deltas, paired tests, exports and the plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ll_hallucination_pipeline.reports.exports import delta_summary, eval_card_template
from ll_hallucination_pipeline.reports.plots import tradeoff_scatter
from ll_hallucination_pipeline.reports.summary import summary_rows
from ll_hallucination_pipeline.stats.analysis import RunSet, deltas_table, paired_tests_table
from ll_hallucination_pipeline.stats.calibration import CALIBRATION_METRICS
from ll_hallucination_pipeline.stats.methods import StatsSettings
from ll_hallucination_pipeline.tasks import registry as tasks
from ll_hallucination_pipeline.tasks.data import local_source, prepare_dataset
from ll_hallucination_pipeline.tasks.results import EvalRun
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from ll_hallucination_pipeline.workflow.config import check_config
from tests.helpers import write_run

N = 30
TOY = tasks.Task(
    lm_eval_yaml="toy/toy.yaml",
    data="toy",
    metrics=("acc",),
    paired_test="mcnemar",
    label="Toy QA",
    metric_label="accuracy",
    role="knowledge",
    choices=lambda doc: doc["options"],
    correct=lambda doc: [i == doc["answer"] for i in range(len(doc["options"]))],
)


@pytest.fixture
def toy_registered(monkeypatch):
    toy_data = tasks.DataSet(split="test", local_file="toy/test.jsonl", hub=("toy/toy", None), required={"q": str})
    monkeypatch.setitem(tasks.TASKS, "toy_mc", TOY)
    monkeypatch.setitem(tasks.DATA_SETS, "toy", toy_data)


def write_study(root: Path, task_names: list[str]) -> RunSet:
    rng = np.random.default_rng(0)
    base_dirs, post_dirs = [], []
    for task in task_names:
        base = rng.integers(0, 2, N).astype(float)
        post = base.copy()
        post[:8] = 1.0
        base_dirs.append(write_run(root, task, 0, base.tolist()))
        post_dirs.append(write_run(root, task, 0, post.tolist(), "r_seed0", recipe="r", training_seed=0))
    return RunSet.load(base_dirs, post_dirs)


def test_a_task_added_to_the_registry_flows_through(toy_registered, tmp_path):
    config = check_config({"eval": {"tasks": ["toy_mc", "truthfulqa_mc2"]}})
    assert config["eval"]["tasks"] == ["toy_mc", "truthfulqa_mc2"]

    (tmp_path / "toy").mkdir()
    (tmp_path / "toy/test.jsonl").write_text('{"q": "a"}\n{"q": "b"}\n')
    manifest = prepare_dataset(
        "toy", tmp_path / "toy.jsonl", tmp_path / "toy.json", source=local_source("toy", tmp_path)
    )
    assert manifest["n_items"] == 2

    runs = write_study(tmp_path / "evals", ["toy_mc", "truthfulqa_mc2"])
    summary = summary_rows([EvalRun.load(d) for d in sorted({str(r.directory) for r in runs.baseline.values()})])
    assert set(summary["task"]) == {"toy_mc", "truthfulqa_mc2"}
    settings = StatsSettings(n_resamples=200, seed=1)
    assert "toy_mc" in set(deltas_table(runs, settings)["task"])
    tests = paired_tests_table(runs, settings)
    toy = tests[tests["task"] == "toy_mc"].iloc[0]
    assert toy["test"] == "McNemar exact (statsmodels)" and toy["wrong_to_right"] > 0
    tqa = tests[tests["task"] == "truthfulqa_mc2"].iloc[0]
    assert tqa["test"].startswith("paired bootstrap")

    summary_csv = delta_summary(tests)
    tradeoff_scatter(summary_csv, tmp_path / "fig.png", tmp_path / "fig.pdf")
    assert (tmp_path / "fig.png").stat().st_size > 0

    card = eval_card_template("pre", ["toy_mc", "truthfulqa_mc2"])
    assert "Toy QA (knowledge), TruthfulQA mc2 (truthfulness)" in card


def test_one_role_only_still_plots(tmp_path):
    runs = write_study(tmp_path / "evals", ["truthfulqa_mc1", "truthfulqa_mc2"])
    tests = paired_tests_table(runs, StatsSettings(n_resamples=200, seed=1))
    mc1 = tests[(tests["task"] == "truthfulqa_mc1") & ~tests["metric"].isin(CALIBRATION_METRICS)]
    assert set(mc1["test"]) == {"McNemar exact (statsmodels)"}
    tradeoff_scatter(delta_summary(tests), tmp_path / "fig.png", tmp_path / "fig.pdf")
    assert (tmp_path / "fig.png").stat().st_size > 0


def test_unknown_names_list_the_registry():
    with pytest.raises(PipelineInputError, match="use one of truthfulqa_mc2, truthfulqa_mc1, arc_easy, arc_challenge"):
        tasks.get_task("mmlu")
    assert tasks.task_data_file("truthfulqa_mc1") == tasks.task_data_file("truthfulqa_mc2") == "data/truthfulqa.jsonl"


def test_registered_tasks_name_lm_eval_definitions_that_exist():
    import lm_eval.tasks

    root = Path(lm_eval.tasks.__file__).parent
    for name, task in tasks.TASKS.items():
        definition = (root / task.lm_eval_yaml).read_text()
        assert f"task: {name}" in definition
        assert task.data in tasks.DATA_SETS and tasks.DATA_SETS[task.data].purpose == "evaluation"
