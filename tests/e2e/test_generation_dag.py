"""The generation track through the real DAG: TruthfulQA generation and NQ-Open before and after the tiny adapter,
generations kept per item, deltas and paired tests (abstention among them), the figure's knowledge x truthfulness
panel, the front page and the qualitative dumps; the judge's mechanics with the embedded model standing in as the
judge (its verdicts mean nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ll_hallucination_pipeline.tasks.data import read_jsonl

pytestmark = pytest.mark.slow
GENERATION_TASKS = ["truthfulqa_gen", "nq_open"]


def test_generation_tasks_before_and_after_an_adapter(external_study: Path):
    tmp_path = external_study
    for task in GENERATION_TASKS:
        for stage in ("baseline", "postqlora/external-tiny_seed0"):
            run = tmp_path / f"evals/{stage}/{task}_seed0_full"
            results = json.loads((run / "results.json").read_text())
            assert results["configs"][task]["generation_kwargs"]["max_gen_toks"] == 32
            samples = read_jsonl(run / f"samples_{task}.jsonl")
            assert len(samples) == 6 and all(isinstance(row["resps"][0][0], str) for row in samples)
            assert json.loads((run / "scoring.json").read_text())["generated_sequences"] == 6
            repeat = json.loads((tmp_path / f"evals/{stage}/{task}_seed1_full/results.json").read_text())
            assert repeat["pipeline"]["seed_invariant"] == "0-shot greedy generation"
    deltas = pd.read_csv(tmp_path / "evals/compare/deltas.csv")
    assert {"bleu_acc", "rougeL_diff", "declined", "empty"} <= set(deltas.query("task == 'truthfulqa_gen'")["metric"])
    assert set(deltas.query("task == 'nq_open'")["metric"]) == {"exact_match", "declined", "empty"}
    tests = pd.read_csv(tmp_path / "evals/compare/paired_tests.csv")
    tests = tests[tests["task"].isin(GENERATION_TASKS)]
    assert sorted(zip(tests["task"], tests["metric"], strict=True)) == [
        ("nq_open", "declined"),
        ("nq_open", "empty"),
        ("nq_open", "exact_match"),
        ("truthfulqa_gen", "bleu_acc"),
        ("truthfulqa_gen", "declined"),
        ("truthfulqa_gen", "empty"),
    ]
    assert set(tests["test"]) == {"McNemar exact (statsmodels)"}  # every tested metric is 0/1 per item
    front_page = (tmp_path / "docs/report_front_page.rst").read_text()
    assert "NQ-Open share of empty answers (nothing before the first stop sequence)" in front_page
    assert "TruthfulQA generation share of answers that decline" in front_page
    qualitative = (tmp_path / "docs/qualitative_pre.md").read_text() + (
        tmp_path / "docs/qualitative_post.md"
    ).read_text()
    assert "### truthfulqa_gen" in qualitative and "### nq_open" in qualitative
    assert (tmp_path / "docs/figures/tradeoff_scatter.png").stat().st_size > 0
    judged = pd.read_csv(tmp_path / "evals/judge/judgements.csv")
    assert len(judged) == 12 and set(judged["model"]) == {"base", "external-tiny_seed0"}
    assert judged["p_judge_true"].between(0, 1).all() and set(judged["judge_true"]) <= {0, 1}
    summary = pd.read_csv(tmp_path / "evals/judge/summary.csv")
    assert list(summary["model"]) == ["base", "external-tiny_seed0"] and set(summary["n_items"]) == {6}
    judge_tests = pd.read_csv(tmp_path / "evals/judge/paired_tests.csv")
    assert sorted(judge_tests["metric"]) == ["judge_info", "judge_true"]
    assert set(judge_tests["test"]) == {"McNemar exact (statsmodels)"}
