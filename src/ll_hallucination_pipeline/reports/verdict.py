"""The front page's opening: one line per adapter saying what fine-tuning did, in plain words with the evidence.

Each task's tested metric (the confirmatory test) is a clause: knowledge first, then truthfulness, each "rose",
"fell" (Holm-adjusted significant) or "no detectable change" with the smallest change the study could detect.
Secondary metrics (calibration, abstention) enter only where they moved significantly. A warning follows where
what the model says moved on a judge-free metric (BLEU or ROUGE against reference answers, exact match) or where
its abstention moved.
"""

from __future__ import annotations

import math

import pandas as pd

from ..stats import StatsSettings
from ..tasks import get_task
from .exports import heading

ROLE_ORDER = {"knowledge": 0, "truthfulness": 1}
ABSTENTION = ("declined", "empty")


def _interval(row: pd.Series, s: StatsSettings) -> str:
    return (
        f"Δ {row['delta']:+.4f}, {s.confidence_level:.0%} CI {row['delta_ci_low']:+.4f} to {row['delta_ci_high']:+.4f}"
    )


def _clause(row: pd.Series, s: StatsSettings) -> str:
    """One tested metric's change in words: rose / fell / no detectable change (smallest detectable ±x)."""
    spec = get_task(row["task"])
    name = f"{spec.label} {spec.label_of(row['metric'])}"
    if row["significant"]:
        return f"{name} **{'rose' if row['delta'] > 0 else 'fell'}** ({_interval(row, s)})"
    detectable = "none detectable at this size" if math.isnan(row["mde"]) else f"smallest detectable ±{row['mde']:.4f}"
    return f"{name}: no detectable change ({detectable}; {_interval(row, s)})"


def _what_it_says_moved(rows: pd.DataFrame) -> list[str]:
    """Which judge-free generation metrics and abstention shares moved significantly."""
    moved = []
    for _, row in rows[rows["significant"]].iterrows():
        spec = get_task(row["task"])
        if spec.output_type == "generate_until" and (row["family"] == "confirmatory" or row["metric"] in ABSTENTION):
            moved.append(f"{spec.label} {spec.label_of(row['metric'])} {'rose' if row['delta'] > 0 else 'fell'}")
    return moved


def verdict_lines(tests: pd.DataFrame, s: StatsSettings) -> list[str]:
    """The verdict per adapter (one line each), over each task's whole items, on the adapters' own rows."""
    rows = tests[(tests["level"] == "training seed") & (tests["family"] != "per category")]
    title = "Verdict"
    lines = heading(title)
    for adapter, mine in rows.groupby("adapter", sort=True):
        confirmatory = mine[mine["family"] == "confirmatory"].copy()
        confirmatory["order"] = [ROLE_ORDER[get_task(t).role] for t in confirmatory["task"]]
        clauses = [_clause(row, s) for _, row in confirmatory.sort_values(["order", "task"]).iterrows()]
        secondary = mine[(mine["family"] == "secondary") & mine["significant"]]
        clauses += [f"secondary: {_clause(row, s)}" for _, row in secondary.sort_values("task").iterrows()]
        lines.append(f"- **{adapter}**: " + "; ".join(clauses) + ".")
        moved = _what_it_says_moved(mine)
        if moved:
            lines.append(
                f"  **Warning:** what the model says moved ({', '.join(moved)}). These are judge-free metrics "
                "(overlap with reference answers, refusal and empty-answer shares): read the qualitative items "
                "(``docs/qualitative_*.md``) before calling it more or less truthful."
            )
    lines += [
        "",
        f"Significant means Holm-adjusted p < {s.alpha:g}. Each task's tested metric is its confirmatory test, "
        "adjusted across adapters; every other metric of a task (calibration, abstention) is *secondary*, adjusted "
        "within one family per task holding all of them and all adapters.",
        "",
    ]
    return lines
