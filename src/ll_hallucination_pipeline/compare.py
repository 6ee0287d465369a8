"""Paired pre/post comparisons on per-item evidence joined by lm-eval's ``doc_hash``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import PipelineInputError


def join_items(base: Mapping[str, float], post: Mapping[str, float], *, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Align two per-item maps on ``doc_hash``; any item missing on one side is an error."""
    if base.keys() != post.keys():
        only_base, only_post = sorted(base.keys() - post.keys()), sorted(post.keys() - base.keys())
        raise PipelineInputError(
            f"{label}: item sets differ ({len(only_base)} only in baseline, {len(only_post)} only after QLoRA, "
            f"e.g. {(only_base or only_post)[0]}); evaluate both on the same data file"
        )
    keys = sorted(base)
    return np.array([base[k] for k in keys], dtype=float), np.array([post[k] for k in keys], dtype=float)


def unique_by_hash(rows: Sequence[dict], *, label: str) -> dict[str, dict]:
    """Index samples by ``doc_hash``; a duplicated hash is an error, never silently dropped."""
    out: dict[str, dict] = {}
    for row in rows:
        if row["doc_hash"] in out:
            raise PipelineInputError(f"{label}: doc_hash {row['doc_hash']} occurs twice; the samples file is corrupt")
        out[row["doc_hash"]] = row
    return out


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test of paired correctness.

    both_right, base_only (right before, wrong after), post_only (wrong before, right after), both_wrong.
    """

    both_right: int
    base_only: int
    post_only: int
    both_wrong: int
    statistic: float
    pvalue: float


def mcnemar_correctness(base_correct: np.ndarray, post_correct: np.ndarray) -> McNemarResult:
    """``statsmodels`` exact (binomial) McNemar on two 0/1 vectors of the same items."""
    from statsmodels.stats.contingency_tables import mcnemar

    b, p = base_correct.astype(bool), post_correct.astype(bool)
    table = [[int(np.sum(b & p)), int(np.sum(b & ~p))], [int(np.sum(~b & p)), int(np.sum(~b & ~p))]]
    result = mcnemar(table, exact=True)
    return McNemarResult(
        table[0][0], table[0][1], table[1][0], table[1][1], float(result.statistic), float(result.pvalue)
    )


@dataclass(frozen=True)
class PairedBootstrapResult:
    """Mean per-item difference (post - base) with its BCa interval and a two-sided p-value."""

    mean_difference: float
    low: float
    high: float
    pvalue: float
    n: int


def paired_bootstrap(
    base: np.ndarray,
    post: np.ndarray,
    *,
    n_resamples: int = 10_000,
    confidence_level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> PairedBootstrapResult:
    """Paired bootstrap (``scipy.stats.bootstrap``, ``paired=True``, BCa) of the mean difference.

    The p-value inverts the bootstrap: the share of resampled means, centred on the observed
    one, at least as far from it as the observed mean is from zero (two-sided).
    """
    from scipy.stats import bootstrap

    if base.shape != post.shape or base.ndim != 1 or base.size < 2:
        raise ValueError(f"base and post must be equal-length 1-d arrays of >= 2 items; got {base.shape}, {post.shape}")
    diff = post - base
    observed = float(diff.mean())
    if np.all(diff == diff[0]):
        return PairedBootstrapResult(observed, observed, observed, 1.0 if observed == 0 else 0.0, diff.size)

    def mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(y - x, axis=axis)

    result = bootstrap(
        (base, post),
        mean_difference,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence_level,
        method="BCa",
        rng=np.random.default_rng(seed),
    )
    centred = result.bootstrap_distribution - observed
    pvalue = (1 + np.sum(np.abs(centred) >= abs(observed))) / (centred.size + 1)
    ci = result.confidence_interval
    return PairedBootstrapResult(observed, float(ci.low), float(ci.high), float(pvalue), diff.size)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (``statsmodels`` ``multipletests``)."""
    from statsmodels.stats.multitest import multipletests

    if not pvalues:
        return []
    return [float(p) for p in multipletests(list(pvalues), method="holm")[1]]
