"""The example own task (examples/own_task) through the real DAG with only config changes, and its per-item
log-likelihoods against `lm_eval --model hf --include_path examples/own_task`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ll_hallucination_pipeline.inference.evaluate import EvalRequest, build_lm, run_evaluation, samples_name, task_yaml
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.own_tasks import register_own_tasks
from ll_hallucination_pipeline.tasks.results import per_request_loglikelihoods
from tests.helpers import REPO, external_adapter_env, run_lm_eval_hf, run_snakemake

pytestmark = pytest.mark.slow
FP32 = QuantizationSettings(mode="none", compute_dtype="float32", cpu_compute_dtype="float32")


def test_the_example_task_before_and_after_an_adapter(external_study: Path, baseline_workdir: Path, tmp_path: Path):
    shutil.copytree(external_study, tmp_path, symlinks=True, dirs_exist_ok=True)  # mtimes kept: as finished
    for stage in ("baseline", "postqlora/external-tiny_seed0"):
        results = json.loads((tmp_path / f"evals/{stage}/capitals_seed0_full/results.json").read_text())
        assert results["n-samples"]["capitals"]["effective"] == 20
    tests = pd.read_csv(tmp_path / "evals/compare/paired_tests.csv")
    accuracy = tests[(tests["task"] == "capitals") & (tests["metric"] == "acc")]
    assert set(accuracy["test"]) == {"McNemar exact (statsmodels)"}
    assert {"brier", "ece_10_bin"} <= set(tests[tests["task"] == "capitals"]["metric"])
    assert "capitals" in set(pd.read_csv(tmp_path / "docs/delta_summary.csv")["task"])
    assert "World capitals" in (tmp_path / "docs/report_front_page.rst").read_text()
    assert (tmp_path / "docs/figures/tradeoff_scatter.png").stat().st_size > 0
    hashes = json.loads((tmp_path / "docs/manifest.json").read_text())["inputs"]
    assert {"task/capitals", "examples/own_task/capitals"} <= set(hashes)

    # An edited data file makes the evaluations that read it stale, and nothing before them.
    data = tmp_path / "examples/own_task/capitals.jsonl"
    data.write_text(data.read_text().replace("France", "Belgium").replace("Paris", "Brussels"))
    env = external_adapter_env(baseline_workdir)
    stale = run_snakemake(tmp_path, "all", "-n", "--cores", "1", "--resources", "gpu=1", env=env).stdout
    jobs = set(re.findall(r"^rule (\w+):", stale, flags=re.MULTILINE))
    assert {"evaluate_baseline", "evaluate_postqlora"} <= jobs
    assert not jobs & {"prepare_data", "hash_base_model", "smoke_test"}


def test_per_item_loglikelihoods_match_lm_eval_with_the_include_path(converted_model, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the example's data path is relative to the study directory
    register_own_tasks({"task_dirs": ["examples/own_task"]})
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks/capitals.yaml").write_text(task_yaml("capitals", Path("examples/own_task/capitals.jsonl")))
    lm = build_lm(converted_model, FP32, cache_dir=tmp_path / "cache", token_budget=512)
    request = EvalRequest("capitals", 0, Path("examples/own_task/capitals.jsonl"), tmp_path / "ours")
    ours = run_evaluation(request, lm, metadata={"test": True})
    ref_dir = run_lm_eval_hf(f"pretrained={converted_model}", ["capitals"], REPO / "examples/own_task", tmp_path / "hf")
    ref = per_request_loglikelihoods(next(ref_dir.rglob("samples_capitals_*.jsonl")))
    mine = per_request_loglikelihoods(tmp_path / "ours" / samples_name("capitals"))
    assert mine.keys() == ref.keys() and len(mine) == 20
    for doc_id, values in ref.items():
        assert mine[doc_id] == pytest.approx(values, abs=1e-4), doc_id
    ref_results = json.loads(next(ref_dir.rglob("results_*.json")).read_text())["results"]["capitals"]
    assert ours["results"]["capitals"]["acc,none"] == pytest.approx(ref_results["acc,none"], abs=1e-6)
