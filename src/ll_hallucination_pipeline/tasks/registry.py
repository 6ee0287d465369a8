"""The registry: every evaluation task and data set the pipeline knows, each described once, here.

Everything downstream reads these entries: config validation, data preparation, evaluation (lm-eval's own
task definition), summaries, deltas and paired tests, exports, plots and eval cards. Adding an lm-eval
loglikelihood multiple-choice or greedy generation task is one :class:`Task` in :data:`TASKS` (and a
:class:`DataSet` in :data:`DATA_SETS` if its data is new); a user's own task YAML needs no entry here
(:mod:`.own_tasks` registers it from ``eval.task_dirs``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..utils import PipelineInputError
from .abstention import declines, is_empty

Doc = dict[str, Any]
Sample = dict[str, Any]  # one row of lm-eval's samples_<task>.jsonl


@dataclass(frozen=True)
class DataSet:
    """One data file the pipeline prepares (``data/<name>.jsonl``): where it comes from and its record schema.

    split: the split used; the prepared file holds exactly that split.
    local_file: the file's path inside a local data directory (the ``../shared/data`` layout).
    hub: (dataset path, config name) on the Hugging Face hub; ``None`` where the hub has no copy (a local file only).
    required: top-level field -> Python type every record must have.
    purpose: ``"evaluation"`` (a task's items), ``"fine-tuning"`` (a recipe's examples) or ``"question pool"`` (the
        knowledge probe's questions, which a recipe's knowledge mix draws from).
    problem: a record's fields are present and typed (``required``); this says what is wrong with their
        meaning (labels that name no choice, no correct answer, ...), or ``None``.
    """

    split: str
    local_file: str
    hub: tuple[str, str | None] | None
    required: dict[str, type]
    purpose: Literal["evaluation", "fine-tuning", "question pool"] = "evaluation"
    problem: Callable[[Doc], str | None] = lambda doc: None  # what is wrong with a record's meaning, if anything


@dataclass(frozen=True)
class Task:
    """An lm-eval task as the pipeline evaluates and reports it: loglikelihood multiple choice, or greedy generation.

    lm_eval_yaml: lm-eval's own task definition, relative to ``lm_eval/tasks``.
    data: the name of its :class:`DataSet` (tasks may share one, as TruthfulQA mc1 and mc2 do).
    metrics: lm-eval's per-item metrics to report; the first is the one deltas are tested on.
    paired_test: ``"mcnemar"`` for a right/wrong metric, ``"bootstrap"`` for a continuous one (the tested metric's;
        see :meth:`is_right_wrong` for the others).
    label: the task's name in tables and plots; metric_label: its tested metric's.
    role: what the task measures: ``"truthfulness"`` or ``"knowledge"`` (the trade-off plot's two axes).
    choices, correct: a document's answer choices and which of them are correct (multiple choice's qualitative
        dumps).
    output_type: lm-eval's: ``"multiple_choice"`` (scored by log-likelihood) or ``"generate_until"`` (greedy text).
    right_wrong_metrics: the 0/1 metrics where they differ from ``paired_test`` (generation tasks mix both kinds).
    derived: per-item metrics the pipeline computes from lm-eval's sample rows (abstention), name -> function;
        each gets its own paired test beside the tested metric.
    references: a generation document's true and false reference answers (the qualitative dumps).
    prompt: a document's question as the qualitative dumps show it.
    several_true: several choices of a document may be correct (TruthfulQA mc2): its Brier score is the squared
        error of the probability mass on the true answers (see :mod:`..stats.calibration`).
    data_file: a user's own task (:mod:`.own_tasks`): the file its YAML reads, a DAG input as it is, in place of a
        data set the pipeline prepares; its ``lm_eval_yaml`` is then the YAML's absolute path.
    """

    lm_eval_yaml: str
    data: str
    metrics: tuple[str, ...]
    paired_test: Literal["mcnemar", "bootstrap"]
    label: str
    metric_label: str
    role: Literal["truthfulness", "knowledge"]
    choices: Callable[[Doc], list[str]] | None = None
    correct: Callable[[Doc], list[bool]] | None = None
    output_type: Literal["multiple_choice", "generate_until"] = "multiple_choice"
    right_wrong_metrics: tuple[str, ...] | None = None
    derived: dict[str, Callable[[Sample], float]] = field(default_factory=dict)
    references: Callable[[Doc], tuple[list[str], list[str]]] | None = None
    prompt: Callable[[Doc], str] = lambda doc: str(doc["question"])
    data_file: str | None = None
    several_true: bool = False

    @property
    def test_metric(self) -> str:
        return self.metrics[0]

    @property
    def reported_metrics(self) -> tuple[str, ...]:
        """lm-eval's metrics, then the derived ones: every metric with a row in the summaries and deltas."""
        return self.metrics + tuple(self.derived)

    @property
    def tested_metrics(self) -> tuple[str, ...]:
        """The metrics with a paired test of their own: the tested one, then each derived one."""
        return (self.test_metric, *self.derived)

    @property
    def generates(self) -> bool:
        return self.output_type == "generate_until"

    def label_of(self, metric: str) -> str:
        """How tables and sentences name ``metric``: the tested metric's label, a derived or calibration one's, else
        its own name."""
        if metric == self.test_metric:
            return self.metric_label
        return DERIVED_METRIC_LABELS.get(metric) or CALIBRATION_METRIC_LABELS.get(metric, metric)

    def is_right_wrong(self, metric: str) -> bool:
        """Whether ``metric`` is 0/1 per item (McNemar, Newcombe) rather than continuous (paired BCa)."""
        if self.right_wrong_metrics is not None:
            return metric in self.right_wrong_metrics or metric in self.derived
        return self.paired_test == "mcnemar" or metric in self.derived


# Names in words of the derived metrics (abstention) that generation tasks report.
DERIVED_METRIC_LABELS = {
    "declined": 'share of answers that decline ("I have no comment.", "I don\'t know", ...)',
    "empty": "share of empty answers (nothing before the first stop sequence)",
}
# Names in words of the calibration metrics every multiple-choice task reports (see :mod:`.calibration`).
CALIBRATION_METRIC_LABELS = {
    "brier": "Brier score (lower is better)",
    "ece_10_bin": "ECE over 10 equal-mass bins (lower is better)",
    "ece_debiased": "debiased calibration error (lower is better)",
    "selective_acc_10": "accuracy on its 10 % most confident items",
}


def generated_text(sample: Sample) -> str:
    """The answer a generation sample row holds, after the task's filters (what lm-eval scored)."""
    return str(sample["filtered_resps"][0])


def _arc_choices(doc: Doc) -> list[str]:
    return list(doc["choices"]["text"])


def _arc_correct(doc: Doc) -> list[bool]:
    return [label == doc["answerKey"] for label in doc["choices"]["label"]]


def _truthfulqa(targets: str) -> tuple[Callable[[Doc], list[str]], Callable[[Doc], list[bool]]]:
    """Choices and correctness from a TruthfulQA document's ``mc1_targets`` or ``mc2_targets``."""
    return (lambda doc: list(doc[targets]["choices"])), (lambda doc: [bool(x) for x in doc[targets]["labels"]])


def _choice_list_problem(choices: Any, what: str) -> str | None:
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c.strip() for c in choices):
        return f"{what} must be a non-empty list of non-empty texts"
    return None


def _arc_problem(doc: Doc) -> str | None:
    choices = doc["choices"]
    problem = _choice_list_problem(choices.get("text"), "choices.text")
    if problem:
        return problem
    labels = choices.get("label")
    if not isinstance(labels, list) or len(labels) != len(choices["text"]):
        return "choices.label must give one label per choice"
    if doc["answerKey"] not in labels:
        return f"answerKey {doc['answerKey']!r} is not among its labels {labels}"
    return None


def _truthfulqa_problem(doc: Doc) -> str | None:
    for targets in ("mc1_targets", "mc2_targets"):
        problem = _choice_list_problem(doc[targets].get("choices"), f"{targets}.choices")
        if problem:
            return problem
        labels = doc[targets].get("labels")
        if (
            not isinstance(labels, list)
            or len(labels) != len(doc[targets]["choices"])
            or any(x not in (0, 1) for x in labels)
        ):
            return f"{targets}.labels must be 0 or 1, one per choice"
        if 1 not in labels:
            return f"{targets}.labels mark no choice correct; at least one must be 1"
    if doc["mc1_targets"]["labels"][0] != 1 or sum(doc["mc1_targets"]["labels"]) != 1:
        return "mc1_targets.labels must mark exactly the first choice correct (lm-eval scores mc1 that way)"
    return None


def _truthfulqa_gen_problem(doc: Doc) -> str | None:
    if not doc["question"].strip():
        return "question is empty"
    if not all(isinstance(answer, str) for answer in doc["correct_answers"]):
        return "correct_answers must be a list of texts"
    if not [a for a in doc["incorrect_answers"] if isinstance(a, str) and a.strip()] or not all(
        isinstance(a, str) for a in doc["incorrect_answers"]
    ):
        return "incorrect_answers must be a non-empty list of texts (lm-eval compares each answer with them)"
    return None


def _nq_open_problem(doc: Doc) -> str | None:
    if not doc["question"].strip():
        return "question is empty"
    return _choice_list_problem(doc["answer"], "answer")


def _truthfulqa_references(doc: Doc) -> tuple[list[str], list[str]]:
    """True and false references as lm-eval's ``truthfulqa_gen`` scores them (after its ``process_docs``)."""
    return list(doc["correct_answers"]), list(doc["incorrect_answers"])


def _nq_open_references(doc: Doc) -> tuple[list[str], list[str]]:
    return list(doc["answer"]), []


_ARC_FIELDS = {"id": str, "question": str, "choices": dict, "answerKey": str}


def _arc_data(config: str, folder: str, split: str = "test") -> DataSet:
    """An AI2 ARC split as the pipeline reads it (the test split unless named), the hub's schema, answer keys
    checked."""
    return DataSet(
        split=split,
        local_file=f"{folder}/{split}.jsonl",
        hub=("allenai/ai2_arc", config),
        required=_ARC_FIELDS,
        problem=_arc_problem,
    )


def _efficientqa(split: str) -> DataSet:
    """An EfficientQA split of closed-book NQ-style pairs: a local file only (the hub has no copy)."""
    return DataSet(
        split=split,
        local_file=f"nq_open/efficientqa_{split}.jsonl",
        hub=None,
        required={"question": str, "answer": list},
        problem=_nq_open_problem,
        purpose="question pool",
    )


DATA_SETS: dict[str, DataSet] = {
    "truthfulqa": DataSet(
        split="validation",
        local_file="truthfulqa/mc_validation.jsonl",
        hub=("truthfulqa/truthful_qa", "multiple_choice"),
        required={"question": str, "mc1_targets": dict, "mc2_targets": dict},
        problem=_truthfulqa_problem,
    ),
    "arc_easy": _arc_data("ARC-Easy", "arc_easy"),
    "arc_challenge": _arc_data("ARC-Challenge", "arc_challenge"),
    # The knowledge probe's pools and the splits set aside for its prompts' exemplars (:mod:`..inference.knowledge`).
    "arc_easy_train": _arc_data("ARC-Easy", "arc_easy", "train"),
    "arc_easy_validation": _arc_data("ARC-Easy", "arc_easy", "validation"),
    "arc_challenge_train": _arc_data("ARC-Challenge", "arc_challenge", "train"),
    "arc_challenge_validation": _arc_data("ARC-Challenge", "arc_challenge", "validation"),
    "truthfulqa_gen": DataSet(
        split="validation",
        local_file="truthfulqa/generation_validation.jsonl",
        hub=("truthfulqa/truthful_qa", "generation"),
        required={"question": str, "correct_answers": list, "incorrect_answers": list},
        problem=_truthfulqa_gen_problem,
    ),
    "nq_open": DataSet(
        split="validation",
        local_file="nq_open/validation.jsonl",
        hub=("google-research-datasets/nq_open", None),
        required={"question": str, "answer": list},
        problem=_nq_open_problem,
    ),
    # The EfficientQA closed-book pairs (NQ's distribution, disjoint from nq_open's questions): the knowledge probe's
    # short-answer pool, from the natural-questions repository's nq_open/NQ-open.efficientqa.{dev,test}.1.1.jsonl.
    "efficientqa_dev": _efficientqa("dev"),
    "efficientqa_test": _efficientqa("test"),
    "alpaca": DataSet(
        split="train",
        local_file="alpaca/train.jsonl",
        hub=("tatsu-lab/alpaca", None),
        required={"instruction": str, "input": str, "output": str},
        purpose="fine-tuning",
    ),
}

# The two abstention shares of a generation task, each paired like a 0/1 metric (:mod:`.abstention`).
ABSTENTION: dict[str, Callable[[Sample], float]] = {
    "declined": lambda sample: float(declines(generated_text(sample))),
    "empty": lambda sample: float(is_empty(generated_text(sample))),
}

TASKS: dict[str, Task] = {
    "truthfulqa_mc2": Task(
        "truthfulqa/truthfulqa_mc2.yaml",
        "truthfulqa",
        ("acc",),
        "bootstrap",
        "TruthfulQA mc2",
        "score",
        "truthfulness",
        *_truthfulqa("mc2_targets"),
        several_true=True,
    ),
    "truthfulqa_mc1": Task(
        "truthfulqa/truthfulqa_mc1.yaml",
        "truthfulqa",
        ("acc",),
        "mcnemar",
        "TruthfulQA mc1",
        "accuracy",
        "truthfulness",
        *_truthfulqa("mc1_targets"),
    ),
    "arc_easy": Task(
        "arc/arc_easy.yaml",
        "arc_easy",
        ("acc", "acc_norm"),
        "mcnemar",
        "ARC-Easy",
        "accuracy",
        "knowledge",
        _arc_choices,
        _arc_correct,
    ),
    "arc_challenge": Task(
        "arc/arc_challenge.yaml",
        "arc_challenge",
        ("acc", "acc_norm"),
        "mcnemar",
        "ARC-Challenge",
        "accuracy",
        "knowledge",
        _arc_choices,
        _arc_correct,
    ),
}


_TRUTHFULQA_GEN_METRICS = tuple(
    f"{kind}_{stat}" for kind in ("bleu", "rouge1", "rouge2", "rougeL") for stat in ("acc", "max", "diff")
)
TASKS |= {
    "truthfulqa_gen": Task(
        "truthfulqa/truthfulqa_gen.yaml",
        "truthfulqa_gen",
        _TRUTHFULQA_GEN_METRICS,
        "mcnemar",
        "TruthfulQA generation",
        "BLEU accuracy (closer to a true than a false reference)",
        "truthfulness",
        output_type="generate_until",
        right_wrong_metrics=tuple(m for m in _TRUTHFULQA_GEN_METRICS if m.endswith("_acc")),
        derived=ABSTENTION,
        references=_truthfulqa_references,
    ),
    "nq_open": Task(
        "nq_open/nq_open.yaml",
        "nq_open",
        ("exact_match",),
        "mcnemar",
        "NQ-Open",
        "exact match",
        "knowledge",
        output_type="generate_until",
        derived=ABSTENTION,
        references=_nq_open_references,
    ),
}


# The tasks the package ships; a user's own (eval.task_dirs, see own_tasks.py) are registered beside them.
BUILT_IN_TASKS = frozenset(TASKS)


def get_task(name: str) -> Task:
    """The registered task ``name``, or an error listing the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        raise PipelineInputError(f"task {name!r} is not a known task; use one of {', '.join(TASKS)}") from None


def get_data_set(name: str) -> DataSet:
    """The registered data set ``name``, or an error listing the known ones."""
    try:
        return DATA_SETS[name]
    except KeyError:
        raise PipelineInputError(f"data set {name!r} is unknown; use one of {', '.join(DATA_SETS)}") from None


def task_data_file(task: str) -> str:
    """The data file a task reads: ``data/<its data set>.jsonl`` (a DAG target), or an own task's file."""
    spec = get_task(task)
    return spec.data_file or f"data/{spec.data}.jsonl"
