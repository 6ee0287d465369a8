"""Statistics of per-item evaluation values: intervals, paired tests, effect sizes, power.

One policy for every function here. Inputs go through :func:`checked`: 1-d, finite, at least two items, pairs of
equal length, 0/1 where a right/wrong method needs it; anything else raises ``ValueError`` naming the problem.
Where a method estimates the spread from the data (bootstrap, CLT, the recipe's t) and the data have none (every
value, or every paired difference, equal), its interval collapses to the estimate with ``degenerate=True`` and its
p-value is 1 (no difference) or 0: never NaN, a warning or an exception. The score interval needs no spread and is
always computed. A quantity that does not exist for the data (an effect size without spread, the smallest
detectable change where no change can be detected) is NaN.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class StatsSettings:
    """The ``stats`` section of the config: bootstrap, confidence level, power and the small-sample threshold."""

    n_resamples: int = 10_000
    confidence_level: float = 0.95
    seed: int = 0
    power: float = 0.8
    small_n: int = 100

    @classmethod
    def from_config(cls, stats: dict) -> StatsSettings:
        return cls(
            stats["bootstrap_iterations"], stats["confidence_level"], stats["seed"], stats["power"], stats["small_n"]
        )

    @property
    def alpha(self) -> float:
        return 1 - self.confidence_level


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval; ``standard_error`` is NaN for methods that have none."""

    estimate: float
    low: float
    high: float
    n: int
    method: str
    standard_error: float = math.nan
    degenerate: bool = False


def checked(*arrays: ArrayLike, right_wrong: bool = False) -> list[np.ndarray]:
    """The arrays as float vectors after the module's one validation (see the module docstring)."""
    out = [np.asarray(a, dtype=float) for a in arrays]
    for a in out:
        if a.ndim != 1 or a.size < 2:
            raise ValueError(f"values must be a 1-d sequence of at least 2 numbers; got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError("values contain NaN or infinity; drop or fix those items first")
        if right_wrong and not np.isin(a, (0.0, 1.0)).all():
            raise ValueError("right/wrong values must be 0 or 1; use the continuous methods for other metrics")
    if len({a.size for a in out}) > 1:
        raise ValueError(f"paired values must have equal lengths; got {[a.size for a in out]}")
    return out


def _check_level(confidence_level: float) -> float:
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level}")
    return confidence_level


def _no_spread(values: np.ndarray) -> bool:
    """Every value equal, up to float rounding (1e-12 of the largest magnitude)."""
    return float(np.ptp(values)) <= 1e-12 * max(1.0, float(np.max(np.abs(values))))


def _collapsed(estimate: float, n: int, method: str) -> Interval:
    return Interval(estimate, estimate, estimate, n, method, 0.0, degenerate=True)


def _bca(
    data: tuple[np.ndarray, ...], statistic, *, n_resamples: int, confidence_level: float, seed, paired: bool
):  # -> scipy BootstrapResult
    from scipy.stats import bootstrap

    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1; got {n_resamples}")
    return bootstrap(
        data,
        statistic,
        paired=paired,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=_check_level(confidence_level),
        method="BCa",
        rng=np.random.default_rng(seed),
    )


def mean_interval(
    values: ArrayLike, *, n_resamples: int = 10_000, confidence_level: float = 0.95, seed: int | np.random.Generator = 0
) -> Interval:
    """BCa bootstrap interval (``scipy.stats.bootstrap``) of the mean of per-item ``values``.

    Examples
    --------
    >>> iv = mean_interval([0, 1, 1, 0, 1, 1, 1, 0], n_resamples=2000, seed=1)
    >>> iv.low < iv.estimate < iv.high
    True
    """
    (data,) = checked(values)
    estimate = float(data.mean())
    if _no_spread(data):
        return _collapsed(estimate, data.size, "BCa")
    result = _bca((data,), np.mean, n_resamples=n_resamples, confidence_level=confidence_level, seed=seed, paired=False)
    ci = result.confidence_interval
    return Interval(estimate, float(ci.low), float(ci.high), data.size, "BCa", float(result.standard_error))


@dataclass(frozen=True)
class BootstrapTest:
    """Paired bootstrap interval of the mean difference (post − base) and its two-sided p-value."""

    interval: Interval
    pvalue: float


def paired_bootstrap(
    base: ArrayLike,
    post: ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence_level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> BootstrapTest:
    """Paired BCa bootstrap (``scipy.stats.bootstrap``, ``paired=True``) of the mean difference.

    The p-value inverts the bootstrap: the share of resampled means, centred on the observed one, at least as far
    from it as the observed mean is from zero (two-sided).
    """
    b, p = checked(base, post)
    diff = p - b
    observed = float(diff.mean())
    if _no_spread(diff):
        return BootstrapTest(_collapsed(observed, diff.size, "paired BCa"), 1.0 if abs(observed) <= 1e-12 else 0.0)

    def mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(y - x, axis=axis)

    result = _bca(
        (b, p), mean_difference, n_resamples=n_resamples, confidence_level=confidence_level, seed=seed, paired=True
    )
    centred = result.bootstrap_distribution - observed
    pvalue = (1 + np.sum(np.abs(centred) >= abs(observed))) / (centred.size + 1)
    ci = result.confidence_interval
    interval = Interval(observed, float(ci.low), float(ci.high), diff.size, "paired BCa", float(result.standard_error))
    return BootstrapTest(interval, float(pvalue))


@dataclass(frozen=True)
class StatisticBootstrap:
    """The resamples of a paired bootstrap of ``statistic(*post) − statistic(*base)``, drawn once: its test at any
    confidence level comes from the same resamples (scipy's ``bootstrap_result``), so a Bonferroni level costs only
    the jackknife, and gives what a fresh bootstrap with the same seed would."""

    columns: tuple[np.ndarray, ...]
    split: int
    statistic: Callable[..., np.ndarray]
    observed: float
    result: Any  # scipy's BootstrapResult, None where post equals base

    def difference(self, *resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        moved = [np.moveaxis(c, axis, -1) for c in resampled]
        return self.statistic(*moved[self.split :]) - self.statistic(*moved[: self.split])

    def test(self, confidence_level: float) -> BootstrapTest:
        """The BCa interval at ``confidence_level`` and the two-sided p-value (:func:`paired_bootstrap`'s)."""
        from scipy.stats import bootstrap

        n = self.columns[0].size
        if self.result is None:
            return BootstrapTest(_collapsed(self.observed, n, "paired BCa"), 1.0)
        distribution = self.result.bootstrap_distribution
        if _no_spread(distribution):
            return BootstrapTest(
                _collapsed(self.observed, n, "paired BCa"), 1.0 if abs(self.observed) <= 1e-12 else 0.0
            )
        with warnings.catch_warnings():  # a binned statistic's jackknife may not vary: BCa is then undefined
            warnings.simplefilter("ignore")
            result = bootstrap(
                self.columns, self.difference, paired=True, vectorized=True, n_resamples=0, method="BCa",
                confidence_level=_check_level(confidence_level), bootstrap_result=self.result,
            )  # fmt: skip
        pvalue = (1 + np.sum(np.abs(distribution - self.observed) >= abs(self.observed))) / (distribution.size + 1)
        low, high, method = float(result.confidence_interval.low), float(result.confidence_interval.high), "paired BCa"
        if not (math.isfinite(low) and math.isfinite(high)):
            tail = 50 * (1 - confidence_level)
            low, high = (float(x) for x in np.percentile(distribution, [tail, 100 - tail]))
            method = "paired percentile (BCa undefined)"
        return BootstrapTest(Interval(self.observed, low, high, n, method, float(result.standard_error)), float(pvalue))


def statistic_bootstrap(
    base: Sequence[ArrayLike],
    post: Sequence[ArrayLike],
    statistic: Callable[..., np.ndarray],
    *,
    n_resamples: int = 10_000,
    seed: int | np.random.Generator = 0,
) -> StatisticBootstrap:
    """Resample items together across both models and all columns (confidence and rightness, for a calibration
    error), for a statistic that is not a mean; ``statistic`` reduces the last axis."""
    columns = checked(*base, *post)
    split = len(base)
    observed = float(statistic(*columns[split:]) - statistic(*columns[:split]))
    drawn = StatisticBootstrap(tuple(columns), split, statistic, observed, None)
    if all(np.array_equal(b, p) for b, p in zip(columns[:split], columns[split:], strict=True)):
        return drawn
    from scipy.stats import bootstrap

    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1; got {n_resamples}")
    # The percentile method draws the same resamples as BCa without its jackknife, which test() runs per level.
    result = bootstrap(
        tuple(columns), drawn.difference, paired=True, vectorized=True, n_resamples=n_resamples, method="percentile",
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    return dataclasses.replace(drawn, result=result)


def paired_standard_error(base: ArrayLike, post: ArrayLike) -> float:
    """Standard error of the mean per-item difference: sd(post − base, ddof=1) / √n."""
    b, p = checked(base, post)
    return float(np.std(p - b, ddof=1) / math.sqrt(b.size))


def paired_clt_interval(base: ArrayLike, post: ArrayLike, *, confidence_level: float = 0.95) -> Interval:
    """Mean difference ± z·SE, the CLT interval of Miller (2024), "Adding Error Bars to Evals"."""
    from scipy.stats import norm

    b, p = checked(base, post)
    estimate, se = float(np.mean(p - b)), paired_standard_error(b, p)
    if _no_spread(p - b):
        return _collapsed(estimate, b.size, "CLT")
    z = float(norm.ppf(0.5 + _check_level(confidence_level) / 2))
    return Interval(estimate, estimate - z * se, estimate + z * se, b.size, "CLT", se)


@dataclass(frozen=True)
class PairedTable:
    """Paired right/wrong counts: both right, right only before, right only after, both wrong."""

    both_right: int
    right_to_wrong: int
    wrong_to_right: int
    both_wrong: int

    @classmethod
    def of(cls, base: ArrayLike, post: ArrayLike) -> PairedTable:
        b, p = (a.astype(bool) for a in checked(base, post, right_wrong=True))
        return cls(int(np.sum(b & p)), int(np.sum(b & ~p)), int(np.sum(~b & p)), int(np.sum(~b & ~p)))

    @property
    def n(self) -> int:
        return self.both_right + self.right_to_wrong + self.wrong_to_right + self.both_wrong

    @property
    def discordant(self) -> int:
        return self.right_to_wrong + self.wrong_to_right


def paired_score_interval(base: ArrayLike, post: ArrayLike, *, confidence_level: float = 0.95) -> Interval:
    """Newcombe's (1998, method 10) score interval for a paired difference of right/wrong proportions.

    Wilson intervals of the two accuracies (statsmodels), combined with the continuity-corrected correlation of
    the paired table. It holds its level at sizes where the bootstrap's interval is too narrow.
    """
    from statsmodels.stats.proportion import proportion_confint

    table = PairedTable.of(base, post)
    n = table.n
    before, after = table.both_right + table.right_to_wrong, table.both_right + table.wrong_to_right
    p_before, p_after = before / n, after / n
    estimate = p_after - p_before
    alpha = 1 - _check_level(confidence_level)
    (low_b, low_a), (high_b, high_a) = proportion_confint(np.array([before, after]), n, alpha=alpha, method="wilson")
    margins = before * (n - before) * after * (n - after)
    cross = table.both_right * table.both_wrong - table.right_to_wrong * table.wrong_to_right
    corrected = cross - n / 2 if cross > n / 2 else min(cross, 0)
    phi = corrected / math.sqrt(margins) if margins > 0 else 0.0
    down_a, up_a, down_b, up_b = p_after - low_a, high_a - p_after, p_before - low_b, high_b - p_before
    low = estimate - math.sqrt(max(down_a**2 - 2 * phi * down_a * up_b + up_b**2, 0.0))
    high = estimate + math.sqrt(max(up_a**2 - 2 * phi * up_a * down_b + down_b**2, 0.0))
    return Interval(estimate, low, high, n, "Newcombe score")


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test of paired correctness, with its table."""

    table: PairedTable
    pvalue: float


def mcnemar_exact(base: ArrayLike, post: ArrayLike) -> McNemarResult:
    """``statsmodels`` exact (binomial) McNemar test on two 0/1 vectors of the same items."""
    from statsmodels.stats.contingency_tables import mcnemar

    t = PairedTable.of(base, post)
    result = mcnemar([[t.both_right, t.right_to_wrong], [t.wrong_to_right, t.both_wrong]], exact=True)
    return McNemarResult(t, float(result.pvalue))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (``statsmodels`` ``multipletests``)."""
    from statsmodels.stats.multitest import multipletests

    if not pvalues:
        return []
    return [float(p) for p in multipletests(list(pvalues), method="holm")[1]]


def bonferroni_level(confidence_level: float, family_size: int) -> float:
    """Confidence level of each of ``family_size`` intervals that hold ``confidence_level`` together."""
    if family_size < 1:
        raise ValueError(f"family_size must be >= 1; got {family_size}")
    return 1 - (1 - _check_level(confidence_level)) / family_size


def cohens_dz(base: ArrayLike, post: ArrayLike) -> float:
    """Standardized mean difference of paired values: mean(post − base) / sd(post − base); NaN without spread."""
    b, p = checked(base, post)
    return math.nan if _no_spread(p - b) else float(np.mean(p - b) / np.std(p - b, ddof=1))


def cohens_g(base: ArrayLike, post: ArrayLike) -> float:
    """Cohen's g for paired right/wrong items: share of changed items that became right, minus ½; NaN if none
    changed."""
    t = PairedTable.of(base, post)
    return t.wrong_to_right / t.discordant - 0.5 if t.discordant else math.nan


def _exact_mcnemar_power(discordant: int, share_to_right: float, alpha: float) -> float:
    """Power of the two-sided exact McNemar test given the number of changed items and the share that became
    right."""
    from scipy.stats import binom

    ks = np.arange(discordant + 1)
    rejects = np.minimum(1.0, 2 * binom.cdf(np.minimum(ks, discordant - ks), discordant, 0.5)) <= alpha
    return float(binom.pmf(ks[rejects], discordant, share_to_right).sum())


def mde_mcnemar(n: int, discordant: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |Δ accuracy| the exact McNemar test detects with ``power`` at level ``alpha``, for ``n`` items of
    which ``discordant`` changed (the observed discordance held fixed); NaN where none can be detected."""
    from scipy.optimize import brentq

    if n < 2 or not 0 <= discordant <= n:
        raise ValueError(f"need n >= 2 items and 0 <= discordant <= n; got n={n}, discordant={discordant}")
    if discordant == 0 or _exact_mcnemar_power(discordant, 1.0, alpha) < power:
        return math.nan
    share = brentq(lambda s: _exact_mcnemar_power(discordant, s, alpha) - power, 0.5, 1.0, xtol=1e-10)
    return discordant / n * (2 * share - 1)


def mde_paired_t(n: int, sd_difference: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |mean difference| a two-sided paired t-test detects with ``power`` (statsmodels ``TTestPower``),
    for ``n`` items whose differences have standard deviation ``sd_difference``; NaN without spread."""
    from statsmodels.stats.power import TTestPower

    if n < 2:
        raise ValueError(f"need n >= 2 items; got {n}")
    if not sd_difference > 0:
        return math.nan
    d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided")
    return float(np.asarray(d).item()) * sd_difference


def mde_t(standard_error: float, degrees_of_freedom: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |difference| detectable with ``power`` by a two-sided t-test of an estimate with this standard
    error: (t₁₋α/₂ + t_power) · SE, the usual normal-approximation form with t quantiles."""
    from scipy.stats import t as student_t

    if not standard_error > 0:
        return math.nan
    q = student_t.ppf(1 - alpha / 2, degrees_of_freedom) + student_t.ppf(power, degrees_of_freedom)
    return float(q) * standard_error


@dataclass(frozen=True)
class RecipeInterval:
    """A recipe's mean delta over training seeds, with both sources of variance and the interval they give."""

    interval: Interval
    training_seed_sd: float
    item_standard_error: float
    degrees_of_freedom: float
    pvalue: float


def recipe_interval(
    per_seed_deltas: ArrayLike, item_standard_error: float, n_items: int, *, confidence_level: float = 0.95
) -> RecipeInterval:
    """Interval of a recipe's mean delta over k training seeds, from training noise and item resampling.

    Variance = sd(per-seed deltas)² / k + (SE of the seed-averaged per-item delta)²; a t interval with
    Welch–Satterthwaite degrees of freedom (k − 1 and n − 1 for the two parts). With two or three seeds the
    training part has one or two degrees of freedom, and the interval is wide: that is the honest answer.
    """
    from scipy.stats import t as student_t

    (deltas,) = checked(per_seed_deltas)
    k, estimate = deltas.size, float(deltas.mean())
    sd = float(np.std(deltas, ddof=1))
    between, within = sd**2 / k, item_standard_error**2
    se = math.sqrt(between + within)
    method = "t, training seeds + items"
    if se == 0:
        return RecipeInterval(_collapsed(estimate, n_items, method), sd, item_standard_error, math.inf, 1.0)
    terms = (between**2 / (k - 1) if between else 0.0) + (within**2 / (n_items - 1) if within else 0.0)
    df = (between + within) ** 2 / terms
    q = float(student_t.ppf(0.5 + _check_level(confidence_level) / 2, df))
    pvalue = float(2 * student_t.sf(abs(estimate) / se, df))
    interval = Interval(estimate, estimate - q * se, estimate + q * se, n_items, method, se)
    return RecipeInterval(interval, sd, item_standard_error, df, pvalue)
