"""Confidence intervals over items, computed with ``scipy.stats.bootstrap``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval.

    degenerate is True when every resample is equal (e.g. all items identical), so the
    interval collapses to the estimate instead of being NaN.
    """

    estimate: float
    low: float
    high: float
    standard_error: float
    n: int
    method: str
    degenerate: bool = False


def _bootstrap_iv(values: Sequence[float], n_resamples: int, confidence_level: float) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or data.size < 2:
        raise ValueError(f"values must be a 1-d sequence of at least 2 numbers; got shape {data.shape}")
    if not np.isfinite(data).all():
        raise ValueError("values contain NaN or infinity; drop or fix those items first")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1; got {n_resamples}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}")
    return data


def mean_interval(
    values: Sequence[float],
    *,
    n_resamples: int = 10_000,
    confidence_level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> Interval:
    """BCa bootstrap interval of the mean of per-item ``values``.

    Examples
    --------
    >>> iv = mean_interval([0, 1, 1, 0, 1, 1, 1, 0], n_resamples=2000, seed=1)
    >>> iv.low < iv.estimate < iv.high
    True
    """
    from scipy.stats import bootstrap

    data = _bootstrap_iv(values, n_resamples, confidence_level)
    estimate = float(data.mean())
    if np.all(data == data[0]):
        warnings.warn("all values are equal; the interval collapses to the estimate", stacklevel=2)
        return Interval(estimate, estimate, estimate, 0.0, data.size, "BCa", degenerate=True)
    result = bootstrap(
        (data,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence_level,
        method="BCa",
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    ci = result.confidence_interval
    return Interval(estimate, float(ci.low), float(ci.high), float(result.standard_error), data.size, "BCa")
