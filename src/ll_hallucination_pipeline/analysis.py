"""Pre/post tables: per-seed deltas, paired tests with Holm correction, pooled training seeds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .compare import holm, join_items, mcnemar_correctness, paired_bootstrap, unique_by_hash
from .results import EvalRun
from .tasks import get_task


@dataclass(frozen=True)
class StatsSettings:
    n_resamples: int = 10_000
    confidence_level: float = 0.95
    seed: int = 0


@dataclass
class RunSet:
    """Final runs by key: baseline[(task, seed)], post[(adapter, task, seed)]."""

    baseline: dict[tuple[str, int], EvalRun] = field(default_factory=dict)
    post: dict[tuple[str, str, int], EvalRun] = field(default_factory=dict)

    @classmethod
    def load(cls, baseline_dirs: Sequence[str], post_dirs: Sequence[str]) -> RunSet:
        runs = cls()
        for d in baseline_dirs:
            run = EvalRun.load(d)
            runs.baseline[(run.task, run.pipeline["seed"])] = run
        for d in post_dirs:
            run = EvalRun.load(d)
            runs.post[(run.pipeline["adapter"], run.task, run.pipeline["seed"])] = run
        return runs

    def adapters(self) -> list[str]:
        return sorted({a for a, _, _ in self.post})

    def tasks(self) -> list[str]:
        return sorted({t for t, _ in self.baseline})

    def seeds(self) -> list[int]:
        return sorted({s for _, s in self.baseline})


def _paired_items(base: EvalRun, post: EvalRun, metric: str) -> tuple[np.ndarray, np.ndarray]:
    label = f"{post.pipeline['adapter']}/{post.task} seed {post.pipeline['seed']}"
    unique_by_hash(base.samples(), label=f"baseline {label}")
    unique_by_hash(post.samples(), label=label)
    return join_items(base.per_item(metric), post.per_item(metric), label=label)


def deltas_table(runs: RunSet, settings: StatsSettings) -> pd.DataFrame:
    """Baseline value, post value, delta and its paired-bootstrap CI per (task, metric, adapter, eval seed)."""
    rows = []
    for (adapter, task, seed), post in sorted(runs.post.items()):
        base = runs.baseline[(task, seed)]
        for metric in get_task(task).metrics:
            b, p = _paired_items(base, post, metric)
            boot = paired_bootstrap(
                b, p, n_resamples=settings.n_resamples, confidence_level=settings.confidence_level, seed=settings.seed
            )
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "adapter": adapter,
                    "recipe": post.pipeline.get("recipe"),
                    "training_seed": post.pipeline.get("training_seed"),
                    "eval_seed": seed,
                    "baseline": float(b.mean()),
                    "post": float(p.mean()),
                    "delta": boot.mean_difference,
                    "delta_ci_low": boot.low,
                    "delta_ci_high": boot.high,
                    "n_items": boot.n,
                }
            )
    return pd.DataFrame(rows)


def eval_seeds_identical(runs: RunSet, task: str, adapter: str | None = None) -> bool:
    """True when every eval seed gave the same per-item values (0-shot loglikelihood tasks)."""
    pick = (lambda s: runs.baseline[(task, s)]) if adapter is None else (lambda s: runs.post[(adapter, task, s)])
    metric = get_task(task).test_metric
    values = [pick(s).per_item(metric) for s in runs.seeds()]
    return all(v == values[0] for v in values[1:])


def _test_row(task: str, adapter: str, level: str, base: np.ndarray, post: np.ndarray, s: StatsSettings) -> dict:
    boot = paired_bootstrap(base, post, n_resamples=s.n_resamples, confidence_level=s.confidence_level, seed=s.seed)
    row = {
        "task": task,
        "metric": get_task(task).test_metric,
        "adapter": adapter,
        "level": level,
        "n_items": boot.n,
        "baseline": float(base.mean()),
        "post": float(post.mean()),
        "delta": boot.mean_difference,
        "delta_ci_low": boot.low,
        "delta_ci_high": boot.high,
    }
    if get_task(task).paired_test == "mcnemar" and level == "training seed":
        mc = mcnemar_correctness(base, post)
        row |= {
            "test": "McNemar exact (statsmodels)",
            "both_right": mc.both_right,
            "right_to_wrong": mc.base_only,
            "wrong_to_right": mc.post_only,
            "both_wrong": mc.both_wrong,
            "p_raw": mc.pvalue,
        }
    else:
        row |= {"test": f"paired bootstrap BCa (scipy), {s.n_resamples} resamples", "p_raw": boot.pvalue}
    return row


def paired_tests_table(runs: RunSet, settings: StatsSettings) -> pd.DataFrame:
    """Per adapter and task on the first eval seed: the task's paired test (McNemar for a right/wrong metric, else
    paired bootstrap).

    Recipes with several training seeds also get a pooled row (items resampled within the
    seed-averaged per-item delta) and the spread of per-seed deltas beside it. Holm adjusts p-values
    across adapters within each task and level.
    """
    seed = runs.seeds()[0]
    rows = []
    by_recipe: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for task in runs.tasks():
        base_run = runs.baseline[(task, seed)]
        for adapter in runs.adapters():
            post_run = runs.post[(adapter, task, seed)]
            base, post = _paired_items(base_run, post_run, get_task(task).test_metric)
            row = _test_row(task, adapter, "training seed", base, post, settings)
            row["recipe"] = post_run.pipeline.get("recipe")
            row["training_seed"] = post_run.pipeline.get("training_seed")
            row["eval_seed"] = seed
            row["eval_seeds_identical"] = eval_seeds_identical(runs, task) and eval_seeds_identical(runs, task, adapter)
            rows.append(row)
            if row["recipe"]:
                by_recipe[(task, row["recipe"])].append((base, post))
    for (task, recipe), pairs in sorted(by_recipe.items()):
        if len(pairs) < 2:
            continue
        base = pairs[0][0]
        pooled_post = np.mean([post for _, post in pairs], axis=0)
        row = _test_row(task, f"{recipe} (pooled)", "pooled over training seeds", base, pooled_post, settings)
        per_seed = [float((post - b).mean()) for b, post in pairs]
        row |= {
            "recipe": recipe,
            "training_seed": "all",
            "eval_seed": seed,
            "training_seed_delta_sd": float(np.std(per_seed, ddof=1)),
            "training_seed_delta_range": f"{min(per_seed):.6g}..{max(per_seed):.6g}",
        }
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = np.nan
    for _, index in table.groupby(["task", "level"]).groups.items():
        table.loc[index, "p_holm"] = holm(table.loc[index, "p_raw"].tolist())
    table["significant"] = table["p_holm"] < (1 - settings.confidence_level)
    return table
