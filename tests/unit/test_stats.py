import numpy as np
import pytest
from scipy.stats import bootstrap

from ll_hallucination_pipeline.stats import mean_interval


def test_matches_scipy_bca_with_same_seed():
    values = np.random.default_rng(3).binomial(1, 0.6, size=200).astype(float)
    ours = mean_interval(values, n_resamples=2000, confidence_level=0.9, seed=7)
    ref = bootstrap(
        (values,), np.mean, n_resamples=2000, confidence_level=0.9, method="BCa", rng=np.random.default_rng(7)
    )
    assert ours.estimate == pytest.approx(values.mean())
    assert ours.low == pytest.approx(ref.confidence_interval.low)
    assert ours.high == pytest.approx(ref.confidence_interval.high)
    assert ours.low < ours.estimate < ours.high


def test_identical_values_collapse_with_a_warning():
    with pytest.warns(UserWarning, match="all values are equal"):
        interval = mean_interval([1.0] * 10)
    assert (interval.low, interval.high, interval.degenerate) == (1.0, 1.0, True)


@pytest.mark.parametrize("bad", [[1.0], [1.0, float("nan")]])
def test_bad_input_raises(bad):
    with pytest.raises(ValueError, match="values"):
        mean_interval(bad)
