"""The pre/post tables on hand-made lm-eval outputs: per training seed, pooled, Holm, identical eval seeds."""

from __future__ import annotations

import numpy as np
import pytest

from ll_hallucination_pipeline.stats.analysis import RunSet, deltas_table, paired_tests_table
from ll_hallucination_pipeline.stats.calibration import CALIBRATION_METRICS
from ll_hallucination_pipeline.stats.methods import StatsSettings
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from tests.helpers import write_run


def _without_calibration(table):
    return table[~table["metric"].isin(CALIBRATION_METRICS)]


def test_per_seed_and_pooled_rows_with_holm(runs):
    table = _without_calibration(paired_tests_table(runs, StatsSettings(n_resamples=500, seed=1)))
    per_seed = table[table["level"] == "training seed"]
    pooled = table[table["level"] == "pooled over training seeds"]
    assert len(per_seed) == 4 and len(pooled) == 2
    arc = per_seed[per_seed["task"] == "arc_easy"]
    assert set(arc["test"]) == {"McNemar exact (statsmodels)"}
    assert (arc["right_to_wrong"] == 0).all() and (arc["wrong_to_right"] > 0).all()
    tqa_pooled = pooled[pooled["task"] == "truthfulqa_mc2"].iloc[0]
    assert tqa_pooled["delta"] == pytest.approx(np.mean(per_seed[per_seed["task"] == "truthfulqa_mc2"]["delta"]))
    assert tqa_pooled["training_seed_sd"] > 0
    for _, group in per_seed.groupby("task"):  # Holm within each task, never below the raw p
        assert (group["p_holm"] >= group["p_raw"]).all()
    assert per_seed["eval_seeds_identical"].all()


def test_every_figure_of_a_delta_and_its_family(runs):
    table = _without_calibration(paired_tests_table(runs, StatsSettings(n_resamples=500, seed=1)))
    arc = table[(table["task"] == "arc_easy") & (table["level"] == "training seed")]
    assert set(arc["delta_ci_method"]) == {"Newcombe score"} and set(arc["effect_size_kind"]) == {"Cohen's g"}
    tqa = table[(table["task"] == "truthfulqa_mc2") & (table["level"] == "training seed")]
    assert set(tqa["delta_ci_method"]) == {"paired BCa"} and set(tqa["effect_size_kind"]) == {"Cohen's d_z"}
    # two adapters per family: each Bonferroni interval is at 97.5% and contains the 95% one
    seed_rows = table[table["level"] == "training seed"]
    assert seed_rows["simultaneous_method"].str.contains("Bonferroni over 2: .* at 0.975").all()
    assert (seed_rows["simultaneous_ci_low"] <= seed_rows["delta_ci_low"]).all()
    assert (seed_rows["simultaneous_ci_high"] >= seed_rows["delta_ci_high"]).all()
    assert (table["paired_se"] > 0).all() and (tqa["mde"] > 0).all()
    assert arc["mde"].isna().all()  # at most 5 changed items: no change is detectable by McNemar at 0.05
    assert table["small_n"].all()  # 40 items < 100
    assert not _without_calibration(paired_tests_table(runs, StatsSettings(n_resamples=500, small_n=40)))[
        "small_n"
    ].any()
    pooled = table[table["level"] == "pooled over training seeds"].iloc[0]
    assert pooled["n_training_seeds"] == 2 and pooled["recipe_se"] ** 2 == pytest.approx(
        pooled["training_seed_sd"] ** 2 / 2 + pooled["item_se"] ** 2
    )


def test_deltas_per_eval_seed(runs):
    deltas = _without_calibration(deltas_table(runs, StatsSettings(n_resamples=500)))
    assert len(deltas) == 2 * 3 * 2  # adapters x (tqa acc, arc acc, arc acc_norm) x eval seeds
    assert np.allclose(deltas["delta"], deltas["post"] - deltas["baseline"])
    assert (deltas["delta_ci_low"] <= deltas["delta"]).all() and (deltas["delta"] <= deltas["delta_ci_high"]).all()


def test_mismatched_items_are_refused(tmp_path):
    n = 40
    base = [write_run(tmp_path, "truthfulqa_mc2", 0, [0.5] * n)]
    post = [write_run(tmp_path, "truthfulqa_mc2", 0, [0.6] * (n - 1), "a_seed0", recipe="a", training_seed=0)]
    with pytest.raises(PipelineInputError, match="item sets differ"):
        deltas_table(RunSet.load(base, post), StatsSettings(n_resamples=200))
