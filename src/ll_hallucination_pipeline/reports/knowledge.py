"""What the knowledge mixes show (Gekhman et al. 2024): the per-category table of their Table 2, the figures of
test deltas per category against the mix's Unknown share and of the learning curves, and the front page's
sentences."""

from __future__ import annotations

import math

import pandas as pd

from ..inference import CATEGORIES
from ..stats import StatsSettings
from ..tasks import get_task
from .exports import heading

MIX_FIGURE_TITLE = "Test delta per knowledge category of the test items, against the mix's Unknown share"
CURVE_FIGURE_TITLE = "Share of fine-tuning examples fitted, per knowledge category (dashed: held-out accuracy)"
ALL = "all items"


def category_tests(tests: pd.DataFrame, mixes: pd.DataFrame) -> pd.DataFrame:
    """The tested metric's paired tests of the knowledge mixes' adapters, over all items (``category`` "all
    items") and per category, with each mix's Unknown share (``mixes``: adapter, recipe, unknown_fraction)."""
    tested = tests[tests["level"] == "training seed"].copy()
    tested = tested[[m == get_task(t).test_metric for t, m in zip(tested["task"], tested["metric"], strict=True)]]
    tested["category"] = tested["category"].fillna(ALL) if "category" in tested else ALL
    return tested.merge(mixes[["adapter", "unknown_fraction"]], on="adapter")


def table2(by_category: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Gekhman et al.'s Table 2 per task: a row per mix, test accuracy after fine-tuning on all items and per
    category (base model's value beside it), and held-out accuracy at its peak (the early-stopping point) and at
    the end of training."""
    rows = []
    for (task, adapter), group in by_category.groupby(["task", "adapter"], sort=True):
        post = dict(zip(group["category"], group["post"], strict=True))
        base = dict(zip(group["category"], group["baseline"], strict=True))
        curve = points[points["adapter"] == adapter].sort_values("step")
        peak = curve.loc[curve["heldout_accuracy"].idxmax()] if not curve.empty else None
        row = {"task": task, "adapter": adapter, "unknown_fraction": group["unknown_fraction"].iloc[0]}
        for category in (ALL, *CATEGORIES):
            row[f"test_{category}"] = post.get(category, math.nan)
            row[f"base_{category}"] = base.get(category, math.nan)
        row |= {
            "heldout_peak_step": peak["step"] if peak is not None else math.nan,
            "heldout_at_peak": peak["heldout_accuracy"] if peak is not None else math.nan,
            "heldout_at_end": curve["heldout_accuracy"].iloc[-1] if not curve.empty else math.nan,
        }
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.rename(columns=lambda c: c.replace(ALL, "all").replace(" ", "_"))


def mix_figure(by_category: pd.DataFrame):  # -> matplotlib Figure
    """One panel per task: each category's test delta (with its interval) against the mix's Unknown share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(by_category["task"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.4 * len(tasks), 4.8), dpi=150, squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = by_category[by_category["task"] == task]
        ax.axhline(0, color="0.6", lw=0.8)
        for n, category in enumerate((ALL, *CATEGORIES)):
            line = rows[rows["category"] == category].sort_values("unknown_fraction")
            if line.empty:
                continue
            error = [line["delta"] - line["delta_ci_low"], line["delta_ci_high"] - line["delta"]]
            shift = (n - 2) * 0.006  # side by side where fractions coincide
            ax.errorbar(line["unknown_fraction"] + shift, line["delta"], yerr=error, marker="o", capsize=3,
                        label=category, color="k" if category == ALL else f"C{n}")  # fmt: skip
        spec = get_task(task)
        ax.set_xlabel("Unknown share of the fine-tuning examples")
        ax.set_ylabel(f"Δ {spec.label} {spec.metric_label} (post − base)")
        ax.set_title(f"{spec.label}: items by what the base model knew", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(MIX_FIGURE_TITLE + "\n(bars: the paired interval at the study's confidence level)", fontsize=10)
    fig.tight_layout()
    return fig


def curve_figure(curves: pd.DataFrame):  # -> matplotlib Figure
    """One panel per mix: the share of its training examples fitted against the step, a line per category, and
    held-out accuracy per category dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    adapters = sorted(curves["adapter"].unique())
    fig, axes = plt.subplots(1, len(adapters), figsize=(4.2 * len(adapters), 4.0), dpi=150, squeeze=False)
    for ax, adapter in zip(axes[0], adapters, strict=True):
        rows = curves[curves["adapter"] == adapter]
        for n, category in enumerate(CATEGORIES):
            for split, style in (("train", "-"), ("heldout", "--")):
                line = rows[(rows["category"] == category) & (rows["split"] == split)].sort_values("step")
                if not line.empty:
                    ax.plot(line["step"], 100 * line["share"], style, marker="o", ms=3, color=f"C{n + 1}",
                            label=category if split == "train" else None)  # fmt: skip
        ax.set_ylim(-3, 103)
        ax.set_xlabel("training step")
        ax.set_ylabel("% fitted (train) / accurate (held-out)")
        ax.set_title(f"{adapter}\n(Unknown share {rows['unknown_fraction'].iloc[0]:g})", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(CURVE_FIGURE_TITLE, fontsize=10)
    fig.tight_layout()
    return fig


def knowledge_lines(by_category: pd.DataFrame, fit: pd.DataFrame, s: StatsSettings) -> list[str]:
    """The front page's section: per mix and task, how the delta on each category of test items moved, and the
    linear model's cost of fitted Unknown examples."""
    title = "Which fine-tuning examples cause hallucination"
    lines = heading(title)
    lines += [
        "Each test item and fine-tuning example carries the base model's knowledge category (SliCK, "
        "``evals/knowledge/``); each mix trains on the same number of examples with a different Unknown share. "
        "Rows per category are in ``evals/compare/paired_tests.csv`` (Holm within each category).",
        "",
    ]
    for (adapter, task), rows in by_category.groupby(["adapter", "task"], sort=True):
        spec = get_task(task)
        share = rows["unknown_fraction"].iloc[0]
        lines.append(f"- **{adapter}** ({share:.0%} Unknown), {spec.label} {spec.metric_label}:")
        for _, row in rows.set_index("category").reindex([ALL, *CATEGORIES]).dropna(subset=["delta"]).iterrows():
            verdict = "significant" if row["significant"] else "not significant"
            lines.append(
                f"  - {row.name} ({int(row['n_items'])} items): {row['baseline']:.4f} → {row['post']:.4f}, "
                f"Δ {row['delta']:+.4f} ({s.confidence_level:.0%} CI {row['delta_ci_low']:+.4f} to "
                f"{row['delta_ci_high']:+.4f}), Holm-adjusted p {row['p_holm']:.3g}, {verdict}"
                + (" (small_n)" if row["small_n"] else "")
            )
    lines += ["", *_fit_sentence(fit, s), ""]
    return lines


def _fit_sentence(fit: pd.DataFrame, s: StatsSettings) -> list[str]:
    terms = fit.set_index("term")
    if not bool(terms["estimable"].iloc[0]):
        return [
            f"Gekhman et al.'s linear model (``evals/knowledge/gekhman_fit.csv``) is not estimable from these "
            f"{int(terms['points'].iloc[0])} learning-curve points: add mixes or curve points."
        ]
    unknown, known = terms.loc["unknown_fitted_share"], terms.loc["known_fitted_share"]
    return [
        f"Over {int(unknown['points'])} learning-curve points (R² {unknown['r_squared']:.2f}): each 10 % of the "
        f"fine-tuning data made of fitted Unknown examples changed held-out accuracy by "
        f"{unknown['coefficient'] / 10:+.2f} points ({s.confidence_level:.0%} CI {unknown['ci_low'] / 10:+.2f} to "
        f"{unknown['ci_high'] / 10:+.2f}), each 10 % of fitted known examples by {known['coefficient'] / 10:+.2f} "
        f"points ({known['ci_low'] / 10:+.2f} to {known['ci_high'] / 10:+.2f}). Gekhman et al. found −0.83 and "
        "+0.73 (β −8.3 and +7.3, ``evals/knowledge/gekhman_fit.csv``)."
    ]
