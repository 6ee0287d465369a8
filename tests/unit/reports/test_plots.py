"""The trade-off figure: one panel per task pair, each axis's bar styled by that axis's significance, hollow
where the sample is small."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ll_hallucination_pipeline.reports.plots import SMALL_N_NOTE, tradeoff_figure, tradeoff_scatter

TESTED = (("arc_easy", "acc", -0.02), ("truthfulqa_mc2", "acc", 0.03))


def summary(small_n: bool, significant: bool = True, rows_of=TESTED) -> pd.DataFrame:
    rows = []
    for task, metric, delta in rows_of:
        rows.append(
            {
                "adapter": "a_seed0",
                "task": task,
                "metric": metric,
                "delta": delta,
                "delta_ci_low": delta - 0.01,
                "delta_ci_high": delta + 0.01,
                "significant": significant,
                "small_n": small_n,
            }
        )
    return pd.DataFrame(rows)


def marker_faces(fig) -> list:
    return [line.get_markerfacecolor() for ax in fig.axes for line in ax.lines if line.get_marker() == "o"]


def bar_styles(fig) -> list[tuple[str, str]]:
    """(orientation, line style) of each interval bar: horizontal bars are the x axis's delta."""
    styles = []
    for collection in fig.axes[0].collections:
        (segment,) = collection.get_segments()
        orientation = "x" if segment[0][1] == segment[1][1] else "y"
        styles.append((orientation, "solid" if collection.get_linestyle()[0][1] is None else "dashed"))
    return sorted(styles)


def test_small_samples_are_hollow_with_a_note():
    fig = tradeoff_figure(summary(small_n=True))
    assert marker_faces(fig) == ["none"]
    assert SMALL_N_NOTE in fig.texts[0].get_text()
    plt.close(fig)
    fig = tradeoff_figure(summary(small_n=False))
    assert marker_faces(fig) not in ([], ["none"]) and SMALL_N_NOTE not in fig.texts[0].get_text()
    plt.close(fig)


def test_each_axis_shows_its_own_significance_and_the_figure_says_alpha_and_level():
    rows = summary(small_n=False)
    rows.loc[rows["task"] == "truthfulqa_mc2", "significant"] = False
    fig = tradeoff_figure(rows, alpha=0.01, confidence_level=0.9)
    assert bar_styles(fig) == [("x", "solid"), ("y", "dashed")]  # ARC-Easy significant, TruthfulQA not
    assert "90% intervals" in fig.texts[0].get_text() and "α = 0.01" in fig.texts[0].get_text()
    plt.close(fig)


def test_one_panel_per_task_when_only_one_role_was_evaluated():
    fig = tradeoff_figure(summary(small_n=False).query("task == 'arc_easy'"))
    assert len(fig.axes) == 1 and fig.axes[0].get_yticklabels()[0].get_text() == "a_seed0"
    plt.close(fig)


def test_files_are_byte_identical_across_runs(tmp_path):
    for run in ("a", "b"):
        tradeoff_scatter(summary(small_n=True), tmp_path / run / "f.png", tmp_path / run / "f.pdf")
    for name in ("f.png", "f.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_generation_tasks_plot_their_tested_metric_and_not_abstention():
    rows = (
        ("nq_open", "exact_match", -0.02),
        ("nq_open", "empty", 0.2),
        ("truthfulqa_gen", "bleu_acc", 0.03),
        ("truthfulqa_gen", "declined", 0.4),
    )
    fig = tradeoff_figure(summary(small_n=False, rows_of=rows))
    (ax,) = fig.axes
    (point,) = [line for line in ax.lines if line.get_marker() == "o"]
    assert point.get_xydata().tolist() == [[-0.02, 0.03]]
    assert "NQ-Open" in ax.get_xlabel() and "TruthfulQA generation" in ax.get_ylabel()
    plt.close(fig)


def test_the_reliability_diagram_has_a_column_per_task_intervals_and_items_per_bin(tmp_path):
    from ll_hallucination_pipeline.reports.plots import reliability_figure, save_figure

    bins = pd.DataFrame(
        [
            {"task": task, "model": model, "bin": b, "n_items": 7 + b, "mean_confidence": 0.9 + b / 100,
             "top_choice_true": a}
            for task in ("arc_easy", "truthfulqa_mc2")
            for model, a in (("base", 0.5), ("a_seed0", 0.4))
            for b in range(10)
        ]
    )  # fmt: skip
    fig = reliability_figure(bins)
    curve, mc2_curve, counts, _ = fig.axes
    assert [curve.get_title(), mc2_curve.get_title()] == ["ARC-Easy", "TruthfulQA mc2"]
    assert curve.get_legend_handles_labels()[1] == ["calibrated", "base", "a_seed0"]
    assert curve.get_xscale() == "logit" and curve.get_xlim()[0] < 0.9 < 0.99 < curve.get_xlim()[1] < 1
    assert curve.get_ylim() == (-0.04, 1.04)  # a margin: no point at 0 or 1 is cut by the frame
    stems = [c for c in counts.collections if c.get_segments()]
    assert [len(c.get_segments()) for c in stems] == [10, 10]
    assert sorted(seg[1][1] for seg in stems[0].get_segments()) == [7 + b for b in range(10)]
    caption = fig.texts[-1].get_text()
    assert (
        "the top choice is a true answer (not the mc2 score)" in caption
        and "ARC-Easy: the top choice is the correct" in caption
    )
    save_figure(fig, tmp_path / "r.png", tmp_path / "r.pdf")
    first = (tmp_path / "r.png").read_bytes()
    save_figure(reliability_figure(bins), tmp_path / "r.png", tmp_path / "r.pdf")
    assert (tmp_path / "r.png").read_bytes() == first  # byte-identical re-runs
    empty = reliability_figure(pd.DataFrame())
    assert "no multiple-choice task" in empty.axes[0].texts[0].get_text()
    plt.close("all")


def test_the_precision_figure_draws_the_gap_and_each_delta_but_not_the_differences():
    from ll_hallucination_pipeline.reports.plots import precision_figure

    levels = [
        ("quantization gap of the base (bf16 − nf4)", "base", "bf16"),
        ("adapter delta on nf4", "a_seed0", "nf4"),
        ("adapter delta on bf16", "a_seed0", "bf16"),
        ("difference of deltas (bf16 − nf4)", "a_seed0", "bf16"),
    ]
    rows = [
        {
            "level": level,
            "adapter": adapter,
            "precision": precision,
            "task": "arc_easy",
            "delta": 0.01,
            "delta_ci_low": 0.0,
            "delta_ci_high": 0.02,
            "significant": False,
            "small_n": False,
        }
        for level, adapter, precision in levels
    ]
    fig = precision_figure(pd.DataFrame(rows))
    labels = [tick.get_text() for tick in fig.axes[0].get_yticklabels()]
    assert labels == ["base: gap bf16 − nf4", "a_seed0 on nf4", "a_seed0 on bf16"]
    plt.close("all")
