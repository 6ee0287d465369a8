"""The study on other base precisions: added to a finished study, only the new evaluations run; their comparison
reaches precision.csv and the front page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.test_baseline_dag import job_counts
from tests.helpers import run_snakemake

pytestmark = pytest.mark.slow


def test_adding_precisions_to_a_finished_study_runs_only_their_evaluations(baseline_workdir: Path, tmp_path: Path):
    workdir = tmp_path / "study"
    shutil.copytree(baseline_workdir, workdir, symlinks=True)  # mtimes kept: the copy is as finished as the original
    config = workdir / "config.yaml"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"eval": {"precisions": ["nf4", "bf16", "merged"]}}))
    dry = run_snakemake(workdir, "all", "-n")
    assert dry.returncode == 0, dry.stdout[-3000:]
    counts = job_counts(dry.stdout)
    assert counts["evaluate_baseline_precision"] == 1  # bf16's base; merged shares it
    assert counts["evaluate_postqlora_precision"] == 2  # the adapter unmerged on bf16, and merged
    assert counts["compare_precisions"] == 1 and counts["write_front_page"] == 1
    assert not {"evaluate_baseline", "evaluate_postqlora", "train_qlora", "compare_prepost"} & set(counts)

    done = run_snakemake(workdir, "all", "--cores", "all", "--resources", "gpu=1")
    assert done.returncode == 0, done.stdout[-4000:]
    table = pd.read_csv(workdir / "evals/compare/precision.csv")
    assert set(table["level"]) == {
        "quantization gap of the base (bf16 − nf4)",
        "adapter delta on nf4",
        "adapter delta on bf16",
        "adapter delta on merged",
        "difference of deltas (bf16 − nf4)",
        "difference of deltas (merged − nf4)",
    }
    assert set(table["task"]) == {"truthfulqa_mc2", "arc_easy"}
    merged = json.loads(next((workdir / "evals/precision/merged").rglob("results.json")).read_text())["pipeline"]
    assert merged["adapter_merged"] is True and json.loads(merged["quantization"])["mode"] == "none"
    assert (workdir / "docs/figures/precision.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (workdir / "docs/figures/precision.pdf").stat().st_size > 0
    page = (workdir / "docs/report_front_page.rst").read_text()
    assert "Which base the numbers hold on" in page and "quantization gap of the base (bf16 − nf4), base:" in page
