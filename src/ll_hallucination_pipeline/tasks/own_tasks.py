"""Users' own lm-eval tasks: every task YAML under ``eval.task_dirs``, registered by name beside the built-in ones.

A YAML is read by lm-evaluation-harness's own loader (``include:`` and ``!function`` as ``lm_eval --include_path``
reads them). What the registry needs is read from it: the output type (multiple choice, scored by log-likelihood,
or greedy generation), the metrics (``metric_list``, the first tested unless ``eval.own_tasks.<name>.metric`` says
otherwise; a 0/1 metric gets McNemar, any other the paired bootstrap) and the data file (``dataset_path: json``,
``csv`` or ``parquet`` with ``dataset_kwargs.data_files``, a DAG input). What it cannot say, what the task
measures (``role``) and its name in tables (``label``), comes from ``eval.own_tasks.<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..utils import PipelineInputError
from .registry import BUILT_IN_TASKS, TASKS, Doc, Task

# lm-eval's per-item metrics that are 0 or 1 for every item (right or wrong).
RIGHT_WRONG_METRICS = frozenset({"acc", "acc_norm", "acc_mutual_info", "exact_match"})
# lm-eval's metrics of a task whose YAML lists none (its TaskConfig defaults).
DEFAULT_METRICS = {"multiple_choice": ("acc", "acc_norm"), "generate_until": ("exact_match",)}
LOCAL_BUILDERS = ("json", "csv", "parquet")


class _LmEvalDocs:
    """An own task's prompt, choices and targets of a document, by lm-eval's own ``ConfigurableTask`` (built on
    first use, only in the processes that read documents: the qualitative dumps and calibration)."""

    def __init__(self, yaml_path: Path) -> None:
        self.yaml_path = yaml_path
        self._task: Any = None

    def _lm_eval_task(self) -> Any:
        if self._task is None:
            from lm_eval.api.task import ConfigurableTask
            from lm_eval.tasks._yaml_loader import load_yaml

            self._task = ConfigurableTask(config=load_yaml(self.yaml_path))
        return self._task

    def prompt(self, doc: Doc) -> str:
        return str(self._lm_eval_task().doc_to_text(doc)).strip()

    def choices(self, doc: Doc) -> list[str]:
        return [str(choice) for choice in self._lm_eval_task().doc_to_choice(doc)]

    def correct(self, doc: Doc) -> list[bool]:
        """Which choices are a target, as lm-eval's ``process_results`` reads ``doc_to_target``: an index, a choice's
        text, or a list of either."""
        choices = self.choices(doc)
        target = self._lm_eval_task().doc_to_target(doc)
        wanted = {
            choices.index(t) if isinstance(t, str) and t in choices else int(t)
            for t in (target if isinstance(target, list) else [target])
        }
        return [i in wanted for i in range(len(choices))]

    def references(self, doc: Doc) -> tuple[list[str], list[str]]:
        """A generation document's targets as its true references; own tasks have no false ones."""
        target = self._lm_eval_task().doc_to_target(doc)
        return [str(t) for t in (target if isinstance(target, list) else [target])], []


def _load(yaml_path: Path) -> dict[str, Any]:
    from lm_eval.tasks._yaml_loader import load_yaml

    try:
        return load_yaml(yaml_path)
    except Exception as error:  # lm-eval's loader raises whatever YAML, includes or imports raise
        said = " ".join(str(error).split())  # YAML's errors span lines: one line here
        raise PipelineInputError(
            f"{yaml_path}: lm-eval cannot load this task YAML ({type(error).__name__}: {said}); fix it so that "
            "`lm_eval --include_path` reads it"
        ) from None


def _data_file(yaml_path: Path, config: dict[str, Any]) -> str:
    """The one local file lm-eval reads the evaluated split (test, else validation) from."""
    builder = config.get("dataset_path")
    if builder not in LOCAL_BUILDERS:
        raise PipelineInputError(
            f"{yaml_path}: dataset_path {builder!r}: an own task reads a local file; use dataset_path: json (or csv, "
            "parquet) with dataset_kwargs: {data_files: {test: path/to/items.jsonl}}"
        )
    split = config.get("test_split") or config.get("validation_split")
    if not split:
        raise PipelineInputError(f"{yaml_path}: no test_split or validation_split; name the split to evaluate")
    files = (config.get("dataset_kwargs") or {}).get("data_files")
    files = files.get(split) if isinstance(files, dict) else files
    files = files[0] if isinstance(files, list) and len(files) == 1 else files
    if not isinstance(files, str):
        raise PipelineInputError(
            f"{yaml_path}: dataset_kwargs.data_files gives no single file for split {split!r}; "
            f"use data_files: {{{split}: path/to/items.jsonl}}"
        )
    if not Path(files).is_file():
        raise PipelineInputError(
            f"{yaml_path}: data file {files} (split {split!r}) does not exist; create it or fix "
            "dataset_kwargs.data_files (a relative path is read from the directory the study runs in)"
        )
    return files


def _metrics(yaml_path: Path, config: dict[str, Any], output_type: str, chosen: str | None) -> tuple[str, ...]:
    """The YAML's per-item metrics, the tested one first."""
    listed = config.get("metric_list")
    names = [entry.get("metric") for entry in listed] if listed else list(DEFAULT_METRICS[output_type])
    if not all(isinstance(name, str) for name in names):
        raise PipelineInputError(
            f"{yaml_path}: metric_list names a metric by function; the pipeline reports lm-eval's metrics by name "
            "(acc, acc_norm, exact_match, bleu, ...)"
        )
    if chosen is not None and chosen not in names:
        raise PipelineInputError(
            f"eval.own_tasks.{config['task']}.metric={chosen!r} is not in {yaml_path}'s metric_list; use one of "
            + ", ".join(names)
        )
    first = chosen or names[0]
    return (first, *[name for name in names if name != first])


def own_task(yaml_path: Path, config: dict[str, Any], settings: Mapping[str, Any]) -> Task:
    """The registry's entry for the task ``config`` (loaded from ``yaml_path``) with its ``eval.own_tasks`` entry."""
    name = config["task"]
    output_type = config.get("output_type", "generate_until")  # lm-eval's TaskConfig default
    if "class" in config or output_type not in DEFAULT_METRICS:
        raise PipelineInputError(
            f"{yaml_path}: output_type {output_type!r} cannot be scored by the pipeline; own tasks are "
            "multiple_choice (log-likelihood) or generate_until (greedy generation) YAMLs"
        )
    metrics = _metrics(yaml_path, config, output_type, settings.get("metric"))
    data_file = _data_file(yaml_path, config)
    docs = _LmEvalDocs(yaml_path)
    generates = output_type == "generate_until"
    return Task(
        lm_eval_yaml=str(yaml_path.resolve()),
        data=name,
        metrics=metrics,
        paired_test="mcnemar" if metrics[0] in RIGHT_WRONG_METRICS else "bootstrap",
        label=str(settings.get("label", name)),
        metric_label=metrics[0],
        role=settings.get("role", "knowledge"),  # its keys and values are the config schema's to check
        choices=None if generates else docs.choices,
        correct=None if generates else docs.correct,
        output_type=output_type,
        right_wrong_metrics=tuple(m for m in metrics if m in RIGHT_WRONG_METRICS),
        references=docs.references if generates else None,
        prompt=docs.prompt,
        data_file=data_file,
    )


def find_own_tasks(task_dirs: list[str], own_tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, Task]:
    """Every task YAML under ``task_dirs`` (a YAML without a ``task`` name, such as a base others include, is
    skipped, as lm-eval skips it), checked: one line naming the file and the fix for what the pipeline cannot use."""
    found: dict[str, tuple[Path, Task]] = {}
    for directory in task_dirs:
        if not Path(directory).is_dir():
            raise PipelineInputError(
                f"eval.task_dirs names {directory!r}, which is not a directory; give the folder of your task YAMLs"
            )
        for yaml_path in sorted(Path(directory).rglob("*.yaml")):
            config = _load(yaml_path)
            name = config.get("task")
            if not isinstance(name, str):
                continue
            if name in found:
                raise PipelineInputError(
                    f"task {name!r} is defined twice, in {found[name][0]} and {yaml_path}; rename one (its task: key)"
                )
            if name in BUILT_IN_TASKS:
                raise PipelineInputError(
                    f"{yaml_path}: task {name!r} is a built-in task's name; rename yours (its task: key)"
                )
            found[name] = yaml_path, own_task(yaml_path, config, own_tasks.get(name, {}))
    unmatched = sorted(set(own_tasks) - set(found))
    if unmatched:
        raise PipelineInputError(
            f"eval.own_tasks names {unmatched[0]!r}, which no task YAML in eval.task_dirs defines; "
            f"use one of {', '.join(found) or '(none found)'}"
        )
    return {name: task for name, (_, task) in found.items()}


def register_own_tasks(eval_settings: Mapping[str, Any]) -> None:
    """Register the tasks of ``eval.task_dirs`` (see :func:`find_own_tasks`) in this process."""
    task_dirs, own_tasks = eval_settings.get("task_dirs") or [], eval_settings.get("own_tasks") or {}
    if isinstance(task_dirs, list) and isinstance(own_tasks, dict):  # else the schema's check names the key
        TASKS.update(find_own_tasks([str(d) for d in task_dirs], own_tasks))
        tasks = eval_settings.get("tasks") or []
        listed = {t for t in tasks if isinstance(t, str)} if isinstance(tasks, list) else set(own_tasks)
        unused = sorted(set(own_tasks) - listed)  # a malformed tasks list is the schema's to name
        if unused:
            raise PipelineInputError(
                f"eval.own_tasks describes {unused[0]!r}, which eval.tasks does not list, so it would not be "
                f"evaluated; add {unused[0]} to eval.tasks or drop its own_tasks entry"
            )
