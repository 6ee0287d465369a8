import numpy as np
import pytest
from scipy.stats import binomtest, bootstrap
from statsmodels.stats.multitest import multipletests

from ll_hallucination_pipeline.compare import holm, join_items, mcnemar_correctness, paired_bootstrap, unique_by_hash
from ll_hallucination_pipeline.errors import PipelineInputError


def correctness(pairs: dict[tuple[int, int], int]) -> tuple[np.ndarray, np.ndarray]:
    base, post = [], []
    for (b, p), count in pairs.items():
        base += [b] * count
        post += [p] * count
    return np.array(base), np.array(post)


def test_mcnemar_few_discordant_pairs_is_the_exact_binomial():
    base, post = correctness({(1, 1): 40, (1, 0): 1, (0, 1): 5, (0, 0): 10})
    result = mcnemar_correctness(base, post)
    assert (result.both_right, result.base_only, result.post_only, result.both_wrong) == (40, 1, 5, 10)
    assert result.pvalue == pytest.approx(binomtest(1, 6, 0.5).pvalue)  # 2 * P(X <= 1 | n=6) = 0.21875
    assert result.pvalue == pytest.approx(0.21875)


def test_mcnemar_without_discordant_pairs_is_not_significant():
    base, post = correctness({(1, 1): 30, (0, 0): 12})
    result = mcnemar_correctness(base, post)
    assert (result.base_only, result.post_only) == (0, 0)
    assert result.pvalue == pytest.approx(1.0)


def test_paired_bootstrap_matches_scipy_and_detects_a_shift():
    rng = np.random.default_rng(0)
    base = rng.uniform(size=300)
    post = base + 0.05 + rng.normal(0, 0.1, size=300)
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
    assert ours.mean_difference == pytest.approx(np.mean(post - base))
    assert (ours.low, ours.high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    assert ours.pvalue < 0.001 and ours.low > 0


def test_paired_bootstrap_no_difference_gives_large_p():
    rng = np.random.default_rng(1)
    base = rng.uniform(size=200)
    post = base + rng.normal(0, 0.1, size=200)
    post -= np.mean(post - base)  # exactly zero mean difference
    assert paired_bootstrap(base, post, n_resamples=2000, seed=1).pvalue > 0.9


@pytest.mark.slow
def test_paired_bootstrap_ci_covers_the_true_difference_93_to_97_percent():
    rng = np.random.default_rng(2026)
    true_delta, reps, covered = 0.03, 400, 0
    for _ in range(reps):
        base = rng.beta(2, 2, size=150)
        post = np.clip(base + true_delta + rng.normal(0, 0.15, size=150), -1, 2)
        # the population mean of the noise is 0 and clipping is negligible at these values
        result = paired_bootstrap(base, post, n_resamples=1000, seed=rng)
        covered += result.low <= true_delta <= result.high
    assert 0.93 <= covered / reps <= 0.97, covered / reps


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.2]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert holm([]) == []


def test_join_refuses_mismatched_or_duplicated_items():
    with pytest.raises(PipelineInputError, match="item sets differ .1 only in baseline, 0 only after QLoRA"):
        join_items({"a": 1.0, "b": 0.0}, {"a": 1.0}, label="arc")
    base, post = join_items({"b": 0.0, "a": 1.0}, {"a": 0.5, "b": 0.25}, label="arc")
    assert base.tolist() == [1.0, 0.0] and post.tolist() == [0.5, 0.25]
    with pytest.raises(PipelineInputError, match="doc_hash x occurs twice"):
        unique_by_hash([{"doc_hash": "x"}, {"doc_hash": "x"}], label="arc")
