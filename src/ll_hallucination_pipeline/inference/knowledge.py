"""What the base model knows about each item of a question-answer set: SliCK's knowledge categories (Gekhman et
al., "Does Fine-Tuning LLMs on New Knowledge Encourage Hallucinations?", EMNLP 2024).

The model answers every item under K few-shot prompts, greedily and with S samples at temperature T. With
P_correct(greedy) and P_correct(sampled) the shares of right answers:

- ``HighlyKnown``: greedy is always right;
- ``MaybeKnown``: greedy is sometimes right;
- ``WeaklyKnown``: greedy is never right, a sample sometimes is;
- ``Unknown``: never right.

On a short-answer set (NQ-Open's) "right" is lm-eval's own ``nq_open`` exact match (its normalisation, any of
the item's answers), and the S samples of a prompt are drawn after one shared prefill
(:meth:`~.scoring.SharedPrefixLM.sample_until`), stopping at ``nq_open``'s stop sequences.

These rules assume free-form answers, where a guess is almost never right. With k answer choices a model that
guesses is greedy-right under some of 10 prompts 94 % of the time (1 − 0.75¹⁰ at k = 4), so on multiple choice
"right" counts only where it beats chance: greedy is *known* where its right answers out of K are significantly
more than K/k (exact one-sided binomial test at ``alpha``), sampled where the K prompts' shares of right samples
are significantly above 1/k (one-sided t-test over the prompts: the samples of one prompt share its
distribution, so they are not independent trials). Then ``HighlyKnown`` is greedy known and always right,
``MaybeKnown`` greedy known, ``WeaklyKnown`` sampled known only, ``Unknown`` neither.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..tasks import get_task
from ..utils import PipelineInputError

CATEGORIES = ("HighlyKnown", "MaybeKnown", "WeaklyKnown", "Unknown")


@dataclass(frozen=True)
class ProbeSet:
    """A question set the probe can categorize: the data file of its items, the one set aside for the prompts'
    exemplars (never an item probed or trained on; the paper draws them from the dev split), how its items are
    answered, and whether it is a fine-tuning pool (a recipe's knowledge mix may draw from it) or a test set."""

    data: str
    exemplars: str
    kind: Literal["multiple_choice", "short_answer"] = "multiple_choice"
    pool: bool = False


# The sets ``knowledge.sets`` may name: the ARC train splits and the EfficientQA pool (fine-tuning pools) and the
# test splits (evaluation). The NQ-Open sets take their exemplars from the pool's set-aside slice.
PROBE_SETS = {
    "arc_easy_train": ProbeSet("arc_easy_train", "arc_easy_validation", pool=True),
    "arc_easy": ProbeSet("arc_easy", "arc_easy_validation"),
    "arc_challenge_train": ProbeSet("arc_challenge_train", "arc_challenge_validation", pool=True),
    "arc_challenge": ProbeSet("arc_challenge", "arc_challenge_validation"),
    "nq_open_pool": ProbeSet("nq_open_pool", "nq_open_pool_exemplars", "short_answer", pool=True),
    "nq_open": ProbeSet("nq_open", "nq_open_pool_exemplars", "short_answer"),
}


@dataclass(frozen=True)
class ProbeSettings:
    """The ``knowledge.probe`` section of the config: how the base model is asked (the paper's defaults).

    shots: exemplars per prompt; prompts: K, the few-shot prompts per item; samples: S, the sampled answers per
    prompt; temperature: T of the samples; alpha: the chance test's level on multiple choice; seed: which
    exemplars each prompt takes and which samples are drawn; max_new_tokens: the cap of a short answer.
    """

    shots: int = 4
    prompts: int = 10
    samples: int = 16
    temperature: float = 0.5
    alpha: float = 0.01
    seed: int = 0
    max_new_tokens: int = 32

    def __post_init__(self) -> None:
        for name in ("shots", "prompts", "samples", "max_new_tokens"):
            if getattr(self, name) <= 0:
                raise PipelineInputError(f"knowledge.probe.{name}={getattr(self, name)} must be at least 1")
        if self.temperature < 0:
            raise PipelineInputError(f"knowledge.probe.temperature={self.temperature} must be 0 or more")
        if not 0 < self.alpha < 1:
            raise PipelineInputError(f"knowledge.probe.alpha={self.alpha} must be between 0 and 1")


@dataclass(frozen=True)
class ItemKnowledge:
    """One item's answers: which of the K prompts' greedy answers were right, how many of each prompt's S samples
    were, and its number of answer choices (``None`` for a free-form answer)."""

    greedy_right: tuple[bool, ...]
    sampled_right: tuple[int, ...]
    samples: int
    choices: int | None = None

    @property
    def p_greedy(self) -> float:
        return sum(self.greedy_right) / len(self.greedy_right)

    @property
    def p_sampled(self) -> float:
        return sum(self.sampled_right) / (self.samples * len(self.sampled_right))

    def category(self, alpha: float) -> str:
        """The item's category (see the module docstring); ``alpha`` only matters on multiple choice."""
        greedy, sampled = self._known(alpha)
        if greedy:
            return "HighlyKnown" if all(self.greedy_right) else "MaybeKnown"
        return "WeaklyKnown" if sampled else "Unknown"

    def _known(self, alpha: float) -> tuple[bool, bool]:
        """Whether the greedy and the sampled answers are right more often than a guess would be."""
        if self.choices is None:
            return any(self.greedy_right), any(self.sampled_right)
        from scipy.stats import binomtest

        chance = 1 / self.choices
        greedy = binomtest(sum(self.greedy_right), len(self.greedy_right), chance, alternative="greater")
        return greedy.pvalue < alpha, _mean_above([right / self.samples for right in self.sampled_right], chance, alpha)


def _mean_above(shares: Sequence[float], chance: float, alpha: float) -> bool:
    """Whether the mean of ``shares`` is significantly above ``chance`` (one-sided one-sample t-test); with no
    spread, whether every share is above it."""
    from scipy.stats import ttest_1samp

    if len(shares) < 2 or max(shares) == min(shares):
        return min(shares) > chance
    result = ttest_1samp(shares, chance, alternative="greater")
    return bool(not math.isnan(result.pvalue) and result.pvalue < alpha)


def multiple_choice_knowledge(
    loglikelihoods: Sequence[Sequence[float]], correct: int, settings: ProbeSettings, *, item: int
) -> ItemKnowledge:
    """An item's answers from its choices' log-likelihoods under each of the K prompts (``[K][choices]``): the
    argmax is the greedy answer, S samples are drawn from the softmax at the temperature (no generation needed).
    The samples come from a generator seeded by ``settings.seed`` and the item's index ``item``, so they do not
    depend on how the items were batched. At temperature 0 every sample is the greedy answer."""
    import numpy as np

    rng = np.random.default_rng([settings.seed, item])
    greedy, sampled = [], []
    for row in loglikelihoods:
        scores = np.asarray(row, dtype=float)
        best = int(np.argmax(scores))
        greedy.append(best == correct)
        if settings.temperature == 0:
            sampled.append(settings.samples * (best == correct))
            continue
        weights = np.exp((scores - scores.max()) / settings.temperature)
        draws = rng.choice(len(scores), size=settings.samples, p=weights / weights.sum())
        sampled.append(int((draws == correct).sum()))
    return ItemKnowledge(tuple(greedy), tuple(sampled), settings.samples, choices=len(loglikelihoods[0]))


def exemplar_sets(exemplars: int, settings: ProbeSettings) -> list[tuple[int, ...]]:
    """The K prompts' exemplars: K different sets of ``settings.shots`` indices into the ``exemplars`` set-aside
    items, drawn by a generator seeded with ``settings.seed``; each prompt's set the same for every item (as the
    paper's K exemplar sets)."""
    import numpy as np

    if math.comb(exemplars, settings.shots) < settings.prompts:
        raise PipelineInputError(
            f"knowledge.probe: {settings.prompts} different prompts of {settings.shots} exemplars need more than the "
            f"{exemplars} exemplars of the exemplar split; lower knowledge.probe.prompts or shots"
        )
    rng = np.random.default_rng(settings.seed)
    sets: list[tuple[int, ...]] = []
    while len(sets) < settings.prompts:
        picked = tuple(sorted(int(i) for i in rng.choice(exemplars, settings.shots, replace=False)))
        if picked not in sets:
            sets.append(picked)
    return sets


def few_shot_prefixes(
    exemplars: Sequence[tuple[str, str]], settings: ProbeSettings, *, description: str = "", delimiter: str = "\n\n"
) -> list[str]:
    """The K prompts' openings (:func:`exemplar_sets`) as the task writes a few-shot context: its ``description``,
    then each (question, answer) exemplar and the task's few-shot ``delimiter``; each opening runs once for all
    items."""
    return [
        description + "".join(f"{exemplars[i][0]} {exemplars[i][1]}{delimiter}" for i in picked)
        for picked in exemplar_sets(len(exemplars), settings)
    ]


@dataclass(frozen=True)
class ChoiceItem:
    """A multiple-choice item as the probe asks it: the question as lm-eval's task writes it, the choices' texts
    and the correct one's index."""

    question: str
    choices: tuple[str, ...]
    correct: int


def probe_multiple_choice(
    lm: Any, items: Sequence[ChoiceItem], exemplars: Sequence[ChoiceItem], settings: ProbeSettings
) -> list[ItemKnowledge]:
    """Each item's answers under the K prompts through the scorer ``lm`` (lm-eval's ``loglikelihood``, cached per
    model): one pass per prompt, all items after that prompt's shared opening."""
    from types import SimpleNamespace

    prefixes = few_shot_prefixes([(e.question, e.choices[e.correct]) for e in exemplars], settings)
    scores: list[list[list[float]]] = [[] for _ in items]
    for prefix in prefixes:
        requests = [
            SimpleNamespace(args=(prefix + item.question, f" {choice}")) for item in items for choice in item.choices
        ]
        results = iter(lm.loglikelihood(requests))
        for per_item, item in zip(scores, items, strict=True):
            per_item.append([next(results)[0] for _ in item.choices])
    return [
        multiple_choice_knowledge(per_item, item.correct, settings, item=n)
        for n, (per_item, item) in enumerate(zip(scores, items, strict=True))
    ]


def arc_choice_item(doc: dict[str, Any]) -> ChoiceItem:
    """An ARC document as lm-eval's ``arc_easy`` task asks it (``Question: ...\nAnswer:``, each choice after a
    space), its choices and correct one as the task registry reads them."""
    arc = get_task("arc_easy")
    return ChoiceItem(f"Question: {doc['question']}\nAnswer:", tuple(arc.choices(doc)), arc.correct(doc).index(True))


@dataclass(frozen=True)
class ShortAnswerItem:
    """A short-answer item as the probe asks it: the question as lm-eval's ``nq_open`` writes it and every answer
    counted right."""

    question: str
    answers: tuple[str, ...]


@functools.cache
def nq_open_task() -> dict[str, Any]:
    """lm-eval's own ``nq_open`` task definition (its prompt, stop sequences and exact-match options)."""
    import lm_eval.tasks
    import yaml

    return yaml.safe_load((Path(lm_eval.tasks.__file__).parent / "nq_open/nq_open.yaml").read_text())


def nq_open_item(doc: dict[str, Any]) -> ShortAnswerItem:
    """An NQ-schema document as lm-eval's ``nq_open`` asks it (``Q: ...?\nA:``) with all its answers."""
    return ShortAnswerItem(f"Q: {doc['question']}?\nA:", tuple(doc["answer"]))


def item_id(doc: dict[str, Any]) -> str:
    """An item's identifier in the probe's and the mixes' tables: its ``id`` (ARC), or where the schema has none
    (NQ), its question."""
    return str(doc.get("id") or doc["question"])


@functools.cache
def _exact_match_options() -> dict[str, Any]:
    """The options of ``nq_open``'s exact_match metric (case, punctuation, articles), as its YAML gives them."""
    (metric,) = [m for m in nq_open_task()["metric_list"] if m["metric"] == "exact_match"]
    return {k: v for k, v in metric.items() if k not in ("metric", "aggregation", "higher_is_better")}


def short_answer_right(answer: str, references: Sequence[str]) -> bool:
    """Whether ``answer`` is right by lm-eval's ``nq_open`` exact match: its ``remove_whitespace`` filter, then
    the metric's options against each reference, right where any matches."""
    from lm_eval.api.metrics import exact_match_hf_evaluate

    predictions = [answer.strip()] * len(references)
    matched = exact_match_hf_evaluate(predictions, list(references), **_exact_match_options())
    return bool(matched["exact_match"] > 0)


def probe_short_answers(
    lm: Any, items: Sequence[ShortAnswerItem], exemplars: Sequence[ShortAnswerItem], settings: ProbeSettings
) -> list[ItemKnowledge]:
    """Each item's answers under the K prompts (``nq_open``'s few-shot format, each exemplar with its first
    answer) through ``lm``'s batched generator: per prompt, the greedy answer and S samples sharing its prefill, at
    most ``settings.max_new_tokens`` tokens, stopped at the task's stop sequences. At temperature 0 every sample is
    the greedy answer."""
    from .generation import Sampling

    task = nq_open_task()
    prefixes = few_shot_prefixes(
        [(e.question, e.answers[0]) for e in exemplars],
        settings,
        description=task["description"],
        delimiter=task["fewshot_delimiter"],
    )
    sampled = settings.temperature > 0
    sampling = Sampling(settings.samples if sampled else 0, settings.temperature, settings.seed)
    until = task["generation_kwargs"]["until"]
    greedy: list[list[bool]] = [[] for _ in items]
    right: list[list[int]] = [[] for _ in items]
    for prefix in prefixes:
        contexts = [prefix + item.question for item in items]
        answered = lm.sample_until(contexts, until, settings.max_new_tokens, sampling)
        for n, (item, answers) in enumerate(zip(items, answered, strict=True)):
            verdicts = {answer: short_answer_right(answer, item.answers) for answer in set(answers)}  # samples repeat
            marks = [verdicts[answer] for answer in answers]
            greedy[n].append(marks[0])
            right[n].append(sum(marks[1:]) if sampled else settings.samples * marks[0])
    return [ItemKnowledge(tuple(g), tuple(r), settings.samples) for g, r in zip(greedy, right, strict=True)]


def probe_rows(
    lm: Any,
    items: Sequence[dict[str, Any]],
    exemplars: Sequence[dict[str, Any]],
    settings: ProbeSettings,
    *,
    kind: Literal["multiple_choice", "short_answer"] = "multiple_choice",
) -> list[dict[str, Any]]:
    """One row per item of an ARC-schema (``multiple_choice``) or NQ-schema (``short_answer``) set: its index and
    id, right answers greedy (of K) and sampled (of K x S), both P_correct values and its category."""
    short = kind == "short_answer"
    asked, probe = (nq_open_item, probe_short_answers) if short else (arc_choice_item, probe_multiple_choice)
    found = probe(lm, [asked(d) for d in items], [asked(d) for d in exemplars], settings)
    return [
        {
            "item": n,
            "id": item_id(doc),
            "greedy_right": sum(known.greedy_right),
            "sampled_right": sum(known.sampled_right),
            "p_greedy": known.p_greedy,
            "p_sampled": known.p_sampled,
            "category": known.category(settings.alpha),
        }
        for n, (doc, known) in enumerate(zip(items, found, strict=True))
    ]
