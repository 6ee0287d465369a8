"""The generated documents' contents: recipe table, experiment matrix, delta summary, templates, manifest."""

from __future__ import annotations

from ll_hallucination_pipeline.reports.exports import (
    GENERATED,
    delta_summary,
    eval_card_template,
    experiment_matrix,
    generated_markdown,
    manifest,
    markdown_table,
    recipe_table,
)
from ll_hallucination_pipeline.reports.summary import interval_rows, summary_rows
from ll_hallucination_pipeline.stats.analysis import paired_tests_table
from ll_hallucination_pipeline.stats.methods import StatsSettings
from ll_hallucination_pipeline.training.recipe import load_recipe
from tests.helpers import REPO


def test_recipe_table_has_a_row_per_recipe_with_its_training_seeds():
    table = recipe_table(
        [load_recipe(REPO / "configs/qlora_tiny.toml"), load_recipe(REPO / "configs/qlora_alpaca_10k.toml")]
    )
    assert list(table["recipe"]) == ["tiny", "alpaca_10k"]
    assert table.loc[1, "examples"] == 10000 and table.loc[1, "target_modules"] == "all-linear"
    assert "| recipe | dataset |" in markdown_table(table)


def test_experiment_matrix_puts_the_base_model_first_on_the_first_seed(runs):
    settings = StatsSettings(n_resamples=200, seed=1)
    summaries = [summary_rows(list(runs.baseline.values())), summary_rows(list(runs.post.values()))]
    intervals = [interval_rows(list(r.values()), settings) for r in (runs.baseline, runs.post)]
    matrix, seed = experiment_matrix(summaries, intervals)
    assert seed == 0 and list(matrix.columns) == ["task", "metric", "base", "r_seed0", "r_seed1"]
    assert len(matrix) == 3 and all(" [" in cell for cell in matrix["base"])


def test_delta_summary_keeps_what_the_figure_and_readers_need(runs):
    summary = delta_summary(paired_tests_table(runs, StatsSettings(n_resamples=200, seed=1)))
    assert {"delta", "delta_ci_low", "simultaneous_ci_low", "mde", "small_n", "significant"} <= set(summary.columns)
    assert list(summary["level"]) == sorted(summary["level"])


def test_templates_and_generated_documents_say_what_they_are():
    template = eval_card_template("post", ["arc_easy"])
    assert template.startswith("# Eval card: after QLoRA") and "ARC-Easy (knowledge)" in template
    assert "copy it to docs/eval_card_post.md" in template
    assert generated_markdown("T", "body\n", "rule_x").startswith(GENERATED.format(rule="rule_x") + "# T\n")


def test_manifest_lists_inputs_outputs_and_versions():
    record = manifest({"config": "abc"}, ["docs/b.md", "docs/a.md"])
    assert record["inputs"] == {"config": "abc"} and record["outputs"] == ["docs/a.md", "docs/b.md"]
    assert "lm-eval" in record["versions"]
