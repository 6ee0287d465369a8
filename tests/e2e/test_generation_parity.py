"""Our batched greedy generation against a plain `python -m lm_eval --model hf` run: the same answers, item for item,
and lm-eval's own metrics on them; and the same answers whatever the batch's size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ll_hallucination_pipeline.inference.evaluate import EvalRequest, build_lm, run_evaluation, samples_name, task_yaml
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.data import read_jsonl
from ll_hallucination_pipeline.tasks.registry import get_task
from tests.helpers import prepare_task_data, run_lm_eval_hf

pytestmark = pytest.mark.slow

TASKS = ["truthfulqa_gen", "nq_open"]
FP32 = QuantizationSettings(mode="none", compute_dtype="float32", cpu_compute_dtype="float32")
MAX_GEN_TOKS = 48


@pytest.fixture(scope="module")
def data_files(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return prepare_task_data(TASKS, tiny_data, tmp_path_factory.mktemp("gen_data"))


def _answers(samples_file: Path) -> dict[int, tuple[str, str]]:
    return {row["doc_id"]: (row["resps"][0][0], row["filtered_resps"][0]) for row in read_jsonl(samples_file)}


def _evaluate(model: Path, data_files: dict[str, Path], out: Path, token_budget: int) -> dict[str, dict]:
    lm = build_lm(model, FP32, cache_dir=out / "cache", token_budget=token_budget)
    results = {}
    for task in TASKS:
        request = EvalRequest(task, 0, data_files[task], out / task, max_gen_toks=MAX_GEN_TOKS)
        results[task] = run_evaluation(request, lm, metadata={})
    return results


def test_generations_and_metrics_match_lm_eval_hf_backend(converted_model, data_files, tmp_path):
    ours = _evaluate(converted_model, data_files, tmp_path / "ours", token_budget=4096)
    tasks_dir = tmp_path / "tasks"
    tasks_dir.mkdir()
    for task in TASKS:
        (tasks_dir / f"{task}.yaml").write_text(task_yaml(task, data_files[task]))
    limit = ("--gen_kwargs", f"max_gen_toks={MAX_GEN_TOKS}")
    ref_dir = run_lm_eval_hf(f"pretrained={converted_model}", TASKS, tasks_dir, tmp_path / "ref", *limit)
    ref_results = json.loads(next(ref_dir.rglob("results_*.json")).read_text())
    for task in TASKS:
        ref_samples = read_jsonl(next(ref_dir.rglob(f"samples_{task}_*.jsonl")))
        our_samples = {row["doc_id"]: row for row in read_jsonl(tmp_path / "ours" / task / samples_name(task))}
        assert len(ref_samples) == len(our_samples) == 6
        for ref in ref_samples:
            mine = our_samples[ref["doc_id"]]
            assert (mine["resps"], mine["filtered_resps"]) == (ref["resps"], ref["filtered_resps"]), (task, ref)
            for metric in get_task(task).metrics:
                assert mine[metric] == pytest.approx(ref[metric], abs=1e-9), (task, metric, ref["doc_id"])
        assert ours[task]["results"][task] == pytest.approx(ref_results["results"][task]), task
        assert ours[task]["configs"][task]["generation_kwargs"]["max_gen_toks"] == MAX_GEN_TOKS
    scoring = json.loads((tmp_path / "ours" / "nq_open" / "scoring.json").read_text())
    assert scoring["generated_sequences"] == 6 and scoring["generated_tokens"] > 0


def test_answers_do_not_depend_on_how_many_rows_decode_together(converted_model, data_files, tmp_path):
    wide = _evaluate(converted_model, data_files, tmp_path / "wide", token_budget=4096)
    narrow = _evaluate(converted_model, data_files, tmp_path / "narrow", token_budget=256)  # 1-3 rows at a time
    for task in TASKS:
        narrow_answers = _answers(tmp_path / "narrow" / task / samples_name(task))
        assert narrow_answers == _answers(tmp_path / "wide" / task / samples_name(task)), task
        assert narrow[task]["results"] == wide[task]["results"]


def test_a_second_pass_is_served_from_the_generation_cache(converted_model, data_files, tmp_path):
    lm = build_lm(converted_model, FP32, cache_dir=tmp_path / "cache", token_budget=4096)
    for run in ("first", "second"):
        request = EvalRequest("nq_open", 0, data_files["nq_open"], tmp_path / run, max_gen_toks=MAX_GEN_TOKS)
        run_evaluation(request, lm, metadata={})
    second = json.loads((tmp_path / "second" / "scoring.json").read_text())
    assert second["generated_sequences"] == 0 and second["generated_tokens"] == 0
    assert _answers(tmp_path / "first" / samples_name("nq_open")) == _answers(
        tmp_path / "second" / samples_name("nq_open")
    )
