"""Each analysis step writes exactly its declared outputs, and the same bytes on a second run."""

from __future__ import annotations

import pandas as pd

from ll_hallucination_pipeline.reports.summary import write_summaries
from ll_hallucination_pipeline.stats.methods import StatsSettings
from ll_hallucination_pipeline.workflow.pipeline_steps import (
    run_dirs,
    write_calibration,
    write_comparison_tables,
    write_delta_summary,
    write_front_page,
)

STATS = {"bootstrap_iterations": 200, "confidence_level": 0.95, "seed": 1, "power": 0.8, "small_n": 100}


def files(runs, kind: str) -> list[str]:
    chosen = runs.baseline if kind == "baseline" else runs.post
    return [str(run.directory / "results.json") for run in chosen.values()]


def test_run_dirs_are_the_result_files_directories():
    assert run_dirs(["e/a/results.json", "e/a/samples_x.jsonl", "e/b/results.json"]) == ["e/a", "e/b"]


def test_steps_write_only_their_outputs_and_the_same_bytes_twice(runs, tmp_path):
    settings = StatsSettings.from_config(STATS)
    for name in ("one", "two"):
        out = tmp_path / name
        write_comparison_tables(files(runs, "baseline"), files(runs, "post"), out / "d.csv", out / "t.csv", STATS)
        write_delta_summary(str(out / "t.csv"), str(out / "s.csv"))
        calibration = [str(out / name) for name in ("c.csv", "b.csv", "r.png", "r.pdf")]
        write_calibration(files(runs, "baseline"), files(runs, "post"), *calibration)
        for kind in ("baseline", "post"):
            dirs = run_dirs(files(runs, kind))
            write_summaries(dirs, out / f"{kind}_summary.csv", out / f"{kind}_ci.csv", settings)
        cis = [str(out / "baseline_ci.csv"), str(out / "post_ci.csv")]
        write_front_page(str(out / "t.csv"), cis, [], str(out / "front.rst"), "m", STATS)
    one, two = tmp_path / "one", tmp_path / "two"
    written = sorted(p.name for p in one.iterdir())
    expected = ["baseline_ci.csv", "baseline_summary.csv", "d.csv", "front.rst", "post_ci.csv", "post_summary.csv"]
    assert written == sorted([*expected, "b.csv", "c.csv", "r.pdf", "r.png", "s.csv", "t.csv"])
    assert all((one / name).read_bytes() == (two / name).read_bytes() for name in written)
    assert len(pd.read_csv(one / "s.csv")) == len(pd.read_csv(one / "t.csv"))
