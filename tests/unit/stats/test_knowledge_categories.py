"""Deltas and paired tests per knowledge category of the test items, and Gekhman et al.'s linear model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ll_hallucination_pipeline.stats.analysis import RunSet, deltas_table, paired_tests_table
from ll_hallucination_pipeline.stats.knowledge_fit import fit_points, gekhman_fit
from ll_hallucination_pipeline.stats.methods import StatsSettings
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from tests.helpers import write_run

S = StatsSettings(n_resamples=200)
# 40 items: the first 20 HighlyKnown (all lost by adapter a), the next 20 Unknown (unchanged).
CATEGORIES = ["HighlyKnown"] * 20 + ["Unknown"] * 20
BASE = [1.0] * 20 + [0.0, 1.0] * 10


@pytest.fixture
def runs(tmp_path) -> RunSet:
    base = [write_run(tmp_path, "arc_easy", 0, BASE)]
    post = [
        write_run(tmp_path, "arc_easy", 0, [0.0] * 20 + BASE[20:], f"{a}_seed0", recipe=a, training_seed=0)
        for a in ("a", "b")
    ]
    return RunSet.load(base, post)


def test_each_category_gets_its_own_rows_and_family(runs):
    tests = paired_tests_table(runs, S, {"arc_easy": CATEGORIES})
    whole = tests[tests["category"].isna() & (tests["metric"] == "acc") & (tests["level"] == "training seed")]
    by_category = tests[tests["category"].notna()].set_index(["adapter", "category"])
    assert len(whole) == 2 and set(by_category.index) == {
        (f"{a}_seed0", c) for a in "ab" for c in ("HighlyKnown", "Unknown")
    }
    known = by_category.loc[("a_seed0", "HighlyKnown")]
    assert (known["n_items"], known["baseline"], known["post"], known["right_to_wrong"]) == (20, 1.0, 0.0, 20)
    assert by_category.loc[("a_seed0", "Unknown")]["delta"] == 0.0
    # Holm over the two adapters within the category, not over every row of the task.
    p = by_category.loc[("a_seed0", "HighlyKnown")]
    assert p["p_holm"] == pytest.approx(min(1.0, 2 * p["p_raw"])) and "Bonferroni over 2" in p["simultaneous_method"]


def test_deltas_get_a_row_per_category_and_none_without_categories(runs):
    rows = deltas_table(runs, S, {"arc_easy": CATEGORIES})
    assert set(rows["category"].dropna()) == {"HighlyKnown", "Unknown"}
    assert "category" not in deltas_table(runs, S).columns
    assert "category" not in paired_tests_table(runs, S).columns


def test_a_probe_of_fewer_items_than_the_evaluation_is_refused(runs):
    with pytest.raises(PipelineInputError, match="probe the task's data file again"):
        paired_tests_table(runs, S, {"arc_easy": CATEGORIES[:10]})


def _curves(known_effect: float, unknown_effect: float) -> pd.DataFrame:
    """Learning curves of two mixes whose held-out accuracy follows the linear model exactly (plus rounding)."""
    rng = np.random.default_rng(0)
    rows = []
    for adapter, unknown_share in (("m0", 0.0), ("m1", 1.0), ("m5", 0.5)):
        for step in range(6):
            fitted_known, fitted_unknown = rng.integers(0, 51, size=2)
            known = int(round(100 * (1 - unknown_share)))
            fitted_known, fitted_unknown = min(fitted_known, known), min(fitted_unknown, 100 - known)
            accuracy = 0.3 + known_effect * fitted_known / 100 + unknown_effect * fitted_unknown / 100
            rows += [
                {"adapter": adapter, "step": step, "split": "train", "category": "HighlyKnown",
                 "examples": known, "fitted": fitted_known},
                {"adapter": adapter, "step": step, "split": "train", "category": "Unknown",
                 "examples": 100 - known, "fitted": fitted_unknown},
                {"adapter": adapter, "step": step, "split": "heldout", "category": "Unknown",
                 "examples": 1000, "fitted": round(1000 * accuracy)},
            ]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_linear_model_recovers_its_coefficients_in_points():
    points = fit_points(_curves(0.073, -0.083))
    assert len(points) == 18 and points["unknown_fitted_share"].between(0, 0.5).all()
    fit = gekhman_fit(points, 0.95).set_index("term")
    assert fit.loc["known_fitted_share", "coefficient"] == pytest.approx(7.3, abs=0.1)
    assert fit.loc["unknown_fitted_share", "coefficient"] == pytest.approx(-8.3, abs=0.1)
    assert fit.loc["intercept", "coefficient"] == pytest.approx(30, abs=0.1) and fit["r_squared"].iloc[0] > 0.99
    assert (fit["ci_low"] < fit["coefficient"]).all() and (fit["coefficient"] < fit["ci_high"]).all()


def test_the_linear_model_is_not_estimable_from_too_few_points():
    points = fit_points(_curves(0.07, -0.08)).head(3)
    fit = gekhman_fit(points, 0.95)
    assert not fit["estimable"].any() and fit["coefficient"].isna().all() and (fit["points"] == 3).all()
