"""The figures: the trade-off scatter (per adapter, Δ on a knowledge task against Δ on a truthfulness task, CI bars,
significance marked; one panel per pair of configured tasks, see :mod:`.tasks` for each task's role) and the
reliability diagram of each multiple-choice task."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ..tasks import get_task
from ..utils import atomic_write_bytes

TITLE = "QLoRA trade-off: knowledge vs truthfulness"
SMALL_N_NOTE = "hollow: fewer items than stats.small_n; the interval may be too narrow"


def significance_note(alpha: float, confidence_level: float) -> str:
    """The figure's key: what a bar's style says."""
    return (
        f"bars: {confidence_level:.0%} intervals of each axis's delta; solid red: that axis's Holm-adjusted "
        f"p < α = {alpha:g}, dashed grey: not"
    )


def _axis_label(task: str) -> str:
    spec = get_task(task)
    return f"Δ {spec.label} {spec.metric_label} (post − base)"


def _bar_style(significant: bool) -> dict:
    """Solid red where the axis's delta is significant, dashed grey where not."""
    return {"color": "C3" if significant else "0.45", "ls": "-" if significant else "--", "lw": 1.4}


def _point(ax: object, x: float, y: float, small_n: bool) -> None:
    ax.plot([x], [y], marker="o", ms=7, color="k", mfc="none" if small_n else "k", ls="none")  # type: ignore[attr-defined]


def _bars(ax: object, row: pd.Series, at: float, horizontal: bool) -> None:
    """``row``'s interval as a bar across ``at``, styled by its significance."""
    low, high, style = row["delta_ci_low"], row["delta_ci_high"], _bar_style(bool(row["significant"]))
    if horizontal:
        ax.hlines(at, low, high, **style)  # type: ignore[attr-defined]
    else:
        ax.vlines(at, low, high, **style)  # type: ignore[attr-defined]


def _pair_panel(ax: object, x: pd.DataFrame, y: pd.DataFrame, x_task: str, y_task: str) -> None:
    """Δ ``x_task`` against Δ ``y_task``, one point per adapter both tables hold; each axis's bar styled by
    that axis's significance."""
    ax.axhline(0, color="0.6", lw=0.8)  # type: ignore[attr-defined]
    ax.axvline(0, color="0.6", lw=0.8)  # type: ignore[attr-defined]
    for adapter in sorted(set(x.index) & set(y.index)):
        a, t = x.loc[adapter], y.loc[adapter]
        _bars(ax, a, t["delta"], horizontal=True)
        _bars(ax, t, a["delta"], horizontal=False)
        _point(ax, a["delta"], t["delta"], bool(a["small_n"]) or bool(t["small_n"]))
        ax.annotate(adapter, (a["delta"], t["delta"]), textcoords="offset points", xytext=(6, 6), fontsize=8)  # type: ignore[attr-defined]
    ax.set_xlabel(_axis_label(x_task))  # type: ignore[attr-defined]
    ax.set_ylabel(_axis_label(y_task))  # type: ignore[attr-defined]


def _single_panel(ax: object, x: pd.DataFrame, task: str) -> None:
    """Δ ``task`` per adapter, where no task of the other role was evaluated."""
    ax.axvline(0, color="0.6", lw=0.8)  # type: ignore[attr-defined]
    adapters = sorted(x.index)
    for position, adapter in enumerate(adapters):
        row = x.loc[adapter]
        _bars(ax, row, position, horizontal=True)
        _point(ax, row["delta"], position, bool(row["small_n"]))
    ax.set_yticks(range(len(adapters)), adapters)  # type: ignore[attr-defined]
    ax.set_xlabel(_axis_label(task))  # type: ignore[attr-defined]


def tradeoff_figure(delta_summary: pd.DataFrame, alpha: float = 0.05, confidence_level: float = 0.95):  # -> Figure
    """One panel per (knowledge task, truthfulness task) pair in ``delta_summary``; where only one role was
    evaluated, one panel per task with its Δ per adapter. ``alpha`` and ``confidence_level`` (the study's) are
    stated on the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    is_tested = [
        m == get_task(t).test_metric for t, m in zip(delta_summary["task"], delta_summary["metric"], strict=True)
    ]
    tested = delta_summary[is_tested]
    by_task = {task: rows.set_index("adapter") for task, rows in tested.groupby("task", sort=True)}
    knowledge = [t for t in by_task if get_task(t).role == "knowledge"]
    truthfulness = [t for t in by_task if get_task(t).role == "truthfulness"]
    pairs = [(x, y) for y in truthfulness for x in knowledge] or [(t, None) for t in by_task]
    fig, axes = plt.subplots(1, len(pairs), figsize=(6.4 * len(pairs), 5.2), dpi=150, squeeze=False)
    for ax, (x_task, y_task) in zip(axes[0], pairs, strict=True):
        if y_task is None:
            _single_panel(ax, by_task[x_task], x_task)
        else:
            _pair_panel(ax, by_task[x_task], by_task[y_task], x_task, y_task)
    fig.suptitle(TITLE) if len(pairs) > 1 else axes[0][0].set_title(TITLE)
    notes = [significance_note(alpha, confidence_level), *([SMALL_N_NOTE] if tested["small_n"].any() else [])]
    fig.text(0.5, 0.01, "\n".join(notes), ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.03 + 0.03 * len(notes), 1, 1))
    return fig


def tradeoff_scatter(
    delta_summary: pd.DataFrame, png: str | Path, pdf: str | Path, alpha: float = 0.05, confidence_level: float = 0.95
) -> None:
    """The trade-off figure as PNG and PDF (:func:`save_figure`)."""
    save_figure(tradeoff_figure(delta_summary, alpha, confidence_level), png, pdf)


RELIABILITY_TITLE = "Reliability: confidence in the preferred choice against how often it is right (equal-mass bins)"
# Confidence runs on a logit axis: equal-mass bins crowd into 0.9-1.0, which it spreads out (0.9, 0.99, 0.999).
CONFIDENCE_TICKS = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.97, 0.99, 0.997, 0.999, 0.9999, 0.99999, 0.999999)


def _spaced_ticks(low: float, high: float, most: int = 7) -> list[float]:
    """The confidence ticks inside (low, high), at least a seventh of the axis's logit span apart, so their labels
    never run into each other."""
    from scipy.special import logit

    gap = (logit(high) - logit(low)) / most
    ticks: list[float] = []
    for tick in CONFIDENCE_TICKS:
        if low <= tick <= high and (not ticks or logit(tick) - logit(ticks[-1]) >= gap):
            ticks.append(tick)
    return ticks


def _right_means(task: str) -> str:
    """What a bin's y value counts for ``task``."""
    if get_task(task).several_true:
        return f"{get_task(task).label}: the top choice is a true answer (not the mc2 score)"
    return f"{get_task(task).label}: the top choice is the correct answer (accuracy)"


def _wilson(rows: pd.DataFrame) -> tuple[list[float], list[float]]:
    """Each bin's 95 % Wilson interval of its share right, as error-bar lengths below and above."""
    from statsmodels.stats.proportion import proportion_confint

    right = (rows["top_choice_true"] * rows["n_items"]).round()
    low, high = proportion_confint(right, rows["n_items"], alpha=0.05, method="wilson")
    return list(rows["top_choice_true"] - low), list(high - rows["top_choice_true"])


def _reliability_panel(curve: object, counts: object, bins: pd.DataFrame) -> None:
    """Each model's bins with their intervals over the diagonal (``curve``), its items per bin below (``counts``)."""
    import numpy as np
    from scipy.special import expit, logit

    # Half a logit unit of margin on each side, so no point or interval is cut by the frame.
    confidence = bins["mean_confidence"].clip(1e-7, 1 - 1e-7)
    low, high = float(expit(logit(confidence.min()) - 0.5)), float(expit(logit(confidence.max()) + 0.5))
    grid = np.linspace(low, high, 200)
    curve.plot(grid, grid, color="0.6", lw=0.8, ls="--", label="calibrated")  # type: ignore[attr-defined]
    models = list(dict.fromkeys(bins["model"]))
    for n, model in enumerate(models):
        rows = bins[bins["model"] == model]
        color = f"C{n}"
        curve.errorbar(rows["mean_confidence"], rows["top_choice_true"], yerr=_wilson(rows), marker="o", ms=4,  # type: ignore[attr-defined]
                       capsize=2, lw=1, color=color, label=model, clip_on=False)  # fmt: skip
        # Stems side by side, each model's a little apart in logit space, so equal bins do not hide each other.
        x = 1 / (1 + np.exp(-(np.log(rows["mean_confidence"] / (1 - rows["mean_confidence"])) + 0.04 * n)))
        counts.vlines(x, 0, rows["n_items"], color=color, lw=2)  # type: ignore[attr-defined]
    ticks = _spaced_ticks(low, high)
    for ax in (curve, counts):
        ax.set_xscale("logit")  # type: ignore[attr-defined]
        ax.set_xlim(low, high)  # type: ignore[attr-defined]
        ax.set_xticks(ticks, minor=False)  # type: ignore[attr-defined]
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=7)  # type: ignore[attr-defined]
        ax.minorticks_off()  # type: ignore[attr-defined]
    curve.set_ylim(-0.04, 1.04)  # type: ignore[attr-defined]
    curve.set_ylabel("share of the bin whose top choice is right")  # type: ignore[attr-defined]
    curve.tick_params(labelbottom=False)  # type: ignore[attr-defined]
    counts.set_ylabel("items", fontsize=8)  # type: ignore[attr-defined]
    counts.set_xlabel("mean confidence in the bin (logit scale)")  # type: ignore[attr-defined]
    curve.legend(fontsize=7, loc="upper left")  # type: ignore[attr-defined]


def reliability_figure(bins: pd.DataFrame):  # -> matplotlib Figure
    """One column per task: each model's bins (mean confidence, share right) with 95 % Wilson intervals over the
    diagonal a calibrated model lies on, and the items per bin in a panel below; the caption says what "right"
    means per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(bins["task"].unique()) if not bins.empty else []
    columns = max(1, len(tasks))
    fig, axes = plt.subplots(
        2, columns, figsize=(5.2 * columns, 6.2), dpi=150, squeeze=False, gridspec_kw={"height_ratios": [3, 1]}
    )
    if not tasks:
        axes[0][0].text(0.5, 0.5, "no multiple-choice task was evaluated", ha="center", va="center")
        axes[1][0].set_visible(False)
    for column, task in enumerate(tasks):
        _reliability_panel(axes[0][column], axes[1][column], bins[bins["task"] == task])
        axes[0][column].set_title(get_task(task).label)
    caption = "Right: " + "; ".join(_right_means(t) for t in tasks) if tasks else ""
    fig.suptitle(RELIABILITY_TITLE + "\n(bars: 95 % Wilson intervals; below the diagonal: overconfident)", fontsize=10)
    fig.text(0.5, 0.01, caption, ha="center", fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


PRECISION_TITLE = "Which base the numbers hold on: deltas per base precision (first eval seed)"


def precision_figure(precision: pd.DataFrame):  # -> matplotlib Figure
    """One panel per task: the base's quantization gap and each adapter's delta on each base precision, with
    intervals; solid red where Holm-adjusted significant, hollow where the sample is small (as the trade-off
    figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = precision[~precision["level"].str.startswith("difference")]
    tasks = sorted(shown["task"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.4 * len(tasks), 4.8), dpi=150, squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = shown[shown["task"] == task]
        ax.axvline(0, color="0.6", lw=0.8)
        for position, (_, row) in enumerate(rows.iterrows()):
            _bars(ax, row, position, horizontal=True)
            _point(ax, row["delta"], position, bool(row["small_n"]))
        labels = [
            f"base: gap {p} − nf4" if a == "base" else f"{a} on {p}"
            for a, p in zip(rows["adapter"], rows["precision"], strict=True)
        ]
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel(_axis_label(task))
    fig.suptitle(PRECISION_TITLE)
    fig.tight_layout()
    return fig


def save_figure(fig: object, png: str | Path, pdf: str | Path) -> None:
    """Write ``fig`` as PNG and PDF with fixed metadata, so re-runs are byte-identical."""
    import matplotlib.pyplot as plt

    for path, metadata in ((png, {"Software": None}), (pdf, {"Creator": None, "Producer": None, "CreationDate": None})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=Path(path).suffix[1:], metadata=metadata)  # type: ignore[attr-defined]
        atomic_write_bytes(path, buffer.getvalue())
    plt.close(fig)  # type: ignore[arg-type]
