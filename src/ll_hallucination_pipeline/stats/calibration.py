"""Calibration of a multiple-choice run from its per-choice log-likelihoods: how confident the model is in the
choice it prefers, and how often that choice is right.

An item's choice probabilities are the softmax of its choices' log-likelihoods, as lm-eval's ``brier_score``
makes them. Its confidence is the largest; it is right when that choice is a correct one (``top_choice_true``).

- Brier score, one correct choice (ARC, TruthfulQA mc1): lm-eval's ``brier_score``, the squared distance of the
  probabilities from the one-hot correct choice, summed over choices, in [0, 2].
- Brier score, several correct choices (TruthfulQA mc2): the squared error of the probability mass m the model
  puts on the true answers, (1 − m)², in [0, 1]. m is the item's mc2 value, so this is the Brier score of the
  binary forecast "the answer is a true one", a proper scoring rule. (Counting every true choice as a one-hot
  target instead would add the number of true answers, a per-question constant, and is unbounded.)
- ECE: top-label expected calibration error over 10 equal-mass bins of confidence (HELM's ``ece_10_bin``):
  the item-weighted mean |confidence − accuracy| of the bins.
- Debiased ECE: the squared-error form with each bin's sampling noise taken off (Kumar, Liang and Ma 2019,
  "Verified uncertainty calibration"): √max(0, Σ_b w_b [(c̄_b − ȳ_b)² − ȳ_b(1 − ȳ_b)/(n_b − 1)]).
- Selective accuracy: accuracy on the 10 % most confident items.

The statistics take arrays whose last axis is the items, so a bootstrap can evaluate many resamples at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..tasks import EvalRun, get_task, request_loglikelihoods

BINS = 10
SELECTIVE_SHARE = 0.1
# Below this many items a 10-bin ECE is dominated by sampling noise: its rows carry ``small_n``.
CALIBRATION_SMALL_N = 300


@dataclass(frozen=True)
class CalibrationItems:
    """Per item of one run, in doc-hash order: confidence, whether the preferred choice is right, Brier score."""

    doc_hashes: list[str]
    confidence: np.ndarray
    right: np.ndarray
    brier: np.ndarray

    @classmethod
    def of(cls, run: EvalRun) -> CalibrationItems:
        from scipy.special import softmax

        correct_of = get_task(run.task).correct
        if correct_of is None:
            raise ValueError(f"{run.task} is not a multiple-choice task: it has no calibration")
        loglikelihoods = request_loglikelihoods(run.samples())
        rows = sorted(run.samples(), key=lambda row: row["doc_hash"])
        confidence, right, brier = [], [], []
        for row in rows:
            probabilities = softmax(np.asarray(loglikelihoods[row["doc_id"]]))
            correct = np.asarray(correct_of(row["doc"]), dtype=float)
            chosen = int(np.argmax(probabilities))
            confidence.append(float(probabilities[chosen]))
            right.append(correct[chosen])
            brier.append(item_brier(probabilities, correct, several_true=get_task(run.task).several_true))
        return cls([row["doc_hash"] for row in rows], np.array(confidence), np.array(right), np.array(brier))


BRIER_DEFINITIONS = {
    False: "lm-eval brier_score: sum over choices of (p - correct)^2, in [0, 2]",
    True: "true-answer mass: (1 - m)^2, m = probability on the true answers (the item's mc2), in [0, 1]",
}


def item_brier(probabilities: np.ndarray, correct: np.ndarray, *, several_true: bool) -> float:
    """One item's Brier score (see the module docstring for the two definitions)."""
    if several_true:
        return float((1.0 - probabilities @ correct) ** 2)
    return float(np.sum((probabilities - correct) ** 2))


def _bin_sums(
    confidence: np.ndarray, right: np.ndarray, bins: int, key: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-mass bin of confidence (last axis: items): item count, summed confidence, summed rightness.
    ``key``: the confidences' dense ranks, which sort the same and faster (:func:`on_ranks`)."""
    order = np.argsort(confidence if key is None else key, axis=-1, kind="stable")
    sorted_confidence = np.take_along_axis(confidence, order, axis=-1)
    sorted_right = np.take_along_axis(np.broadcast_to(right, confidence.shape), order, axis=-1)
    n = confidence.shape[-1]
    edges = np.linspace(0, n, bins + 1).round().astype(int)

    def per_bin(values: np.ndarray) -> np.ndarray:
        totals = np.concatenate([np.zeros((*values.shape[:-1], 1)), np.cumsum(values, axis=-1)], axis=-1)
        return np.diff(totals[..., edges], axis=-1)

    return np.diff(edges).astype(float), per_bin(sorted_confidence), per_bin(sorted_right)


def ece(confidence: np.ndarray, right: np.ndarray, bins: int = BINS, key: np.ndarray | None = None) -> np.ndarray:
    """Top-label ECE over ``bins`` equal-mass bins (see the module docstring); over the last axis."""
    counts, confidence_sums, right_sums = _bin_sums(confidence, right, bins, key)
    return np.abs(confidence_sums - right_sums).sum(axis=-1) / counts.sum()


def ece_debiased(
    confidence: np.ndarray, right: np.ndarray, bins: int = BINS, key: np.ndarray | None = None
) -> np.ndarray:
    """Debiased squared-error calibration error, square-rooted (see the module docstring); over the last axis."""
    counts, confidence_sums, right_sums = _bin_sums(confidence, right, bins, key)
    size = np.maximum(counts, 1)
    mean_confidence, accuracy = confidence_sums / size, right_sums / size
    noise = np.where(counts > 1, accuracy * (1 - accuracy) / np.maximum(counts - 1, 1), 0.0)
    squared = ((counts / counts.sum()) * ((mean_confidence - accuracy) ** 2 - noise)).sum(axis=-1)
    return np.sqrt(np.maximum(squared, 0.0))


def selective_accuracy(
    confidence: np.ndarray, right: np.ndarray, share: float = SELECTIVE_SHARE, key: np.ndarray | None = None
) -> np.ndarray:
    """Accuracy on the ``share`` most confident items (at least one); over the last axis."""
    kept = max(1, math.ceil(share * confidence.shape[-1]))
    order = np.argsort(-(confidence if key is None else key), axis=-1, kind="stable")[..., :kept]
    return np.take_along_axis(np.broadcast_to(right, confidence.shape), order, axis=-1).mean(axis=-1)


# The binned statistics of a run, by the metric name tables use; each maps (confidence, right) to a number.
BINNED_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "ece_10_bin": ece,
    "ece_debiased": ece_debiased,
    "selective_acc_10": selective_accuracy,
}


def rank_encoded(*confidences: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct confidences of all ``confidences`` in ascending order, and each array as dense ranks into
    them: equal confidences share a rank, so ranks sort exactly as the confidences do, ties included."""
    table, ranks = np.unique(np.concatenate(confidences), return_inverse=True)
    return table, np.split(ranks.astype(float), np.cumsum([c.size for c in confidences])[:-1])


def on_ranks(metric: Callable[..., np.ndarray], table: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``metric`` of items given as dense ranks of their confidence (:func:`rank_encoded`): the same values, with
    the bootstrap's many sorts done on small integers (NumPy's radix sort) instead of floats."""
    dtype = np.int16 if table.size <= np.iinfo(np.int16).max else np.int32

    def ranked(rank: np.ndarray, right: np.ndarray) -> np.ndarray:
        key = rank.astype(dtype)
        return metric(table[key], right, key=key)

    return ranked


# Every calibration metric, Brier first (the mean of a per-item value), then the binned ones; named in words in
# :data:`.tasks.CALIBRATION_METRIC_LABELS`.
CALIBRATION_METRICS = ("brier", *BINNED_METRICS)


def summary(items: CalibrationItems) -> dict[str, float]:
    """A run's share of items whose top choice is true and its calibration metrics."""
    values = {"brier": float(items.brier.mean())}
    values |= {name: float(metric(items.confidence, items.right)) for name, metric in BINNED_METRICS.items()}
    return {"n_items": items.right.size, "top_choice_true": float(items.right.mean()), **values}


def reliability_bins(items: CalibrationItems, bins: int = BINS) -> list[dict[str, float]]:
    """Each equal-mass bin: its items, mean confidence and accuracy (the reliability diagram's points)."""
    counts, confidence_sums, right_sums = _bin_sums(items.confidence, items.right, bins)
    return [
        {"bin": b, "n_items": int(n), "mean_confidence": c / n, "top_choice_true": r / n}
        for b, (n, c, r) in enumerate(zip(counts, confidence_sums, right_sums, strict=True))
        if n
    ]
