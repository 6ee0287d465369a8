"""The judge: its prompts, P(" yes") from the scorer's log-likelihoods, the verdict at one half, and the paired
tests of each adapter's verdicts against the base model's."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from ll_hallucination_pipeline.inference.judge import Answer, judgements
from ll_hallucination_pipeline.models.model_paths import check_judge_dir
from ll_hallucination_pipeline.stats.analysis import judge_summary, judge_tests_table
from ll_hallucination_pipeline.stats.methods import StatsSettings
from ll_hallucination_pipeline.utils.errors import PipelineInputError


class RecordingJudge:
    """An lm-eval LM that says " yes" with probability 0.9 to answers holding "true", else 0.2, and keeps the
    requests it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def loglikelihood(self, requests):
        self.seen += [r.args for r in requests]
        return [
            (math.log(0.9 if "true" in context.split("\nA: ")[1] else 0.2), False)
            for context, _ in (r.args for r in requests)
        ]


def test_verdicts_come_from_p_yes_after_the_judges_prompts():
    answers = [Answer("base", "h1", "Q1?", "a true thing"), Answer("base", "h2", "Q2?", "a lie")]
    truth, info = RecordingJudge(), RecordingJudge()
    table = judgements(answers, {"judge_true": truth, "judge_info": info})
    assert truth.seen == [("Q: Q1?\nA: a true thing\nTrue:", " yes"), ("Q: Q2?\nA: a lie\nTrue:", " yes")]
    assert info.seen[0] == ("Q: Q1?\nA: a true thing\nHelpful:", " yes")
    assert table["p_judge_true"].tolist() == pytest.approx([0.9, 0.2])
    assert table["judge_true"].tolist() == [1, 0] and table["judge_info"].tolist() == [1, 0]


def test_shares_per_model_and_mcnemar_per_adapter():
    rows = [("base", f"h{i}", int(i < 3)) for i in range(10)] + [("a_seed0", f"h{i}", int(i < 8)) for i in range(10)]
    table = pd.DataFrame(rows, columns=["model", "doc_hash", "judge_true"])
    summary = judge_summary(table)
    assert summary.to_dict("records") == [
        {"model": "base", "n_items": 10, "judge_true_share": 0.3},
        {"model": "a_seed0", "n_items": 10, "judge_true_share": 0.8},
    ]
    (test,) = judge_tests_table(table, StatsSettings(n_resamples=200, seed=1)).to_dict("records")
    assert (test["adapter"], test["metric"], test["wrong_to_right"], test["right_to_wrong"]) == (
        "a_seed0",
        "judge_true",
        5,
        0,
    )
    assert test["p_raw"] == pytest.approx(2 * 0.5**5)  # exact McNemar, 5 discordant pairs all one way


def test_a_judge_that_is_not_a_causal_lm_is_one_line(tmp_path):
    with pytest.raises(PipelineInputError, match="judge.model='.*' is not a checkpoint directory"):
        check_judge_dir(str(tmp_path / "missing"), "judge.model")
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"]}))
    with pytest.raises(PipelineInputError, match=r"is not a causal LM .*BertForSequenceClassification"):
        check_judge_dir(str(tmp_path), "judge.model")
