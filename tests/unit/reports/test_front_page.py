"""The report's front page says each adapter's deltas, intervals, adjusted p and detectable change in words."""

from __future__ import annotations

import pandas as pd
from docutils.core import publish_parts

from ll_hallucination_pipeline.reports.front_page import front_page
from ll_hallucination_pipeline.reports.summary import interval_rows
from ll_hallucination_pipeline.stats.analysis import paired_tests_table
from ll_hallucination_pipeline.stats.methods import StatsSettings


def test_headline_in_words_with_every_figure(runs):
    settings = StatsSettings(n_resamples=300, seed=1)
    tests = paired_tests_table(runs, settings)
    intervals = [
        interval_rows(list(runs.baseline.values()), settings),
        interval_rows(list(runs.post.values()), settings),
    ]
    text = front_page("SmolLM2", tests, intervals, settings)
    row = tests[(tests["adapter"] == "r_seed0") & (tests["task"] == "truthfulqa_mc2")].iloc[0]
    assert "TruthfulQA mc2" in text and f"rose by {row['delta']:.4f}" in text
    assert f"{row['delta_ci_low']:+.4f} to {row['delta_ci_high']:+.4f}, paired BCa" in text
    assert f"simultaneous {row['simultaneous_ci_low']:+.4f} to {row['simultaneous_ci_high']:+.4f}" in text
    assert f"smallest change this study detects with 80% power is ±{row['mde']:.4f}" in text
    assert "too few items changed for any change to be detectable" in text  # ARC: at most 5 changed items
    assert "Per recipe, over its training seeds" in text and "**r (pooled)**" in text
    assert "Only 40 items (small_n)" in text
    assert "Eval seeds 0, 1 gave identical per-item values for every model and task" in text
    html = publish_parts(text, writer="html")["html_body"]  # valid reStructuredText, as Snakemake renders it
    assert "<strong>r_seed0</strong>" in html and "System Message" not in html
    assert html.count("<ul") == 1 + 2 + 3  # the verdict, the adapters of each level, each adapter's list of tasks


def test_the_page_opens_with_one_verdict_line_per_adapter(runs):
    settings = StatsSettings(n_resamples=300, seed=1)
    tests = paired_tests_table(runs, settings)
    text = front_page("SmolLM2", tests, [interval_rows(list(runs.baseline.values()), settings)], settings)
    verdict = text.split("Verdict\n-------\n\n")[1].split("\n\n")[0].splitlines()
    assert [line.split("**")[1] for line in verdict] == sorted(
        tests[tests["level"] == "training seed"]["adapter"].unique()
    )
    for line, (_, rows) in zip(verdict, tests[tests["level"] == "training seed"].groupby("adapter"), strict=True):
        arc = rows[(rows["task"] == "arc_easy") & (rows["family"] == "confirmatory")].iloc[0]
        mc2 = rows[(rows["task"] == "truthfulqa_mc2") & (rows["family"] == "confirmatory")].iloc[0]
        assert line.index("ARC-Easy") < line.index("TruthfulQA mc2")  # knowledge first, then truthfulness
        for row in (arc, mc2):
            said = f"CI {row['delta_ci_low']:+.4f} to {row['delta_ci_high']:+.4f}"
            assert said in line
            if not row["significant"]:
                assert "no detectable change" in line
    assert text.index("Verdict") < text.index("Per adapter")
    assert "Each task's tested metric is its confirmatory test" in text


def test_seeds_that_differ_are_called_replicates(runs):
    settings = StatsSettings(n_resamples=300, seed=1)
    intervals = interval_rows(list(runs.baseline.values()), settings)
    intervals["identical_to_seed"] = ""
    text = front_page("m", pd.DataFrame(), [intervals], settings)
    assert "No adapter was evaluated" in text and "they are replicates" in text


def test_a_significant_rise_in_declining_or_empty_answers_is_called_out_by_name():
    from ll_hallucination_pipeline.reports.front_page import _abstention_warnings

    rows = pd.DataFrame(
        [
            {"task": "truthfulqa_gen", "metric": "bleu_acc", "delta": 0.10, "significant": True},
            {"task": "truthfulqa_gen", "metric": "declined", "delta": 0.25, "significant": True},
            {"task": "nq_open", "metric": "declined", "delta": 0.25, "significant": False},
            {"task": "nq_open", "metric": "empty", "delta": 0.12, "significant": True},
            {"task": "nq_open", "metric": "exact_match", "delta": -0.05, "significant": True},
        ]
    )
    declined, empty = _abstention_warnings(rows)
    assert declined.startswith("**TruthfulQA generation: more answers decline after fine-tuning.")
    assert empty.startswith("**NQ-Open: more answers are empty after fine-tuning") and "formatting failure" in empty
    assert _abstention_warnings(rows.assign(delta=-0.25)) == []  # fewer: nothing to warn about
