"""The trade-off scatter: Δ ARC-Easy vs Δ TruthfulQA mc2 per adapter, CI error bars, significance marked."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def tradeoff_scatter(delta_summary: pd.DataFrame, png: str | Path, pdf: str | Path) -> None:
    """Write the scatter as PNG and PDF with fixed metadata, so re-runs are byte-identical."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arc = delta_summary[delta_summary["task"] == "arc_easy"].set_index("adapter")
    tqa = delta_summary[delta_summary["task"] == "truthfulqa_mc2"].set_index("adapter")
    adapters = sorted(set(arc.index) & set(tqa.index))
    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=150)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    for adapter in adapters:
        a, t = arc.loc[adapter], tqa.loc[adapter]
        significant = bool(a["significant"]) or bool(t["significant"])
        ax.errorbar(
            a["delta"],
            t["delta"],
            xerr=[[a["delta"] - a["delta_ci_low"]], [a["delta_ci_high"] - a["delta"]]],
            yerr=[[t["delta"] - t["delta_ci_low"]], [t["delta_ci_high"] - t["delta"]]],
            fmt="o",
            ms=8,
            capsize=3,
            mfc="C3" if significant else "white",
            mec="C3" if significant else "C0",
            ecolor="0.4",
        )
        ax.annotate(adapter, (a["delta"], t["delta"]), textcoords="offset points", xytext=(6, 6), fontsize=8)
    ax.set_xlabel("Δ ARC-Easy accuracy (post − base)")
    ax.set_ylabel("Δ TruthfulQA mc2 (post − base)")
    ax.set_title("QLoRA trade-off: knowledge vs truthfulness\n(filled: Holm-adjusted p < α on either task)")
    fig.tight_layout()
    _save(fig, png, {"Software": None})
    _save(fig, pdf, {"Creator": None, "Producer": None, "CreationDate": None})
    plt.close(fig)


def _save(fig: object, path: str | Path, metadata: dict) -> None:
    """Save through a temporary sibling and rename (atomic), with fixed metadata."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{target.suffix}")
    fig.savefig(tmp, metadata=metadata)  # type: ignore[attr-defined]
    os.replace(tmp, target)
