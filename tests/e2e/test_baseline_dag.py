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
        "hash_base_model": 1,  # the weights hashed once, read by every later job
        "prepare_data": 3,
        "evaluate_baseline": 1,  # one job runs every task and seed on one model load
        "snapshot_environment": 1,
        "smoke_test": 1,
        "summarize_baseline": 1,
        "train_qlora": 1,
        "evaluate_postqlora": 1,
        "summarize_postqlora": 1,
        "compare_prepost": 1,
        "calibration": 1,  # the reliability diagram and calibration table
        "export_recipe_table": 1,
        "export_experiment_matrix": 1,
        "export_delta_summary": 1,
        "export_qualitative": 1,
        "eval_card_templates": 1,
        "export_manifest": 1,
        "plot_tradeoff": 1,
        "write_front_page": 1,
        "all": 1,
    }


def test_single_target_builds_only_what_it_needs(tiny_data, tmp_path):
    write_config(tmp_path, data={"source": "local", "local_dir": str(tiny_data)})
    done = run_snakemake(tmp_path, "evals/baseline/arc_easy_seed1_full/results.json", "-n")
    assert done.returncode == 0, done.stdout
    assert job_counts(done.stdout) == {
        "convert_model": 1,
        "hash_base_model": 1,
        "prepare_data": 2,
        "evaluate_baseline": 1,
    }
    assert "adapters/" not in done.stdout and "evals/postqlora" not in done.stdout


def test_limit_goes_to_drafts_only(tiny_data, tmp_path):
    write_config(tmp_path, data={"source": "local", "local_dir": str(tiny_data)}, eval={"limit": 3})
    done = run_snakemake(tmp_path, "all", "-n")
    assert done.returncode == 0, done.stdout
    counts = job_counts(done.stdout)
    assert counts["evaluate_baseline_draft"] == 1 and counts["evaluate_postqlora_draft"] == 1
    assert not {"evaluate_baseline", "evaluate_postqlora", "summarize_baseline", "summarize_postqlora"} & set(counts)
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
                # lm-eval ran once, with seed 0; the other seeds say so (0-shot loglikelihood: seed-invariant).
                assert results["pipeline"]["seed"] == seed and results["config"]["random_seed"] == 0
                assert results["pipeline"].get("computed_with_seed", 0) == 0
                samples = (run / f"samples_{task}.jsonl").read_text().splitlines()
                assert len(samples) == 6 and "doc_hash" in json.loads(samples[0])
        assert "No NVIDIA GPU" in (baseline_workdir / "docs/nvidia-smi.txt").read_text()
        assert "gpu: none" in (baseline_workdir / "docs/torch_env.txt").read_text()
        smoke = json.loads((baseline_workdir / "docs/smoke_test.json").read_text())
        assert smoke["linear_layer_class"] == "Linear4bit" and smoke["new_tokens"] > 0
        assert smoke["quantization"]["mode"] == "nf4" and smoke["quantization"]["double_quant"]

    def test_seeds_one_and_two_reuse_seed_zero(self, baseline_workdir: Path):
        for task in TASKS:
            run = baseline_workdir / "evals/baseline" / f"{task}_seed{{}}_full"
            costs = [json.loads((Path(str(run).format(s)) / "scoring.json").read_text()) for s in SEEDS]
            assert costs[0]["scored"] == costs[0]["requests"] > 0, costs
            assert costs[1:] == [{"requests": 0, "scored": 0, "reused_from_seed": 0}] * 2
            samples = {(Path(str(run).format(s)) / f"samples_{task}.jsonl").read_bytes() for s in SEEDS}
            assert len(samples) == 1

    def test_summary_and_intervals(self, baseline_workdir: Path):
        summary = pd.read_csv(baseline_workdir / "evals/baseline/summary.csv")
        assert len(summary) == 3 * 3  # tqa acc + arc acc, acc_norm, per seed
        assert set(summary["task"]) == set(TASKS) and (summary["n"] == 6).all()
        assert summary["data_sha256"].str.len().eq(64).all()
        intervals = pd.read_csv(baseline_workdir / "evals/baseline/bootstrap_ci.csv")
        assert (intervals["ci_low"] <= intervals["mean"]).all() and (intervals["mean"] <= intervals["ci_high"]).all()
        later = intervals[intervals["seed"] > 0]
        assert (later["identical_to_seed"] == 0).all()

    def test_postqlora_outputs_and_summary(self, baseline_workdir: Path):
        adapter = baseline_workdir / "adapters/tiny_seed0"
        assert {"adapter_model.safetensors", "manifest.json", "training_log.csv", "recipe.toml"} <= {
            p.name for p in adapter.iterdir()
        }
        post = pd.read_csv(baseline_workdir / "evals/postqlora/summary.csv")
        base = pd.read_csv(baseline_workdir / "evals/baseline/summary.csv")
        assert list(post.columns) == ["task", "adapter", "recipe", "training_seed", *base.columns[1:]]
        assert set(post["adapter"]) == {"tiny_seed0"} and set(post["recipe"]) == {"tiny"} and len(post) == 9
        merged = post.merge(base, on=["task", "metric", "seed"], suffixes=("_post", "_base"))
        assert (merged["value_post"] != merged["value_base"]).any()

    def test_comparison_tables(self, baseline_workdir: Path):
        deltas = pd.read_csv(baseline_workdir / "evals/compare/deltas.csv")
        tests = pd.read_csv(baseline_workdir / "evals/compare/paired_tests.csv")
        calibration = {"brier", "ece_10_bin", "ece_debiased", "selective_acc_10"}
        for table in (deltas, tests):  # each calibration metric once per task, on the first eval seed
            assert len(table[table["metric"].isin(calibration)]) == 4 * 2
        deltas, tests = deltas[~deltas["metric"].isin(calibration)], tests[~tests["metric"].isin(calibration)]
        assert len(deltas) == 3 * 3  # (tqa acc, arc acc, arc acc_norm) x 3 eval seeds, one adapter
        assert ((deltas["delta_ci_low"] <= deltas["delta"]) & (deltas["delta"] <= deltas["delta_ci_high"])).all()
        arc = tests[tests["task"] == "arc_easy"].iloc[0]
        assert arc["test"].startswith("McNemar")
        assert arc[["both_right", "right_to_wrong", "wrong_to_right", "both_wrong"]].sum() == 6
        tqa = tests[tests["task"] == "truthfulqa_mc2"].iloc[0]
        assert tqa["test"].startswith("paired bootstrap") and 0 < tqa["p_raw"] <= 1
        assert tests["eval_seeds_identical"].all()
        assert deltas["small_n"].all() and tests["small_n"].all()  # 6 items
        assert arc["delta_ci_method"] == "Newcombe score" and tqa["delta_ci_method"] == "paired BCa"
        assert {"paired_se", "clt_ci_low", "effect_size", "mde", "simultaneous_ci_low"} <= set(tests.columns)

    def test_docs_figure_and_report(self, baseline_workdir: Path):
        docs = baseline_workdir / "docs"
        for name in (
            "qlora_training_recipe.md",
            "qlora_training_recipe.csv",
            "experiment_matrix.md",
            "eval_card_pre.template.md",
            "eval_card_post.template.md",
            "delta_summary.csv",
            "qualitative_pre.md",
            "qualitative_post.md",
            "manifest.json",
            "figures/tradeoff_scatter.png",
            "figures/tradeoff_scatter.pdf",
            "figures/reliability.png",
            "figures/reliability.pdf",
        ):
            assert (docs / name).stat().st_size > 0, name
        calibration = pd.read_csv(baseline_workdir / "evals/compare/calibration.csv")
        assert set(zip(calibration["task"], calibration["model"], strict=True)) == {
            (task, model) for task in TASKS for model in ("base", "tiny_seed0")
        }
        assert calibration["small_n"].all() and calibration["ece_10_bin"].between(0, 1).all()
        deltas = pd.read_csv(baseline_workdir / "evals/compare/deltas.csv")
        assert {"brier", "ece_10_bin", "ece_debiased", "selective_acc_10"} <= set(deltas["metric"])
        matrix = (docs / "experiment_matrix.md").read_text()
        assert "Generated by ll-hallucination-pipeline" in matrix and "tiny_seed0" in matrix
        assert "# Experiment matrix (eval seed 0)" in matrix
        manifest = json.loads((docs / "manifest.json").read_text())
        assert {"config", "model", "data/arc_easy", "adapter/tiny_seed0", "recipe/tiny"} <= set(manifest["inputs"])
        assert (docs / "figures/tradeoff_scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        done = run_snakemake(baseline_workdir, "--report", "report.html")
        assert done.returncode == 0, done.stdout[-3000:]
        assert (baseline_workdir / "report.html").stat().st_size > 10_000
        front_page = (docs / "report_front_page.rst").read_text()
        assert "How QLoRA changed smollm2-135m-instruct" in front_page and "Only 6 items (small_n)" in front_page
        assert "How QLoRA changed smollm2-135m-instruct" in (baseline_workdir / "report.html").read_text()

    def test_rerun_is_byte_identical_and_keeps_hand_written_cards(self, baseline_workdir: Path):
        card = baseline_workdir / "docs/eval_card_pre.md"
        card.write_text("# My own notes\nwritten by hand\n")
        generated = [
            p
            for p in sorted((baseline_workdir / "docs").rglob("*"))
            + sorted((baseline_workdir / "evals").rglob("*.csv"))
            if p.is_file() and not p.name.startswith("eval_card")
        ]
        before = {p: p.read_bytes() for p in generated}
        rules = ["summarize_baseline", "summarize_postqlora", "compare_prepost", "export_experiment_matrix"]
        rules += ["export_delta_summary", "export_qualitative", "eval_card_templates", "export_manifest"]
        rules += ["export_recipe_table", "plot_tradeoff", "write_front_page"]
        done = run_snakemake(baseline_workdir, "all", "--cores", "1", "--resources", "gpu=1", "--forcerun", *rules)
        assert done.returncode == 0, done.stdout[-3000:]
        assert "export_manifest" in done.stdout and "eval_card_templates" in done.stdout
        changed = [p.name for p in generated if p.read_bytes() != before[p]]
        assert changed == []
        assert card.read_text() == "# My own notes\nwritten by hand\n"
        template = (baseline_workdir / "docs/eval_card_post.template.md").read_text()
        assert template.startswith("# Eval card: after QLoRA") and "copy it to docs/eval_card_post.md" in template

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
                "evaluate_baseline": 1,
                "evaluate_postqlora": 1,
                "summarize_baseline": 1,
                "summarize_postqlora": 1,
                "compare_prepost": 1,
                "calibration": 1,
                "export_experiment_matrix": 1,
                "export_delta_summary": 1,
                "export_qualitative": 1,
                "export_manifest": 1,
                "plot_tradeoff": 1,
                "write_front_page": 1,
                "all": 1,
            }
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
            assert counts["evaluate_baseline"] == 1 and counts["smoke_test"] == 1
            assert counts["train_qlora"] == 1 and counts["evaluate_postqlora"] == 1
            assert not {"prepare_data", "convert_model", "hash_base_model"} & set(counts)
        finally:
            config.write_text(original)
