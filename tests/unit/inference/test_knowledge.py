"""SliCK's knowledge categories: the paper's rules on free-form answers, the chance correction on multiple choice
(a guessing scorer is Unknown, a perfect one HighlyKnown), and the settings' bad values."""

from __future__ import annotations

import numpy as np
import pytest

from ll_hallucination_pipeline.inference.knowledge import (
    CATEGORIES,
    ChoiceItem,
    ItemKnowledge,
    ProbeSettings,
    ShortAnswerItem,
    few_shot_prefixes,
    item_id,
    multiple_choice_knowledge,
    nq_open_item,
    probe_multiple_choice,
    probe_short_answers,
    short_answer_right,
)
from ll_hallucination_pipeline.utils import PipelineInputError

DEFAULTS = ProbeSettings()


@pytest.mark.parametrize(
    ("greedy", "sampled", "category"),
    [
        ([True] * 10, [16] * 10, "HighlyKnown"),
        ([True] + [False] * 9, [0] * 10, "MaybeKnown"),
        ([False] * 10, [0] * 9 + [1], "WeaklyKnown"),
        ([False] * 10, [0] * 10, "Unknown"),
    ],
)
def test_free_form_answers_follow_the_papers_rules(greedy, sampled, category):
    item = ItemKnowledge(tuple(greedy), tuple(sampled), samples=16)
    assert item.category(DEFAULTS.alpha) == category
    assert item.p_greedy == sum(greedy) / 10 and item.p_sampled == sum(sampled) / 160


def _categories(loglikelihoods_of, n_items: int, settings: ProbeSettings = DEFAULTS) -> dict[str, float]:
    """Share of ``n_items`` four-choice items (the first choice right) in each category."""
    found = [
        multiple_choice_knowledge(loglikelihoods_of(item), 0, settings, item=item).category(settings.alpha)
        for item in range(n_items)
    ]
    return {name: found.count(name) / n_items for name in CATEGORIES}


def test_a_scorer_that_guesses_uniformly_puts_nearly_every_item_in_unknown():
    rng = np.random.default_rng(7)
    shares = _categories(lambda item: rng.normal(size=(10, 4)), 2000)
    assert shares["Unknown"] >= 0.95, shares
    # Without the correction nearly every item would be known or weakly known (the reason for it).
    plain = [ItemKnowledge(k.greedy_right, k.sampled_right, 16) for k in _guesses(rng, 200)]
    assert sum(k.category(0.01) == "Unknown" for k in plain) / 200 < 0.05


def _guesses(rng: np.random.Generator, n: int) -> list[ItemKnowledge]:
    return [multiple_choice_knowledge(rng.normal(size=(10, 4)), 0, DEFAULTS, item=i) for i in range(n)]


def test_a_perfect_scorer_puts_every_item_in_highly_known():
    right_first = np.tile([0.0, -5.0, -6.0, -7.0], (10, 1))
    assert _categories(lambda item: right_first, 200)["HighlyKnown"] == 1.0


def test_a_scorer_right_under_some_prompts_is_maybe_known_and_one_whose_samples_beat_chance_weakly_known():
    sometimes = np.array([[0.0, -5.0, -6.0, -7.0]] * 8 + [[-5.0, 0.0, -6.0, -7.0]] * 2)
    item = multiple_choice_knowledge(sometimes, 0, DEFAULTS, item=0)
    assert item.category(DEFAULTS.alpha) == "MaybeKnown" and item.p_greedy == 0.8
    runner_up = np.tile([-0.1, 0.0, -9.0, -9.0], (10, 1))  # never the argmax, but nearly half of the samples
    item = multiple_choice_knowledge(runner_up, 0, DEFAULTS, item=0)
    assert item.category(DEFAULTS.alpha) == "WeaklyKnown" and item.p_greedy == 0 and 0.3 < item.p_sampled < 0.6


def test_samples_depend_on_the_seed_and_item_only():
    scores = np.random.default_rng(1).normal(size=(10, 4))
    first = multiple_choice_knowledge(scores, 2, DEFAULTS, item=5)
    assert multiple_choice_knowledge(scores, 2, DEFAULTS, item=5) == first
    assert multiple_choice_knowledge(scores, 2, ProbeSettings(seed=1), item=5) != first
    greedy_only = multiple_choice_knowledge(scores, 2, ProbeSettings(temperature=0), item=5)
    assert greedy_only.sampled_right == tuple(16 * right for right in greedy_only.greedy_right)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"prompts": 0}, r"knowledge.probe.prompts=0 must be at least 1"),
        ({"samples": -1}, r"knowledge.probe.samples=-1 must be at least 1"),
        ({"temperature": -0.1}, r"knowledge.probe.temperature=-0.1 must be 0 or more"),
        ({"alpha": 1.5}, r"knowledge.probe.alpha=1.5 must be between 0 and 1"),
    ],
)
def test_bad_settings_are_refused_with_one_line(setting, message):
    with pytest.raises(PipelineInputError, match=message):
        ProbeSettings(**setting)


class KnowsTheFirstChoice:
    """A stand-in scorer: log-likelihood 0 for each item's first choice, -5 for the others; records the contexts."""

    def __init__(self) -> None:
        self.contexts: list[str] = []

    def loglikelihood(self, requests):
        self.contexts += [r.args[0] for r in requests]
        return [(0.0 if r.args[1].startswith(" right") else -5.0, True) for r in requests]


def test_the_probe_asks_each_item_under_k_prompts_that_open_with_shared_exemplars():
    exemplars = [ChoiceItem(f"Question: e{n}?\nAnswer:", ("x", "y"), 1) for n in range(8)]
    items = [ChoiceItem(f"Question: q{n}?\nAnswer:", ("right", "wrong a", "wrong b"), 0) for n in range(5)]
    lm = KnowsTheFirstChoice()
    settings = ProbeSettings(prompts=5, shots=2, samples=4)
    found = probe_multiple_choice(lm, items, exemplars, settings)
    assert [k.category(settings.alpha) for k in found] == ["HighlyKnown"] * 5
    prefixes = few_shot_prefixes([(e.question, "y") for e in exemplars], settings)
    assert len(set(prefixes)) == 5 and all(p.count("\n\n") == 2 and "Answer: y" in p for p in prefixes)
    assert len(lm.contexts) == 5 * 5 * 3 and {c[: -len("Question: q0?\nAnswer:")] for c in lm.contexts} == set(prefixes)
    assert not any("q" in p for p in prefixes)  # the probed items never appear among the exemplars


def test_too_few_exemplars_are_refused():
    with pytest.raises(PipelineInputError, match=r"10 different prompts of 4 exemplars need more than the 5 exemplars"):
        few_shot_prefixes([(f"q{n}", "a") for n in range(5)], DEFAULTS)  # 5 sets of 4; 6 exemplars have 15
    assert len(set(few_shot_prefixes([(f"q{n}", "a") for n in range(6)], DEFAULTS))) == 10


@pytest.mark.parametrize(
    ("answer", "references", "right"),
    [
        (" The Eiffel Tower.", ["Eiffel Tower"], True),  # nq_open's article and punctuation rules, spaces stripped
        ("PARIS", ["Lyon", "paris"], True),  # any reference, case ignored
        ("Paris, France", ["Paris"], False),  # exact, not contained
        ("", ["Paris"], False),
    ],
)
def test_a_short_answer_is_right_by_lm_evals_nq_open_exact_match(answer, references, right):
    assert short_answer_right(answer, references) is right


class AnswersFromALookup:
    """A generator stand-in: the greedy answer and the samples of a context from its question's last word."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[str], list[str], int, int]] = []

    def sample_until(self, contexts, until, max_new_tokens, sampling):
        self.calls.append((list(contexts), list(until), max_new_tokens, sampling.samples))
        return [self.answers[c.rsplit("Q: ", 1)[1]][: 1 + sampling.samples] for c in contexts]


def test_short_answers_are_asked_in_nq_opens_few_shot_format_with_samples_beside_the_greedy_one():
    exemplars = [nq_open_item({"question": f"e{n}", "answer": [f"a{n}", "other"]}) for n in range(6)]
    items = [ShortAnswerItem("Q: known?\nA:", ("yes",)), ShortAnswerItem("Q: guessed?\nA:", ("yes",))]
    lm = AnswersFromALookup({"known?\nA:": [" Yes."] * 5, "guessed?\nA:": [" no", " no", "yes", " no", " no"]})
    settings = ProbeSettings(prompts=3, shots=2, samples=4)
    found = probe_short_answers(lm, items, exemplars, settings)
    assert [k.category(settings.alpha) for k in found] == ["HighlyKnown", "WeaklyKnown"]
    assert found[1].sampled_right == (1, 1, 1)
    contexts, until, max_new, samples = lm.calls[0]
    assert len(lm.calls) == 3 and until == ["\n", ".", ","] and (max_new, samples) == (32, 4)
    assert contexts[0].startswith("Answer these questions:\n\nQ: e")
    shots = contexts[0].split("\n")
    assert shots[2].startswith("Q: e") and shots[3].startswith("A: a") and shots[-2:] == ["Q: known?", "A:"]
    at_zero = probe_short_answers(lm, items, exemplars, ProbeSettings(prompts=3, shots=2, samples=4, temperature=0))
    assert at_zero[1].sampled_right == (0, 0, 0) and at_zero[0].sampled_right == (4, 4, 4)
    assert lm.calls[-1][3] == 0  # at temperature 0 no sample is drawn


def test_an_item_is_known_by_its_id_or_where_its_schema_has_none_by_its_question():
    assert item_id({"id": "Mercury_7175875", "question": "Which planet?"}) == "Mercury_7175875"
    assert item_id({"question": "who wrote hamlet", "answer": ["Shakespeare"]}) == "who wrote hamlet"
