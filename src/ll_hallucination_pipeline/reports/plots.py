"""The figures: the trade-off scatter (per adapter, Δ on a knowledge task against Δ on a truthfulness task, CI bars,
significance marked; one panel per pair of configured tasks, see :mod:`.tasks` for each task's role) and the
reliability diagram of each multiple-choice task."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from ..tasks import get_task
from ..utils import atomic_write_bytes

TITLE = "QLoRA trade-off: knowledge vs truthfulness\n(red: Holm-adjusted p < α on either task; grey: not)"
SMALL_N_NOTE = "hollow, dashed bars: fewer items than stats.small_n; the interval may be too narrow"


def _axis_label(task: str) -> str:
    spec = get_task(task)
    return f"Δ {spec.label} {spec.metric_label} (post − base)"


def _error(row: pd.Series) -> list[list[float]]:
    return [[row["delta"] - row["delta_ci_low"]], [row["delta_ci_high"] - row["delta"]]]


def _style(significant: bool, small_n: bool) -> dict:
    """Red where significant, grey where not; hollow with dashed bars where the sample is small."""
    color = "C3" if significant else "0.45"
    return {"mfc": "none" if small_n else color, "mec": color, "ecolor": color, "fmt": "o", "ms": 8, "capsize": 3}


def _dash_if(small_n: bool, bars: object) -> None:
    if small_n:
        for line in bars[2]:  # type: ignore[index]
            line.set_linestyle("--")


def _pair_panel(ax: object, x: pd.DataFrame, y: pd.DataFrame, x_task: str, y_task: str) -> None:
    """Δ ``x_task`` against Δ ``y_task``, one point per adapter both tables hold."""
    ax.axhline(0, color="0.6", lw=0.8)  # type: ignore[attr-defined]
    ax.axvline(0, color="0.6", lw=0.8)  # type: ignore[attr-defined]
    for adapter in sorted(set(x.index) & set(y.index)):
        a, t = x.loc[adapter], y.loc[adapter]
        significant = bool(a["significant"]) or bool(t["significant"])
        small_n = bool(a["small_n"]) or bool(t["small_n"])
        bars = ax.errorbar(  # type: ignore[attr-defined]
            a["delta"], t["delta"], xerr=_error(a), yerr=_error(t), **_style(significant, small_n)
        )
        _dash_if(small_n, bars)
        ax.annotate(adapter, (a["delta"], t["delta"]), textcoords="offset points", xytext=(6, 6), fontsize=8)  # type: ignore[attr-defined]
    ax.set_xlabel(_axis_label(x_task))  # type: ignore[attr-defined]
    ax.set_ylabel(_axis_label(y_task))  # type: ignore[attr-defined]


def _single_panel(ax: object, x: pd.DataFrame, task: str) -> None:
    """Δ ``task`` per adapter, where no task of the other role was evaluated."""
    ax.axvline(0, color="0.6", lw=0.8)  # type: ignore[attr-defined]
    adapters = sorted(x.index)
    for position, adapter in enumerate(adapters):
        row = x.loc[adapter]
        small_n = bool(row["small_n"])
        bars = ax.errorbar(row["delta"], position, xerr=_error(row), **_style(bool(row["significant"]), small_n))  # type: ignore[attr-defined]
        _dash_if(small_n, bars)
    ax.set_yticks(range(len(adapters)), adapters)  # type: ignore[attr-defined]
    ax.set_xlabel(_axis_label(task))  # type: ignore[attr-defined]


def tradeoff_figure(delta_summary: pd.DataFrame):  # -> matplotlib Figure
    """One panel per (knowledge task, truthfulness task) pair in ``delta_summary``; where only one role was
    evaluated, one panel per task with its Δ per adapter."""
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
    small = tested["small_n"].any()
    if small:
        fig.text(0.5, 0.01, SMALL_N_NOTE, ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.04 if small else 0, 1, 1))
    return fig


def tradeoff_scatter(delta_summary: pd.DataFrame, png: str | Path, pdf: str | Path) -> None:
    """The trade-off figure as PNG and PDF (:func:`save_figure`)."""
    save_figure(tradeoff_figure(delta_summary), png, pdf)


RELIABILITY_TITLE = "Reliability: confidence in the preferred choice against its accuracy (equal-mass bins)"


def reliability_figure(bins: pd.DataFrame):  # -> matplotlib Figure
    """One panel per task: each model's bins (mean confidence, accuracy), the items per bin beside each point,
    and the diagonal a calibrated model lies on."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(bins["task"].unique()) if not bins.empty else []
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(5.2 * max(1, len(tasks)), 5.2), dpi=150, squeeze=False)
    if not tasks:
        axes[0][0].text(0.5, 0.5, "no multiple-choice task was evaluated", ha="center", va="center")
    for ax, task in zip(axes[0][: len(tasks)], tasks, strict=True):
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="calibrated")
        for model, rows in bins[bins["task"] == task].groupby("model", sort=False):
            line = ax.plot(rows["mean_confidence"], rows["accuracy"], marker="o", ms=4, label=model)[0]
            for row in rows.itertuples():
                ax.annotate(
                    str(row.n_items),
                    (row.mean_confidence, row.accuracy),
                    textcoords="offset points",
                    xytext=(4, -10),
                    fontsize=6,
                    color=line.get_color(),
                )
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean confidence in the bin", ylabel="accuracy in the bin")
        ax.set_title(get_task(task).label)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(RELIABILITY_TITLE + "\n(numbers: items per bin; below the diagonal: overconfident)")
    fig.tight_layout()
    return fig


PRECISION_TITLE = "Which base the numbers hold on: deltas per base precision (first eval seed)"


def precision_figure(precision: pd.DataFrame):  # -> matplotlib Figure
    """One panel per task: the base's quantization gap and each adapter's delta on each base precision, with
    intervals; red where Holm-adjusted significant, hollow where the sample is small (as the trade-off figure)."""
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
            small_n = bool(row["small_n"])
            bars = ax.errorbar(row["delta"], position, xerr=_error(row), **_style(bool(row["significant"]), small_n))
            _dash_if(small_n, bars)
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
