"""TruthfulQA mc1 and ARC-Challenge through the real DAG: baseline, the tiny adapter, paired tests, figure."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ll_hallucination_pipeline.stats.calibration import CALIBRATION_METRICS

pytestmark = pytest.mark.slow
NEW_TASKS = ["truthfulqa_mc1", "arc_challenge"]


def test_new_tasks_before_and_after_an_adapter(external_study: Path):
    tmp_path = external_study
    for task in NEW_TASKS:
        for stage in ("baseline", "postqlora/external-tiny_seed0"):
            results = json.loads((tmp_path / f"evals/{stage}/{task}_seed0_full/results.json").read_text())
            assert set(results["results"]) == {task} and results["n-samples"][task]["effective"] == 6
    assert (tmp_path / "data/truthfulqa.jsonl").is_file() and (tmp_path / "data/arc_challenge.jsonl").is_file()
    tests = pd.read_csv(tmp_path / "evals/compare/paired_tests.csv")
    assert set(NEW_TASKS) <= set(tests["task"])
    tests = tests[tests["task"].isin(NEW_TASKS)]
    calibration = tests["metric"].isin(CALIBRATION_METRICS)
    assert set(tests[~calibration]["test"]) == {"McNemar exact (statsmodels)"}  # both are right/wrong per item
    assert set(tests[calibration]["metric"]) == set(CALIBRATION_METRICS)
    matrix = (tmp_path / "docs/experiment_matrix.md").read_text()
    assert "arc_challenge" in matrix and "truthfulqa_mc1" in matrix
    assert "right ↔ wrong flips" in (tmp_path / "docs/qualitative_post.md").read_text()
    assert (tmp_path / "docs/figures/tradeoff_scatter.png").stat().st_size > 0
