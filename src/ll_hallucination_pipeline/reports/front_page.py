"""The report's front page: the study's headline in words, written as reStructuredText for Snakemake's
``report:`` workflow description."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd

from ..stats import CALIBRATION_SMALL_N, StatsSettings
from ..tasks import CALIBRATION_METRIC_LABELS, get_task
from .exports import heading, whole_task_rows
from .verdict import verdict_lines


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.4f}"


def _p(value: float) -> str:
    return f"= {value:.3g}" if value >= 0.001 else "< 0.001"


def _metric_name(row: pd.Series) -> str:
    """The metric in words; the Brier score says which definition it is."""
    spec = get_task(row["task"])
    if row["metric"] != "brier":
        return spec.label_of(row["metric"])
    definition = "of the mass on true answers, in [0, 1]" if spec.several_true else "(lm-eval's brier_score)"
    return f"Brier score {definition} (lower is better)"


def _change(row: pd.Series, s: StatsSettings) -> str:
    """One adapter on one task, in words."""
    spec = get_task(row["task"])
    direction = "rose" if row["delta"] > 0 else "fell" if row["delta"] < 0 else "did not change"
    verdict = "significant" if row["significant"] else "not significant"
    mde = row["mde"]
    if row["metric"] in CALIBRATION_METRIC_LABELS and row["metric"] != "brier":
        detectable = "a binned statistic, so no smallest detectable change is given"
    elif math.isnan(mde):
        detectable = "too few items changed for any change to be detectable"
    else:
        detectable = f"the smallest change this study detects with {s.power:.0%} power is ±{mde:.4f}"
    secondary = "secondary: " if row.get("family") == "secondary" else ""
    sentence = (
        f"{secondary}{spec.label} {_metric_name(row)} {direction} by {abs(row['delta']):.4f} "
        f"({row['baseline']:.4f} → {row['post']:.4f}; {s.confidence_level:.0%} CI {_number(row['delta_ci_low'])} "
        f"to {_number(row['delta_ci_high'])}, {row['delta_ci_method']}; simultaneous "
        f"{_number(row['simultaneous_ci_low'])} to {_number(row['simultaneous_ci_high'])}); "
        f"Holm-adjusted p {_p(row['p_holm'])}, {verdict}; {detectable}."
    )
    if row["small_n"]:
        sentence += f" **Only {row['n_items']} items (small_n): the interval may be too narrow.**"
    return sentence


WARNINGS = {
    "declined": "more answers decline after fine-tuning. A gain in its truthfulness may be refusals rather than "
    "truer answers; read it beside this share.",
    "empty": "more answers are empty after fine-tuning (nothing before the first stop sequence): a formatting "
    "failure, not the model declining; its other scores count these answers as wrong or uninformative.",
}


def _abstention_warnings(rows: pd.DataFrame) -> list[str]:
    """A warning per task and abstention share (declined, empty) that rose significantly after fine-tuning."""
    return [
        f"**{get_task(row['task']).label}: {WARNINGS[row['metric']]}**"
        for _, row in rows.iterrows()
        if row["metric"] in WARNINGS and row["delta"] > 0 and row["significant"]
    ]


def _more_confidently_wrong(rows: pd.DataFrame) -> list[str]:
    """A warning per task whose calibration error or Brier score rose significantly after fine-tuning."""
    worse = rows[rows["metric"].isin(["brier", "ece_10_bin"]) & (rows["delta"] > 0) & rows["significant"]]
    return [
        f"**{get_task(task).label}: calibration got worse after fine-tuning.** The model holds its answers with "
        "confidence its accuracy does not back: wrong answers are now held more firmly (see the reliability "
        "diagram, ``docs/figures/reliability.png``)."
        for task in sorted(set(worse["task"]))
    ]


def _headline(tests: pd.DataFrame, s: StatsSettings) -> list[str]:
    lines = []
    for level, rows in whole_task_rows(tests).groupby("level", sort=False):
        title = "Per adapter" if level == "training seed" else "Per recipe, over its training seeds"
        lines += heading(title)
        if level != "training seed":
            lines += [
                "These intervals add the spread between training seeds to item resampling: a claim about the "
                "recipe, not one run of it, rests on them.",
                "",
            ]
        for adapter, adapter_rows in rows.groupby("adapter", sort=True):
            lines += [f"- **{adapter}**", ""]
            ordered = adapter_rows.sort_values("task", kind="stable")
            lines += [f"  - {_change(row, s)}" for _, row in ordered.iterrows()]
            lines += [f"  - {warning}" for warning in _abstention_warnings(ordered) + _more_confidently_wrong(ordered)]
            lines.append("")
    return lines


def _seeds(intervals: pd.DataFrame) -> list[str]:
    """Which eval seeds repeated another item for item."""
    title = "Eval seeds"
    repeated = intervals[intervals["identical_to_seed"].astype(str) != ""]
    seeds = sorted(intervals["seed"].unique())
    if len(seeds) == 1:
        text = f"One eval seed ({seeds[0]}): the intervals rest on item resampling alone."
    elif repeated.empty:
        text = f"Eval seeds {', '.join(map(str, seeds))} gave different per-item values: they are replicates."
    elif len(repeated) == len(intervals) - len(intervals.drop_duplicates(["adapter", "task", "metric"])):
        text = (
            f"Eval seeds {', '.join(map(str, seeds))} gave identical per-item values for every model and task "
            "(0-shot log-likelihood scoring and greedy generation do not use the seed): they are one measurement, not "
            f"{len(seeds)} replicates, and no interval here counts them as such."
        )
    else:
        cases = sorted(
            f"{r.adapter or 'base'} {r.task} {r.metric} seed {r.seed} = seed {r.identical_to_seed}"
            for r in repeated.itertuples()
        )
        text = "Some eval seeds repeated another item for item: " + "; ".join(cases) + "."
    return [*heading(title), text, ""]


def _precisions(precision: pd.DataFrame, s: StatsSettings) -> list[str]:
    """Which base the numbers hold on: the base's quantization gap and each adapter's difference of deltas."""
    title = "Which base the numbers hold on"
    lines = heading(title)
    lines += [
        "Every model was also evaluated on the unquantized base (``bf16``, adapters unmerged; ``merged``: merged "
        "into it), on the first eval seed (``evals/compare/precision.csv``). On a CPU the unquantized base runs in "
        "the CPU's compute dtype, and the embedded model is itself dequantized from a Q4_1 GGUF: its gap measures "
        "re-quantizing that model, not a bf16 original.",
        "",
    ]
    shown = precision[precision["level"].str.startswith(("quantization gap", "difference of deltas"))]
    for _, row in shown.sort_values(["adapter", "task"], kind="stable").iterrows():
        lines.append(f"- {row['level']}, {row['adapter']}: {_change(row, s)}")
    return [*lines, ""]


def front_page(
    model: str,
    tests: pd.DataFrame,
    intervals: Iterable[pd.DataFrame],
    s: StatsSettings,
    precision: pd.DataFrame | None = None,
    sections: Sequence[str] = (),
) -> str:
    """The headline: each adapter's deltas with intervals, adjusted p and detectable effect; the study on other
    base precisions where evaluated; further ``sections`` (lines, e.g. the knowledge mixes'); identical seeds."""
    title = f"How QLoRA changed {model}: truthfulness and knowledge"
    lines = heading(title, "=")
    lines += [
        "Generated by ll-hallucination-pipeline from ``evals/compare/paired_tests.csv``; every figure below is a "
        "row there. Intervals are at the configured confidence level; *simultaneous* intervals hold it for all "
        "adapters of a task together (Bonferroni), as Holm's adjustment does for the p-values.",
        "",
    ]
    if tests.empty:
        lines += ["No adapter was evaluated: the study has a baseline only.", ""]
    else:
        lines += verdict_lines(tests, s)
        lines += _headline(tests, s)
        if tests["small_n"].any():
            lines += [
                f"**Small samples.** Rows with fewer than {s.small_n} items (calibration rows: fewer than "
                f"{CALIBRATION_SMALL_N}, where a 10-bin ECE is mostly noise) carry ``small_n``: at such sizes "
                "bootstrap and CLT intervals run too narrow, so treat them as drafts.",
                "",
            ]
    if precision is not None and not precision.empty:
        lines += _precisions(precision, s)
    lines += sections
    lines += _seeds(pd.concat(list(intervals), ignore_index=True).fillna({"adapter": ""}))
    return "\n".join(lines)
