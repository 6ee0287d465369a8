"""The trade-off figure: one panel per task pair, colour by significance, hollow where the sample is small."""

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


def test_small_samples_are_hollow_with_a_note():
    fig = tradeoff_figure(summary(small_n=True))
    assert marker_faces(fig) == ["none"]
    assert SMALL_N_NOTE in [text.get_text() for text in fig.texts]
    plt.close(fig)
    fig = tradeoff_figure(summary(small_n=False))
    assert marker_faces(fig) not in ([], ["none"]) and not fig.texts
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
        ("nq_open", "abstained", 0.2),
        ("truthfulqa_gen", "bleu_acc", 0.03),
        ("truthfulqa_gen", "no_comment", 0.4),
    )
    fig = tradeoff_figure(summary(small_n=False, rows_of=rows))
    (ax,) = fig.axes
    (point,) = [line for line in ax.lines if line.get_marker() == "o"]
    assert point.get_xydata().tolist() == [[-0.02, 0.03]]
    assert "NQ-Open" in ax.get_xlabel() and "TruthfulQA generation" in ax.get_ylabel()
    plt.close(fig)


def test_the_reliability_diagram_has_a_panel_per_task_a_line_per_model_and_the_items_per_bin(tmp_path):
    from ll_hallucination_pipeline.reports.plots import reliability_figure, save_figure

    bins = pd.DataFrame(
        [
            {"task": task, "model": model, "bin": b, "n_items": 7 + b, "mean_confidence": 0.3 + b / 20, "accuracy": a}
            for task in ("arc_easy", "truthfulqa_mc2")
            for model, a in (("base", 0.5), ("a_seed0", 0.4))
            for b in range(10)
        ]
    )
    fig = reliability_figure(bins)
    panels = fig.axes
    assert [ax.get_title() for ax in panels] == ["ARC-Easy", "TruthfulQA mc2"]
    assert [line.get_label() for line in panels[0].get_lines()] == ["calibrated", "base", "a_seed0"]
    assert {text.get_text() for text in panels[0].texts} == {str(7 + b) for b in range(10)}
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
