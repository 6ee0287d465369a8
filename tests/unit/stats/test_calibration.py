"""Calibration of multiple-choice runs: Brier against lm-eval's own, ECE on a hand-computed example, the paired
changes in the tables, the front page's warning and the reliability bins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ll_hallucination_pipeline.reports.front_page import front_page
from ll_hallucination_pipeline.stats.analysis import RunSet, calibration_tables, deltas_table, paired_tests_table
from ll_hallucination_pipeline.stats.calibration import (
    CALIBRATION_METRICS,
    CALIBRATION_SMALL_N,
    CalibrationItems,
    ece,
    ece_debiased,
    selective_accuracy,
)
from ll_hallucination_pipeline.stats.methods import StatsSettings
from ll_hallucination_pipeline.tasks.results import EvalRun
from tests.helpers import write_run


def test_brier_equals_lm_evals_brier_score(tmp_path: Path):
    from lm_eval.api.metrics import brier_score
    from scipy.special import softmax

    values = np.random.default_rng(3).uniform(0, 1, 50).tolist()
    run = EvalRun.load(write_run(tmp_path, "arc_easy", 0, values))
    lm_eval_items = [
        (0, softmax([resp[0][0] for resp in row["resps"]])) for row in run.samples()
    ]  # the first choice is the correct one
    assert CalibrationItems.of(run).brier.mean() == pytest.approx(brier_score(lm_eval_items), rel=1e-12)


def test_ece_debiased_error_and_selective_accuracy_on_a_hand_computed_example():
    confidence, right = np.array([0.9, 0.6, 0.8, 0.7]), np.array([1.0, 1.0, 1.0, 0.0])
    # two equal-mass bins: {0.6, 0.7} (mean 0.65, accuracy 0.5) and {0.8, 0.9} (mean 0.85, accuracy 1.0)
    assert ece(confidence, right, bins=2) == pytest.approx(0.5 * 0.15 + 0.5 * 0.15)
    # debiased: 0.5 * (0.15² − 0.5·0.5/1) + 0.5 * (0.15² − 0) < 0, so 0
    assert ece_debiased(confidence, right, bins=2) == 0.0
    assert ece_debiased(np.array([0.9, 0.9, 0.9, 0.9]), np.array([0.0, 0.0, 0.0, 0.0]), bins=1) == pytest.approx(0.9)
    assert selective_accuracy(confidence, right, share=0.25) == 1.0  # the 0.9 item
    assert selective_accuracy(confidence, right, share=0.75) == pytest.approx(2 / 3)  # 0.9, 0.8, 0.7
    # over a batch of resamples (the bootstrap's vectorized call) each row is its own sample
    batch = np.stack([confidence, confidence[::-1]]), np.stack([right, right[::-1]])
    assert np.allclose(ece(*batch, bins=2), [0.15, 0.15])


def _calibration_runs(tmp_path: Path, n: int) -> RunSet:
    """A base model whose confidence matches its accuracy, and an adapter as accurate but overconfident."""
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.55, 0.95, n)
    right = rng.uniform(size=n) < confidence
    base = np.where(right, confidence, 1 - confidence)  # the correct choice's probability
    overconfident = np.where(right, 0.97, 0.03)
    acc = right.astype(float).tolist()
    base_dir = write_run(tmp_path, "arc_easy", 0, acc, probabilities=base.tolist())
    post_dir = write_run(
        tmp_path, "arc_easy", 0, acc, "a_seed0", probabilities=overconfident.tolist(), recipe="a", training_seed=0
    )
    return RunSet.load([base_dir], [post_dir])


def test_an_overconfident_adapter_shows_in_the_tables_and_on_the_front_page(tmp_path: Path):
    settings = StatsSettings(n_resamples=400, seed=0)
    runs = _calibration_runs(tmp_path, 400)
    tests = paired_tests_table(runs, settings)
    calibration = tests[tests["metric"].isin(CALIBRATION_METRICS)].set_index("metric")
    assert list(calibration.index) == list(CALIBRATION_METRICS)
    assert calibration.loc["ece_10_bin", "delta"] > 0.1 and calibration.loc["ece_10_bin", "significant"]
    assert calibration.loc["brier", "delta"] > 0 and calibration.loc["brier", "significant"]
    assert not calibration["small_n"].any()  # 400 items >= 300
    accuracy = tests[tests["metric"] == "acc"].iloc[0]
    assert accuracy["delta"] == 0  # as accurate as before: only its confidence changed
    # The calibration tests are secondary: one Holm family for the task's four, not one family each.
    assert (calibration["family"] == "secondary").all() and accuracy["family"] == "confirmatory"
    assert calibration["simultaneous_method"].str.startswith("Bonferroni over 4").all()
    raw = calibration["p_raw"].sort_values()
    assert calibration.loc[raw.index[0], "p_holm"] == pytest.approx(min(1.0, 4 * raw.iloc[0]))
    # The Brier score is a mean of per-item values: it has a smallest detectable change; binned ones do not.
    assert calibration.loc["brier", "mde"] > 0 and calibration.loc[["ece_10_bin", "ece_debiased"], "mde"].isna().all()
    deltas = deltas_table(runs, settings)
    assert set(CALIBRATION_METRICS) <= set(deltas["metric"])


def test_the_front_page_warns_when_calibration_got_worse(tmp_path: Path):
    import pandas as pd

    settings = StatsSettings(n_resamples=400, seed=0)
    tests = paired_tests_table(_calibration_runs(tmp_path, 400), settings)
    intervals = pd.DataFrame({"adapter": [""], "task": ["arc_easy"], "metric": ["acc"], "seed": [0]})
    intervals["identical_to_seed"] = ""
    page = front_page("m", tests, [intervals], settings)
    assert "ARC-Easy: calibration got worse after fine-tuning" in page
    assert "ECE over 10 equal-mass bins (lower is better) rose" in page
    calm = tests[~tests["metric"].isin(["brier", "ece_10_bin"])]
    assert "calibration got worse" not in front_page("m", calm, [intervals], settings)


def test_calibration_tables_and_reliability_bins_flag_small_samples(tmp_path: Path):
    runs = _calibration_runs(tmp_path, 120)
    summary, bins = calibration_tables(runs)
    assert list(summary["model"]) == ["base", "a_seed0"]
    assert summary["small_n"].all() and (summary["n_items"] == 120).all() and CALIBRATION_SMALL_N > 120
    assert (bins.groupby("model")["n_items"].sum() == 120).all()
    top = summary.set_index("model")["top_choice_true"]
    assert top["base"] == top["a_seed0"] == pytest.approx(runs.baseline[("arc_easy", 0)].metric("acc")[0])
    assert summary["brier_definition"].str.startswith("lm-eval brier_score").all()


def test_mc2_brier_is_the_squared_error_of_the_mass_on_true_answers(tmp_path: Path):
    """By hand: log-likelihoods ln 0.5, ln 0.3, ln 0.2 with the first two true: mass on true answers 0.8, Brier
    (1 - 0.8)^2 = 0.04 (the one-hot sum over choices would give 0.25 + 0.49 + 0.04 = 0.78)."""
    import json
    import math

    from ll_hallucination_pipeline.tasks.results import EvalRun

    directory = Path(write_run(tmp_path, "truthfulqa_mc2", 0, [0.8]))
    samples = directory / "samples_truthfulqa_mc2.jsonl"
    row = json.loads(samples.read_text())
    target = {"choices": ["a", "b", "c"], "labels": [1, 1, 0]}
    row["doc"] = {"mc1_targets": target, "mc2_targets": target}
    row["resps"] = [[[math.log(p), "False"]] for p in (0.5, 0.3, 0.2)]
    samples.write_text(json.dumps(row) + "\n")
    items = CalibrationItems.of(EvalRun.load(directory))
    assert items.brier[0] == pytest.approx(0.04) and items.confidence[0] == pytest.approx(0.5) and items.right[0] == 1
