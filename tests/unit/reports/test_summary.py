"""Summary tables of final runs: one row per run and metric, and bootstrap intervals that flag repeated seeds and
small samples."""

from __future__ import annotations

import pandas as pd

from ll_hallucination_pipeline.reports.summary import SUMMARY_COLUMNS, interval_rows, summary_rows, write_summaries
from ll_hallucination_pipeline.stats.methods import StatsSettings


def test_summary_rows_per_run_and_metric(runs):
    base = summary_rows(list(runs.baseline.values()))
    assert list(base.columns) == SUMMARY_COLUMNS
    assert len(base) == 2 * 3  # eval seeds x (tqa acc, arc acc, arc acc_norm)
    post = summary_rows(list(runs.post.values()))
    assert {"adapter", "recipe", "training_seed"} <= set(post.columns) and set(post["recipe"]) == {"r"}


def test_intervals_flag_identical_seeds_and_small_samples(runs):
    table = interval_rows(list(runs.baseline.values()), StatsSettings(n_resamples=300, seed=1))
    seed1 = table[table["seed"] == 1]
    assert (seed1["identical_to_seed"] == 0).all() and (table[table["seed"] == 0]["identical_to_seed"] == "").all()
    assert table["small_n"].all()  # 40 items
    assert ((table["ci_low"] <= table["mean"]) & (table["mean"] <= table["ci_high"])).all()
    assert not interval_rows(list(runs.baseline.values()), StatsSettings(n_resamples=300, small_n=40))["small_n"].any()


def test_written_tables_are_byte_identical_across_runs(runs, tmp_path):
    dirs = [run.directory for run in runs.baseline.values()]
    settings = StatsSettings(n_resamples=300, seed=1)
    for name in ("a", "b"):
        write_summaries(dirs, tmp_path / name / "summary.csv", tmp_path / name / "ci.csv", settings)
    for file in ("summary.csv", "ci.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert len(pd.read_csv(tmp_path / "a" / "ci.csv")) == 6
