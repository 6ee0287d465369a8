"""Summary tables of final evaluation runs: metric per (task, seed), and bootstrap CIs over items."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..stats import StatsSettings, mean_interval
from ..tasks import EvalRun, get_task
from ..utils import atomic_write_csv

ADAPTER_COLUMNS = ["adapter", "recipe", "training_seed"]
SUMMARY_COLUMNS = [
    "task",
    "seed",
    "metric",
    "value",
    "stderr",
    "n",
    "model",
    "model_path",
    "quantization",
    "device",
    "data_sha256",
    "lm_eval_version",
    "task_version",
    "results_path",
]


def summary_rows(runs: Sequence[EvalRun]) -> pd.DataFrame:
    """One row per (run, metric) with the value, lm-eval's stderr and what produced it."""
    rows = []
    for run in runs:
        meta = run.pipeline
        for metric in get_task(run.task).reported_metrics:
            value, stderr = run.metric(metric)
            rows.append(
                {
                    "task": run.task,
                    "seed": meta["seed"],
                    "metric": metric,
                    "value": value,
                    "stderr": stderr,
                    "n": run.results["n-samples"][run.task]["effective"],
                    "model": meta["model_label"],
                    "model_path": meta["model_path"],
                    "adapter": meta.get("adapter"),
                    "recipe": meta.get("recipe"),
                    "training_seed": meta.get("training_seed"),
                    "quantization": meta["quantization"],
                    "device": meta["device"],
                    "data_sha256": meta["data_sha256"],
                    "lm_eval_version": meta["versions"]["lm-eval"],
                    "task_version": run.results["versions"][run.task],
                    "results_path": run.directory.as_posix(),
                }
            )
    with_adapters = any(run.pipeline.get("adapter") for run in runs)
    columns = SUMMARY_COLUMNS[:1] + ADAPTER_COLUMNS + SUMMARY_COLUMNS[1:] if with_adapters else SUMMARY_COLUMNS
    keys = ["adapter", "task", "metric", "seed"] if with_adapters else ["task", "metric", "seed"]
    return pd.DataFrame(rows, columns=columns).sort_values(keys, kind="stable")


def interval_rows(runs: Sequence[EvalRun], s: StatsSettings) -> pd.DataFrame:
    """Bootstrap CI over items of each (task, metric, seed); flags seeds identical to another seed and samples
    too small for the interval to hold its level."""
    rows = []
    first_seen: dict[tuple[str | None, str, str, tuple[float, ...]], int] = {}
    for run in sorted(runs, key=lambda r: (r.pipeline.get("adapter") or "", r.task, r.pipeline["seed"])):
        for metric in get_task(run.task).reported_metrics:
            items = run.per_item(metric)
            values = [items[key] for key in sorted(items)]
            interval = mean_interval(
                values, n_resamples=s.n_resamples, confidence_level=s.confidence_level, seed=s.seed
            )
            signature = (run.pipeline.get("adapter"), run.task, metric, tuple(values))
            same_as = first_seen.setdefault(signature, run.pipeline["seed"])
            rows.append(
                {
                    "adapter": run.pipeline.get("adapter") or "",
                    "task": run.task,
                    "metric": metric,
                    "seed": run.pipeline["seed"],
                    "mean": interval.estimate,
                    "ci_low": interval.low,
                    "ci_high": interval.high,
                    "standard_error": interval.standard_error,
                    "n_items": interval.n,
                    "method": f"bootstrap {interval.method}, {s.n_resamples} resamples, seed {s.seed}",
                    "confidence_level": s.confidence_level,
                    "identical_to_seed": same_as if same_as != run.pipeline["seed"] else "",
                    "small_n": interval.n < s.small_n,
                }
            )
    return pd.DataFrame(rows)


def write_summaries(
    run_dirs: Sequence[str | Path],
    summary_csv: str | Path,
    intervals_csv: str | Path,
    settings: StatsSettings,
) -> None:
    runs = [EvalRun.load(d) for d in run_dirs]
    atomic_write_csv(summary_csv, summary_rows(runs))
    atomic_write_csv(intervals_csv, interval_rows(runs, settings))
