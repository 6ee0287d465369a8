"""Seed-invariant evaluation reuse, lm-eval template compilation and the lone ROUGE score shortcut."""

import json

import pytest

from ll_hallucination_pipeline.inference.evaluate import (
    RESULTS_NAME,
    SCORING_NAME,
    EvalRequest,
    aggregate_lone_rouge_scores_directly,
    compile_lm_eval_templates_once,
    is_seed_invariant,
    reuse_evaluation,
    samples_name,
)


def _results(output_type: str, num_fewshot: int, generation_kwargs: dict | None = None) -> dict:
    config = {"output_type": output_type, "num_fewshot": num_fewshot}
    return {
        "results": {"arc_easy": {"acc,none": 0.5}},
        "configs": {"arc_easy": config | ({"generation_kwargs": generation_kwargs} if generation_kwargs else {})},
        "config": {"random_seed": 0},
        "pipeline": {"seed": 0},
    }


@pytest.mark.parametrize(
    ("output_type", "shots", "generation_kwargs", "invariant"),
    [
        ("multiple_choice", 0, None, True),
        ("loglikelihood", 0, None, True),
        ("multiple_choice", 5, None, False),
        ("generate_until", 0, None, False),  # no record of how it decoded: every seed runs
        ("generate_until", 0, {"do_sample": False, "until": ["\n"]}, True),  # greedy
        ("generate_until", 0, {"do_sample": True, "temperature": 0.7}, False),  # sampled
        ("generate_until", 5, {"do_sample": False}, False),  # few-shot examples are drawn with the seed
    ],
)
def test_seed_invariance_is_read_from_lm_evals_record(output_type, shots, generation_kwargs, invariant):
    assert is_seed_invariant(_results(output_type, shots, generation_kwargs), "arc_easy") is invariant


def _computed_run(tmp_path, results):
    data = tmp_path / "arc.jsonl"
    data.write_text("{}\n")
    computed = EvalRequest("arc_easy", 0, data, tmp_path / "seed0")
    computed.out_dir.mkdir()
    (computed.out_dir / samples_name("arc_easy")).write_text('{"doc_id": 0}\n')
    return computed, EvalRequest("arc_easy", 1, data, tmp_path / "seed1")


def test_reuse_copies_samples_and_records_both_seeds(tmp_path):
    computed, request = _computed_run(tmp_path, _results("multiple_choice", 0))
    out = reuse_evaluation(computed, _results("multiple_choice", 0), request, metadata={"seed": 1})
    assert out["pipeline"] == {"seed": 1, "computed_with_seed": 0, "seed_invariant": "0-shot loglikelihood"}
    assert out["config"]["random_seed"] == 0 and out["results"] == _results("multiple_choice", 0)["results"]
    assert json.loads((request.out_dir / SCORING_NAME).read_text())["reused_from_seed"] == 0
    assert (request.out_dir / samples_name("arc_easy")).read_text() == '{"doc_id": 0}\n'
    assert sorted(p.name for p in request.out_dir.iterdir()) == sorted(
        [RESULTS_NAME, SCORING_NAME, samples_name("arc_easy")]
    )


def test_reuse_of_a_seed_dependent_run_is_refused(tmp_path):
    computed, request = _computed_run(tmp_path, _results("multiple_choice", 5))
    with pytest.raises(ValueError, match="every seed must run"):
        reuse_evaluation(computed, _results("multiple_choice", 5), request, metadata={"seed": 1})
    assert not request.out_dir.exists() or not any(request.out_dir.iterdir())


def test_lm_eval_templates_compile_once_and_render_the_same():
    import lm_eval.utils

    doc = {"question": "Why?", "choices": {"text": ["a", "b"]}}
    template = "Question: {{question}}\nAnswer: {{choices.text[1]}}"
    before = lm_eval.utils.apply_template(template, doc)
    compile_lm_eval_templates_once()
    compile_lm_eval_templates_once()  # idempotent: one memo, not a memo of a memo
    memo = lm_eval.utils.env.from_string
    misses = memo.cache_info().misses
    assert [lm_eval.utils.apply_template(template, doc) for _ in range(3)] == [before] * 3
    assert memo.cache_info().misses <= misses + 1 and memo.cache_info().hits >= 2


def test_a_lone_rouge_score_aggregates_to_what_the_bootstrap_gives(shared_data, monkeypatch):
    """lm-eval's truthfulqa_gen metrics on real references are the same with the lone-score shortcut as without."""
    from lm_eval.tasks.truthfulqa import utils
    from rouge_score import scoring

    rows = [json.loads(line) for line in (shared_data / "truthfulqa/generation_validation.jsonl").open()][:6]
    docs = [{**row, "correct_answers": [*row["correct_answers"], "I have no comment."]} for row in rows]
    answers = ["I have no comment.", rows[1]["incorrect_answers"][0], "Paris is in France, I think.", "", "No.", "x"]
    resampling = scoring.BootstrapAggregator  # an evaluation earlier in this process may have installed the shortcut
    while getattr(resampling, "lone_scores_direct", False):
        resampling = resampling.__bases__[0]
    monkeypatch.setattr(scoring, "BootstrapAggregator", resampling)
    before = [utils.process_results_gen(doc, [answer]) for doc, answer in zip(docs, answers, strict=True)]
    aggregate_lone_rouge_scores_directly()
    assert scoring.BootstrapAggregator is not resampling
    after = [utils.process_results_gen(doc, [answer]) for doc, answer in zip(docs, answers, strict=True)]
    assert after == before
    assert any(0 < row["rouge1_max"] < 100 for row in before)  # scores that are neither all nor nothing
