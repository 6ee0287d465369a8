"""Read lm-eval outputs (results.json, samples_<task>.jsonl) of one evaluation directory."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .data import read_jsonl
from .registry import get_task

# The files of one evaluation directory: lm-eval's results and per-item samples, and the scorer's own record.
RESULTS_NAME = "results.json"
SCORING_NAME = "scoring.json"


def samples_name(task: str) -> str:
    return f"samples_{task}.jsonl"


def run_files(task: str) -> tuple[str, ...]:
    """The files of a finished run in the order they are published: results.json last, as it marks completion."""
    return samples_name(task), SCORING_NAME, RESULTS_NAME


@dataclass(frozen=True)
class EvalRun:
    """One finished (task, seed) evaluation directory."""

    directory: Path
    task: str
    results: dict[str, Any]

    @classmethod
    def load(cls, directory: str | Path) -> EvalRun:
        directory = Path(directory)
        results = json.loads((directory / RESULTS_NAME).read_text())
        (task,) = results["results"]
        return cls(directory, task, results)

    @property
    def pipeline(self) -> dict[str, Any]:
        return self.results["pipeline"]

    def metric(self, metric: str) -> tuple[float, float]:
        """lm-eval's aggregate of ``metric`` and its stderr; a derived metric's mean and standard error over items."""
        if metric in get_task(self.task).derived:
            from lm_eval.api.metrics import mean, mean_stderr  # the stderr lm-eval gives its own mean metrics

            values = list(self.per_item(metric).values())
            return mean(values), mean_stderr(values)
        entry = self.results["results"][self.task]
        key = next(k for k in entry if k.startswith(f"{metric},"))  # "<metric>,<filter>": one filter per task
        stderr = entry[key.replace(",", "_stderr,", 1)]
        return float(entry[key]), float(stderr) if stderr != "N/A" else float("nan")

    def samples(self) -> list[dict[str, Any]]:
        return self._samples

    @cached_property
    def _samples(self) -> list[dict[str, Any]]:
        """The samples file, read once per run object."""
        with open(self.directory / samples_name(self.task), encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        return sorted(rows, key=lambda row: row["doc_id"])

    def per_item(self, metric: str) -> dict[str, float]:
        """Per-item metric keyed by lm-eval's ``doc_hash``: lm-eval's own, or one the task derives from the row."""
        derived = get_task(self.task).derived.get(metric)
        if derived:
            return {row["doc_hash"]: derived(row) for row in self.samples()}
        return {row["doc_hash"]: float(row[metric]) for row in self.samples()}


def request_loglikelihoods(samples: Iterable[dict[str, Any]]) -> dict[int, list[float]]:
    """doc_id -> the log-likelihood of each of its requests, from lm-eval's per-item samples."""
    return {row["doc_id"]: [float(resp[0][0]) for resp in row["resps"]] for row in samples}


def per_request_loglikelihoods(samples_file: str | Path) -> dict[int, list[float]]:
    """:func:`request_loglikelihoods` of an lm-eval samples file."""
    return request_loglikelihoods(read_jsonl(samples_file))
