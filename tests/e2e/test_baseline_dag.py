"""The baseline DAG: its shape, a real run on tiny data, staleness and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import run_snakemake, write_config

SEEDS = [0, 1, 2]
TASKS = ["truthfulqa_mc2", "arc_easy"]


def job_counts(stdout: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table."""
    table = stdout.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def test_dry_run_shape_two_tasks_three_seeds(tiny_data, tmp_path):
    write_config(tmp_path, data={"source": "local", "local_dir": str(tiny_data)})
    done = run_snakemake(tmp_path, "all", "-n")
    assert done.returncode == 0, done.stdout
    assert job_counts(done.stdout) == {
        "convert_model": 1,
        "prepare_data": 2,
        "evaluate_baseline": 6,
        "snapshot_environment": 1,
        "smoke_test": 1,
        "summarize_baseline": 1,
        "all": 1,
    }


def test_single_target_builds_only_what_it_needs(tiny_data, tmp_path):
    write_config(tmp_path, data={"source": "local", "local_dir": str(tiny_data)})
    done = run_snakemake(tmp_path, "evals/baseline/arc_easy_seed1_full/results.json", "-n")
    assert done.returncode == 0, done.stdout
    assert job_counts(done.stdout) == {"convert_model": 1, "prepare_data": 1, "evaluate_baseline": 1}


def test_limit_goes_to_drafts_only(tiny_data, tmp_path):
    write_config(tmp_path, data={"source": "local", "local_dir": str(tiny_data)}, eval={"limit": 3})
    done = run_snakemake(tmp_path, "all", "-n")
    assert done.returncode == 0, done.stdout
    counts = job_counts(done.stdout)
    assert counts["evaluate_baseline_draft"] == 6
    assert "evaluate_baseline" not in counts and "summarize_baseline" not in counts
    assert "evals/drafts/baseline/arc_easy_seed0_limit3/results.json" in done.stdout


@pytest.mark.slow
class TestRealBaselineRun:
    def test_outputs_in_lm_eval_schema(self, baseline_workdir: Path):
        for task in TASKS:
            for seed in SEEDS:
                run = baseline_workdir / f"evals/baseline/{task}_seed{seed}_full"
                results = json.loads((run / "results.json").read_text())
                assert set(results["results"]) == {task}
                assert results["n-samples"][task]["effective"] == 6
                assert results["config"]["random_seed"] == seed
                samples = (run / f"samples_{task}.jsonl").read_text().splitlines()
                assert len(samples) == 6 and "doc_hash" in json.loads(samples[0])
        assert "No NVIDIA GPU" in (baseline_workdir / "docs/nvidia-smi.txt").read_text()
        assert "gpu: none" in (baseline_workdir / "docs/torch_env.txt").read_text()
        smoke = json.loads((baseline_workdir / "docs/smoke_test.json").read_text())
        assert smoke["linear_layer_class"] == "Linear4bit" and smoke["new_tokens"] > 0
        assert smoke["quantization"]["mode"] == "nf4" and smoke["quantization"]["double_quant"]

    def test_seeds_one_and_two_reuse_seed_zero(self, baseline_workdir: Path):
        for task in TASKS:
            costs = [
                json.loads((baseline_workdir / f"evals/baseline/{task}_seed{s}_full/scoring.json").read_text())
                for s in SEEDS
            ]
            assert sum(c["scored"] > 0 for c in costs) == 1, costs
            assert all(c["requests"] == costs[0]["requests"] > 0 for c in costs)
            assert sum(c["cache_hits"] for c in costs) == 2 * costs[0]["requests"]

    def test_summary_and_intervals(self, baseline_workdir: Path):
        summary = pd.read_csv(baseline_workdir / "evals/baseline/summary.csv")
        assert len(summary) == 3 * 3  # tqa acc + arc acc, acc_norm, per seed
        assert set(summary["task"]) == set(TASKS) and (summary["n"] == 6).all()
        assert summary["data_sha256"].str.len().eq(64).all()
        intervals = pd.read_csv(baseline_workdir / "evals/baseline/bootstrap_ci.csv")
        assert (intervals["ci_low"] <= intervals["mean"]).all() and (intervals["mean"] <= intervals["ci_high"]).all()
        later = intervals[intervals["seed"] > 0]
        assert (later["identical_to_seed"] == 0).all()

    def test_nothing_to_do_after_a_finished_run(self, baseline_workdir: Path):
        done = run_snakemake(baseline_workdir, "all", "-n")
        assert done.returncode == 0
        assert "Nothing to be done" in done.stdout

    def test_changed_data_makes_exactly_its_jobs_stale(self, baseline_workdir: Path, tiny_data: Path):
        arc = tiny_data / "arc_easy" / "test.jsonl"
        original = arc.read_text()
        try:
            arc.write_text(original.replace("Mercury_417466", "Mercury_417466x", 1))
            done = run_snakemake(baseline_workdir, "all", "-n")
            assert done.returncode == 0, done.stdout
            assert job_counts(done.stdout) == {
                "prepare_data": 1,
                "evaluate_baseline": 3,
                "summarize_baseline": 1,
                "all": 1,
            }
            assert "truthfulqa_mc2_seed" not in done.stdout.split("Job stats:")[0]
        finally:
            arc.write_text(original)

    def test_changed_eval_setting_reruns_evaluations(self, baseline_workdir: Path, tiny_data: Path):
        config = baseline_workdir / "config.yaml"
        original = config.read_text()
        try:
            data = json.loads(original) | {"quantization": {"mode": "fp4"}}
            config.write_text(json.dumps(data))
            done = run_snakemake(baseline_workdir, "all", "-n")
            counts = job_counts(done.stdout)
            assert counts["evaluate_baseline"] == 6 and counts["smoke_test"] == 1
            assert "prepare_data" not in counts and "convert_model" not in counts
        finally:
            config.write_text(original)
