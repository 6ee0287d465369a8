"""Our scorer against a plain `python -m lm_eval --model hf` run, and its model-keyed cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ll_hallucination_pipeline.inference.evaluate import EvalRequest, build_lm, run_evaluation, samples_name, task_yaml
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.results import per_request_loglikelihoods
from tests.helpers import prepare_task_data, run_lm_eval_hf

pytestmark = pytest.mark.slow

TASKS = ["truthfulqa_mc2", "truthfulqa_mc1", "arc_easy", "arc_challenge"]
FP32 = QuantizationSettings(mode="none", compute_dtype="float32", cpu_compute_dtype="float32")


@pytest.fixture(scope="module")
def data_files(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return prepare_task_data(TASKS, tiny_data, tmp_path_factory.mktemp("data"))


def test_matches_lm_eval_hf_backend(converted_model, data_files, tmp_path):
    lm = build_lm(converted_model, FP32, cache_dir=tmp_path / "cache", token_budget=512)
    tasks_dir = tmp_path / "tasks"
    tasks_dir.mkdir()
    ours = {}
    for task in TASKS:
        (tasks_dir / f"{task}.yaml").write_text(task_yaml(task, data_files[task]))
        request = EvalRequest(task, 0, data_files[task], tmp_path / "ours" / task)
        ours[task] = run_evaluation(request, lm, metadata={"test": True})
    ref_dir = run_lm_eval_hf(f"pretrained={converted_model}", TASKS, tasks_dir, tmp_path / "ref")
    ref_results = json.loads(next(ref_dir.rglob("results_*.json")).read_text())
    for task in TASKS:
        ref_samples = per_request_loglikelihoods(next(ref_dir.rglob(f"samples_{task}_*.jsonl")))
        our_samples = per_request_loglikelihoods(tmp_path / "ours" / task / samples_name(task))
        assert our_samples.keys() == ref_samples.keys() and len(our_samples) == 6
        for doc_id, ref in ref_samples.items():
            assert our_samples[doc_id] == pytest.approx(ref, abs=1e-4), (task, doc_id)
        for key, value in ref_results["results"][task].items():
            if key.startswith(("acc", "acc_norm")):
                assert ours[task]["results"][task][key] == pytest.approx(value, abs=1e-6), key


def test_seed_reuse_and_no_cross_model_hits(converted_model, data_files, tmp_path):
    cache = tmp_path / "cache"
    base = build_lm(converted_model, FP32, cache_dir=cache)
    first = run_evaluation(EvalRequest("arc_easy", 0, data_files["arc_easy"], tmp_path / "s0"), base, metadata={})
    cost0 = json.loads((tmp_path / "s0" / "scoring.json").read_text())
    second = run_evaluation(EvalRequest("arc_easy", 1, data_files["arc_easy"], tmp_path / "s1"), base, metadata={})
    cost1 = json.loads((tmp_path / "s1" / "scoring.json").read_text())
    assert cost0["scored"] == cost0["requests"] > 0
    assert (cost0["largest_token_budget"], cost0["peak_gpu_gib"]) == (8192, 0)  # token_budget auto on a CPU
    assert cost1 == {**cost1, "scored": 0, "cache_hits": cost0["requests"], "contexts_run": 0}
    assert first["results"] == second["results"]
    assert per_request_loglikelihoods(tmp_path / "s0" / "samples_arc_easy.jsonl") == per_request_loglikelihoods(
        tmp_path / "s1" / "samples_arc_easy.jsonl"
    )
    # Same weights, other quantization: another model identity, so no answer is reused.
    nf4 = build_lm(converted_model, QuantizationSettings(cpu_compute_dtype="float32"), cache_dir=cache)
    run_evaluation(EvalRequest("arc_easy", 0, data_files["arc_easy"], tmp_path / "nf4"), nf4, metadata={})
    cost_nf4 = json.loads((tmp_path / "nf4" / "scoring.json").read_text())
    assert cost_nf4["cache_hits"] == 0 and cost_nf4["scored"] == cost0["requests"]
    assert nf4.score_cache.fingerprint != base.score_cache.fingerprint


def test_limit_without_draft_is_refused(data_files, tmp_path):
    from ll_hallucination_pipeline.utils.errors import PipelineInputError

    with pytest.raises(PipelineInputError, match="drafts go under evals/drafts/"):
        EvalRequest("arc_easy", 0, data_files["arc_easy"], tmp_path / "evals/baseline/x", limit=3)
