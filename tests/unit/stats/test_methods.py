"""Every figure of the statistics module against its reference implementation (scipy, statsmodels) or a
published worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import binomtest, bootstrap, norm, sem, ttest_rel
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import normal_power, ttest_power
from statsmodels.stats.weightstats import DescrStatsW

from ll_hallucination_pipeline.stats.methods import (
    PairedTable,
    bonferroni_level,
    cohens_dz,
    cohens_g,
    holm,
    mcnemar_exact,
    mde_mcnemar,
    mde_paired_t,
    mde_t,
    mean_interval,
    paired_bootstrap,
    paired_clt_interval,
    paired_score_interval,
    paired_standard_error,
    recipe_interval,
)


def right_wrong(both_right: int, right_to_wrong: int, wrong_to_right: int, both_wrong: int):
    """Base and post 0/1 vectors with the given paired table."""
    cells = [(1, 1, both_right), (1, 0, right_to_wrong), (0, 1, wrong_to_right), (0, 0, both_wrong)]
    base = np.array([b for b, _, k in cells for _ in range(k)], dtype=float)
    post = np.array([p for _, p, k in cells for _ in range(k)], dtype=float)
    return base, post


def continuous(n: int = 300, shift: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(size=n)
    return base, base + shift + rng.normal(0, 0.1, size=n)


def test_mean_interval_matches_scipy_bca_with_same_seed():
    values = np.random.default_rng(3).binomial(1, 0.6, size=200).astype(float)
    ours = mean_interval(values, n_resamples=2000, confidence_level=0.9, seed=7)
    ref = bootstrap(
        (values,), np.mean, n_resamples=2000, confidence_level=0.9, method="BCa", rng=np.random.default_rng(7)
    )
    assert ours.estimate == pytest.approx(values.mean())
    assert (ours.low, ours.high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    assert ours.low < ours.estimate < ours.high


def test_data_without_spread_collapse_the_methods_that_estimate_it():
    interval = mean_interval([1.0] * 10)
    assert (interval.low, interval.high, interval.degenerate) == (1.0, 1.0, True)
    base = np.linspace(0, 1, 10)
    boot = paired_bootstrap(base, base + 0.1)
    assert (boot.interval.low, boot.interval.high, boot.interval.degenerate, boot.pvalue) == pytest.approx(
        (0.1, 0.1, True, 0.0)
    )
    assert paired_clt_interval(base, base).degenerate
    score = paired_score_interval(*right_wrong(10, 0, 0, 10))  # nothing changed, yet the truth is uncertain
    assert score.low < 0 < score.high and not score.degenerate


@pytest.mark.parametrize(
    ("arrays", "kwargs", "message"),
    [
        (([1.0],), {}, "at least 2 numbers"),
        (([1.0, float("nan")],), {}, "NaN or infinity"),
        (([0.0, 1.0], [1.0, 0.0, 1.0]), {}, "equal lengths"),
        (([0.0, 0.5], [1.0, 0.0]), {"right_wrong": True}, "must be 0 or 1"),
    ],
)
def test_one_validation_for_every_function(arrays, kwargs, message):
    from ll_hallucination_pipeline.stats.methods import checked

    with pytest.raises(ValueError, match=message):
        checked(*arrays, **kwargs)
    with pytest.raises(ValueError, match=message):  # and the functions use it
        (paired_score_interval if kwargs else mean_interval if len(arrays) == 1 else paired_bootstrap)(*arrays)


def test_paired_bootstrap_matches_scipy_and_detects_a_shift():
    base, post = continuous()
    ours = paired_bootstrap(base, post, n_resamples=2000, seed=3)
    ref = bootstrap(
        (base, post),
        lambda x, y, axis=-1: np.mean(y - x, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=2000,
        method="BCa",
        rng=np.random.default_rng(3),
    )
    assert ours.interval.estimate == pytest.approx(np.mean(post - base))
    assert (ours.interval.low, ours.interval.high) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high)
    )
    assert ours.pvalue < 0.001 and ours.interval.low > 0


def test_paired_bootstrap_no_difference_gives_large_p():
    base, post = continuous(200, 0.0, seed=1)
    post -= np.mean(post - base)  # exactly zero mean difference
    assert paired_bootstrap(base, post, n_resamples=2000, seed=1).pvalue > 0.9


def test_paired_standard_error_and_clt_interval_match_scipy_and_statsmodels():
    base, post = continuous(seed=2)
    assert paired_standard_error(base, post) == pytest.approx(sem(post - base))
    clt = paired_clt_interval(base, post, confidence_level=0.9)
    assert (clt.low, clt.high) == pytest.approx(DescrStatsW(post - base).zconfint_mean(alpha=0.1))
    assert clt.standard_error == pytest.approx(sem(post - base))


def test_score_interval_matches_the_published_example():
    # Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. (2012): the Newcombe square-and-add interval is
    # -0.0621 (-0.1186 to -0.0046); their first margin is our "after", their second our "before".
    interval = paired_score_interval(*right_wrong(59, 16, 6, 80))
    assert (interval.estimate, interval.low, interval.high) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)


def test_mcnemar_few_discordant_pairs_is_the_exact_binomial():
    result = mcnemar_exact(*right_wrong(40, 1, 5, 10))
    assert result.table == PairedTable(40, 1, 5, 10)
    assert result.pvalue == pytest.approx(binomtest(1, 6, 0.5).pvalue) == pytest.approx(0.21875)
    assert mcnemar_exact(*right_wrong(30, 0, 0, 12)).pvalue == pytest.approx(1.0)


def test_holm_and_bonferroni():
    p = [0.01, 0.04, 0.03, 0.2]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert holm([]) == []
    assert bonferroni_level(0.95, 4) == pytest.approx(0.9875)
    with pytest.raises(ValueError, match="family_size"):
        bonferroni_level(0.95, 0)


def test_effect_sizes():
    base, post = continuous(seed=4)
    assert cohens_dz(base, post) == pytest.approx(ttest_rel(post, base).statistic / math.sqrt(base.size))
    assert math.isnan(cohens_dz(base, base + 0.1))
    assert cohens_g(*right_wrong(40, 2, 6, 10)) == pytest.approx(6 / 8 - 0.5)
    assert math.isnan(cohens_g(*right_wrong(40, 0, 0, 10)))


def test_mde_paired_t_has_the_asked_power_in_statsmodels_and_in_simulation():
    n, sd = 120, 0.2
    mde = mde_paired_t(n, sd, alpha=0.05, power=0.8)
    assert ttest_power(mde / sd, n, 0.05) == pytest.approx(0.8, abs=1e-6)
    rng = np.random.default_rng(5)
    diffs = rng.normal(mde, sd, size=(2000, n))
    rejected = np.mean(ttest_rel(diffs, np.zeros_like(diffs), axis=1).pvalue < 0.05)
    assert 0.77 <= rejected <= 0.83
    assert math.isnan(mde_paired_t(n, 0.0))


def test_mde_mcnemar_has_the_asked_power_against_statsmodels_mcnemar():
    n, discordant = 817, 120
    mde = mde_mcnemar(n, discordant, alpha=0.05, power=0.8)
    psi = discordant / n
    rng = np.random.default_rng(6)
    tables = rng.multinomial(n, [(psi - mde) / 2, (psi + mde) / 2, 1 - psi], size=2000)
    rejected = np.mean([mcnemar([[0, b], [c, 0]], exact=True).pvalue < 0.05 for b, c, _ in tables])
    assert 0.77 <= rejected <= 0.83
    # Connor (1987)'s normal approximation of the same test: a little smaller, as the exact test is conservative
    za, zb = norm.ppf(0.975), norm.ppf(0.8)
    connor = brentq(lambda d: (za * math.sqrt(psi) + zb * math.sqrt(psi - d**2)) ** 2 / d**2 - n, 1e-4, psi)
    assert connor < mde < connor * 1.06
    assert math.isnan(mde_mcnemar(n, 5))  # five changed items can never reach p < 0.05
    assert math.isnan(mde_mcnemar(n, 0))


def test_mde_t_is_the_normal_power_solution_at_large_df():
    mde = mde_t(0.01, 1e7, alpha=0.05, power=0.8)
    assert normal_power(mde / 0.01, 1, 0.05) == pytest.approx(0.8, abs=1e-3)
    assert math.isnan(mde_t(0.0, 10))


def test_recipe_interval_adds_training_noise_to_item_resampling():
    from scipy.stats import t

    only_items = recipe_interval([0.02, 0.02, 0.02], 0.01, 300)
    q = t.ppf(0.975, 299)
    assert (only_items.interval.low, only_items.interval.high) == pytest.approx((0.02 - q * 0.01, 0.02 + q * 0.01))
    assert only_items.degrees_of_freedom == pytest.approx(299)
    both = recipe_interval([0.01, 0.03, 0.05], 0.01, 300)
    assert both.training_seed_sd == pytest.approx(0.02)
    assert both.interval.standard_error == pytest.approx(math.sqrt(0.02**2 / 3 + 0.01**2))
    assert 2 < both.degrees_of_freedom < 299
    assert both.interval.high - both.interval.low > only_items.interval.high - only_items.interval.low
