"""Reading one evaluation directory in lm-eval's schema."""

from __future__ import annotations

from ll_hallucination_pipeline.tasks.results import EvalRun, request_loglikelihoods, run_files
from tests.helpers import write_run


def test_a_run_reads_its_task_metric_and_items(tmp_path):
    run = EvalRun.load(write_run(tmp_path, "arc_easy", 1, [1.0, 0.0, 1.0], "a_seed0", recipe="a"))
    assert (run.task, run.pipeline["seed"], run.pipeline["recipe"]) == ("arc_easy", 1, "a")
    assert run.metric("acc") == (2 / 3, 0.0)
    assert run.per_item("acc") == {"h000": 1.0, "h001": 0.0, "h002": 1.0}


def test_results_json_is_published_last():
    assert run_files("arc_easy") == ("samples_arc_easy.jsonl", "scoring.json", "results.json")


def test_request_loglikelihoods_per_document():
    samples = [{"doc_id": 3, "resps": [[["-1.5", "False"]], [["-0.25", "True"]]]}]
    assert request_loglikelihoods(samples) == {3: [-1.5, -0.25]}
