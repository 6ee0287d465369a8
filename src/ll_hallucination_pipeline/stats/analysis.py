"""Pre/post tables: per-seed deltas and paired tests with every figure of each delta, families adjusted for
multiplicity, recipes over their training seeds."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..inference import CATEGORIES as CATEGORY_ORDER
from ..tasks import EvalRun, get_task
from ..utils import PipelineInputError
from .calibration import (
    BINNED_METRICS,
    BRIER_DEFINITIONS,
    CALIBRATION_METRICS,
    CALIBRATION_SMALL_N,
    CalibrationItems,
    on_ranks,
    rank_encoded,
    reliability_bins,
    summary,
)
from .methods import (
    BootstrapTest,
    Interval,
    PairedTable,
    RecipeInterval,
    StatisticBootstrap,
    StatsSettings,
    bonferroni_level,
    cohens_dz,
    cohens_g,
    holm,
    mcnemar_exact,
    mde_mcnemar,
    mde_paired_t,
    mde_t,
    paired_bootstrap,
    paired_clt_interval,
    paired_score_interval,
    paired_standard_error,
    recipe_interval,
    statistic_bootstrap,
)
from .pairing import join_items, unique_by_hash


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


def category_pairs(
    base_run: EvalRun, base: np.ndarray, post: np.ndarray, categories: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The paired items (``base``, ``post`` as :func:`_paired_items` orders them, by ``doc_hash``) of each knowledge
    category of at least two items; ``categories`` gives each item's by its index in the task's data file."""
    by_hash = {row["doc_hash"]: row["doc_id"] for row in base_run.samples()}
    if max(by_hash.values()) >= len(categories):
        raise PipelineInputError(
            f"{base_run.task}: the knowledge probe has {len(categories)} items but the evaluation has more; "
            "probe the task's data file again"
        )
    labels = np.array([categories[by_hash[key]] for key in sorted(by_hash)])
    return {
        category: (base[labels == category], post[labels == category])
        for category in dict.fromkeys(CATEGORY_ORDER)
        if (labels == category).sum() >= 2
    }


def _reported_interval(
    base: np.ndarray, post: np.ndarray, right_wrong: bool, s: StatsSettings, level: float, boot: BootstrapTest | None
) -> Interval:
    """The interval reported as the delta's: Newcombe's score interval for right/wrong items, else paired BCa
    (``boot`` where it was already computed at ``level``)."""
    if right_wrong:
        return paired_score_interval(base, post, confidence_level=level)
    boot = boot or paired_bootstrap(base, post, n_resamples=s.n_resamples, confidence_level=level, seed=s.seed)
    return boot.interval


def describe_delta(base: np.ndarray, post: np.ndarray, *, right_wrong: bool, s: StatsSettings) -> dict:
    """Every figure of one paired delta: the estimate, its paired SE and CLT, bootstrap and primary intervals,
    a standardized effect size, the smallest change detectable at ``s``'s α and power, and the small-n flag."""
    n = base.size
    clt = paired_clt_interval(base, post, confidence_level=s.confidence_level)
    boot = paired_bootstrap(base, post, n_resamples=s.n_resamples, confidence_level=s.confidence_level, seed=s.seed)
    primary = _reported_interval(base, post, right_wrong, s, s.confidence_level, boot)
    if right_wrong:
        changed = PairedTable.of(base, post).discordant
        effect, effect_kind = cohens_g(base, post), "Cohen's g"
        mde = mde_mcnemar(n, changed, alpha=s.alpha, power=s.power)
        mde_method = f"exact McNemar at the observed {changed} changed items"
    else:
        effect, effect_kind = cohens_dz(base, post), "Cohen's d_z"
        mde = mde_paired_t(n, float(np.std(post - base, ddof=1)), alpha=s.alpha, power=s.power)
        mde_method = "paired t (statsmodels TTestPower) at the observed sd"
    return {
        "n_items": n,
        "baseline": float(base.mean()),
        "post": float(post.mean()),
        "delta": primary.estimate,
        "paired_se": clt.standard_error,
        "clt_ci_low": clt.low,
        "clt_ci_high": clt.high,
        "bootstrap_ci_low": boot.interval.low,
        "bootstrap_ci_high": boot.interval.high,
        "bootstrap_p": boot.pvalue,
        "delta_ci_low": primary.low,
        "delta_ci_high": primary.high,
        "delta_ci_method": primary.method,
        "effect_size": effect,
        "effect_size_kind": effect_kind,
        "mde": mde,
        "mde_method": f"{mde_method}, power {s.power:g}, alpha {s.alpha:g}",
        "small_n": n < s.small_n,
    }


def deltas_table(
    runs: RunSet, settings: StatsSettings, categories: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """Per (task, metric, adapter, eval seed): baseline, post and every figure of the delta (:func:`describe_delta`).

    ``categories``: task -> the base model's knowledge category of each item (by index in its data file); those
    tasks' tested metric also gets a row per category (:func:`category_pairs`)."""
    categories = categories or {}
    rows = []
    for (adapter, task, seed), post in sorted(runs.post.items()):
        base = runs.baseline[(task, seed)]
        spec = get_task(task)
        for metric in spec.reported_metrics:
            b, p = _paired_items(base, post, metric)
            ids = {
                "task": task,
                "metric": metric,
                "adapter": adapter,
                "recipe": post.pipeline.get("recipe"),
                "training_seed": post.pipeline.get("training_seed"),
                "eval_seed": seed,
            }
            rows.append(ids | describe_delta(b, p, right_wrong=spec.is_right_wrong(metric), s=settings))
            if task in categories and metric == spec.test_metric:
                for category, (cb, cp) in category_pairs(base, b, p, categories[task]).items():
                    described = describe_delta(cb, cp, right_wrong=spec.is_right_wrong(metric), s=settings)
                    rows.append(ids | {"category": category} | described)
        if spec.correct is not None and seed == runs.seeds()[0]:
            ids = {k: rows[-1][k] for k in ("task", "adapter", "recipe", "training_seed", "eval_seed")}
            for metric in CALIBRATION_METRICS:
                test = _calibration_test(base.directory, post.directory, metric, settings, settings.confidence_level)
                rows.append(ids | {"metric": metric} | _calibration_figures(test, base, post, metric, settings))
    return pd.DataFrame(rows)


@functools.cache
def _calibration_items(directory: Path) -> CalibrationItems:
    """A run's calibration items, read once per process (the deltas and the paired tests both need them)."""
    return CalibrationItems.of(EvalRun.load(directory))


@functools.cache
def _binned_bootstrap(base: Path, post: Path, metric: str, s: StatsSettings) -> StatisticBootstrap:
    """The paired bootstrap of a binned calibration statistic's change, resampled once per process for every
    level it is asked at; confidences rank-encoded, so its sorts run on small integers."""
    b, p = _calibration_items(base), _calibration_items(post)
    table, (b_rank, p_rank) = rank_encoded(b.confidence, p.confidence)
    statistic = on_ranks(BINNED_METRICS[metric], table)
    return statistic_bootstrap([b_rank, b.right], [p_rank, p.right], statistic, n_resamples=s.n_resamples, seed=s.seed)


@functools.cache
def _calibration_test(base: Path, post: Path, metric: str, s: StatsSettings, level: float) -> BootstrapTest:
    """The paired bootstrap at ``level`` of a calibration metric's change from the run in ``base`` to the one in
    ``post``; computed once per process."""
    b, p = _calibration_items(base), _calibration_items(post)
    join_items(
        dict(zip(b.doc_hashes, b.brier, strict=True)),
        dict(zip(p.doc_hashes, p.brier, strict=True)),
        label=f"{post} calibration",
    )
    if metric == "brier":
        return paired_bootstrap(b.brier, p.brier, n_resamples=s.n_resamples, confidence_level=level, seed=s.seed)
    return _binned_bootstrap(base, post, metric, s).test(level)


def calibration_tables(runs: RunSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per multiple-choice task and model (``base`` or an adapter) on the first eval seed: accuracy and the
    calibration metrics; and the reliability diagram's equal-mass bins."""
    seed = runs.seeds()[0]
    models = [("base", task, runs.baseline[(task, seed)]) for task in runs.tasks()]
    models += [
        (adapter, task, runs.post[(adapter, task, seed)]) for adapter in runs.adapters() for task in runs.tasks()
    ]
    summaries, bins = [], []
    for model, task, run in models:
        if get_task(task).correct is None:
            continue
        items = _calibration_items(run.directory)
        figures = summary(items)
        ids = {"task": task, "model": model, "eval_seed": seed}
        brier = {"brier_definition": BRIER_DEFINITIONS[get_task(task).several_true]}
        summaries.append(ids | figures | brier | {"small_n": figures["n_items"] < CALIBRATION_SMALL_N})
        bins += [ids | b for b in reliability_bins(items)]
    return pd.DataFrame(summaries), pd.DataFrame(bins)


def _calibration_figures(test: BootstrapTest, base: EvalRun, post: EvalRun, metric: str, s: StatsSettings) -> dict:
    """A calibration change as :func:`describe_delta` words a delta: the Brier score, a mean of per-item values,
    with its smallest detectable change; a binned statistic without one."""
    interval = test.interval
    before, after = (summary(_calibration_items(run.directory))[metric] for run in (base, post))
    mde, mde_method = float("nan"), "none for a binned statistic"
    if metric == "brier":
        change = _calibration_items(post.directory).brier - _calibration_items(base.directory).brier
        mde = mde_paired_t(change.size, float(np.std(change, ddof=1)), alpha=s.alpha, power=s.power)
        mde_method = f"paired t (statsmodels TTestPower) at the observed sd, power {s.power:g}, alpha {s.alpha:g}"
    return {
        "n_items": interval.n,
        "baseline": before,
        "post": after,
        "delta": interval.estimate,
        "paired_se": interval.standard_error,
        "bootstrap_ci_low": interval.low,
        "bootstrap_ci_high": interval.high,
        "bootstrap_p": test.pvalue,
        "delta_ci_low": interval.low,
        "delta_ci_high": interval.high,
        "delta_ci_method": interval.method,
        "mde": mde,
        "mde_method": mde_method,
        "small_n": interval.n < CALIBRATION_SMALL_N,
    }


def eval_seeds_identical(runs: RunSet, task: str, adapter: str | None = None) -> bool:
    """True when every eval seed gave the same per-item values (0-shot loglikelihood tasks)."""
    pick = (lambda s: runs.baseline[(task, s)]) if adapter is None else (lambda s: runs.post[(adapter, task, s)])
    metric = get_task(task).test_metric
    values = [pick(s).per_item(metric) for s in runs.seeds()]
    return all(v == values[0] for v in values[1:])


TEST_IDS = ("task", "metric", "adapter", "recipe", "training_seed", "eval_seed", "eval_seeds_identical")


@dataclass
class _TestRow:
    """A row of the paired-tests table and how to recompute its interval at another level (for Bonferroni)."""

    row: dict
    interval_at: Callable[[float], Interval]


def _seed_test(base: np.ndarray, post: np.ndarray, right_wrong: bool, s: StatsSettings) -> _TestRow:
    """One adapter against the base model: McNemar for a right/wrong metric, else the paired bootstrap."""
    row = {"level": "training seed"} | describe_delta(base, post, right_wrong=right_wrong, s=s)
    if right_wrong:
        mc = mcnemar_exact(base, post)
        t = mc.table
        row |= {
            "test": "McNemar exact (statsmodels)",
            "both_right": t.both_right,
            "right_to_wrong": t.right_to_wrong,
            "wrong_to_right": t.wrong_to_right,
            "both_wrong": t.both_wrong,
            "p_raw": mc.pvalue,
        }
    else:
        row |= {"test": f"paired bootstrap BCa (scipy), {s.n_resamples} resamples", "p_raw": row["bootstrap_p"]}
    return _TestRow(row, lambda level: _reported_interval(base, post, right_wrong, s, level, None))


def _recipe_test(task: str, pairs: list[tuple[np.ndarray, np.ndarray]], s: StatsSettings) -> _TestRow:
    """A recipe over its training seeds: item resampling and training noise together (:func:`recipe_interval`)."""
    base = pairs[0][0]
    pooled_post = np.mean([post for _, post in pairs], axis=0)
    per_seed = [float((post - b).mean()) for b, post in pairs]
    item_se = paired_standard_error(base, pooled_post)

    def interval_at(level: float) -> RecipeInterval:
        return recipe_interval(per_seed, item_se, base.size, confidence_level=level)

    recipe = interval_at(s.confidence_level)
    row = {"level": "pooled over training seeds"} | describe_delta(base, pooled_post, right_wrong=False, s=s)
    mde = mde_t(recipe.interval.standard_error, recipe.degrees_of_freedom, alpha=s.alpha, power=s.power)
    row |= {
        "delta_ci_low": recipe.interval.low,
        "delta_ci_high": recipe.interval.high,
        "delta_ci_method": recipe.interval.method,
        "mde": mde,
        "mde_method": f"t, training seeds + items, power {s.power:g}, alpha {s.alpha:g}",
        "test": "t, training seeds + items (Welch-Satterthwaite df)",
        "p_raw": recipe.pvalue,
        "n_training_seeds": len(pairs),
        "training_seed_sd": recipe.training_seed_sd,
        "item_se": recipe.item_standard_error,
        "recipe_se": recipe.interval.standard_error,
        "recipe_df": recipe.degrees_of_freedom,
    }
    return _TestRow(row, lambda level: interval_at(level).interval)


def paired_tests_table(
    runs: RunSet, settings: StatsSettings, categories: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """Per adapter, task and tested metric (the task's first metric, then any derived one such as abstention) on
    the first eval seed: McNemar for a right/wrong metric, else the paired bootstrap, with every figure of the delta.

    Recipes with several training seeds also get a row that uses both sources of variance. Within each task, metric
    and level (one family), Holm adjusts the p-values and a Bonferroni interval holds the confidence level for the
    family's deltas together. ``categories`` (see :func:`deltas_table`) adds the tested metric's test per
    knowledge category, each category a family of its own.
    """
    categories = categories or {}
    seed = runs.seeds()[0]
    tests: list[_TestRow] = []
    by_recipe: dict[tuple[str, str, str], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for task in runs.tasks():
        spec = get_task(task)
        base_run = runs.baseline[(task, seed)]
        identical_base = eval_seeds_identical(runs, task)
        for metric in spec.tested_metrics:
            for adapter in runs.adapters():
                post_run = runs.post[(adapter, task, seed)]
                base, post = _paired_items(base_run, post_run, metric)
                test = _seed_test(base, post, spec.is_right_wrong(metric), settings)
                recipe = post_run.pipeline.get("recipe")
                test.row = {
                    "task": task,
                    "metric": metric,
                    "adapter": adapter,
                    "recipe": recipe,
                    "training_seed": post_run.pipeline.get("training_seed"),
                    "eval_seed": seed,
                    "eval_seeds_identical": identical_base and eval_seeds_identical(runs, task, adapter),
                } | test.row
                tests.append(test)
                if recipe:
                    by_recipe[(task, metric, recipe)].append((base, post))
                if task in categories and metric == spec.test_metric:
                    for category, pair in category_pairs(base_run, base, post, categories[task]).items():
                        test = _seed_test(*pair, spec.is_right_wrong(metric), settings)
                        test.row = {k: tests[-1].row[k] for k in TEST_IDS} | {"category": category} | test.row
                        tests.append(test)
        if spec.correct is not None:
            for adapter in runs.adapters():
                tests += _calibration_test_rows(base_run, runs.post[(adapter, task, seed)], settings)
    for (task, metric, recipe), pairs in sorted(by_recipe.items()):
        if len(pairs) >= 2:
            test = _recipe_test(task, pairs, settings)
            ids = {"task": task, "metric": metric, "adapter": f"{recipe} (pooled)"}
            test.row = ids | {"recipe": recipe, "training_seed": "all", "eval_seed": seed} | test.row
            tests.append(test)
    if not tests:
        return pd.DataFrame()
    _adjust_families(tests, settings)
    return pd.DataFrame([t.row for t in tests])


def _calibration_test_rows(base: EvalRun, post: EvalRun, s: StatsSettings) -> list[_TestRow]:
    """One adapter's calibration changes on one task, each tested by the paired bootstrap."""
    ids = {
        "task": post.task,
        "adapter": post.pipeline["adapter"],
        "recipe": post.pipeline.get("recipe"),
        "training_seed": post.pipeline.get("training_seed"),
        "eval_seed": post.pipeline["seed"],
        "eval_seeds_identical": None,
    }
    rows = []
    for metric in CALIBRATION_METRICS:
        test = _calibration_test(base.directory, post.directory, metric, s, s.confidence_level)
        figures = _calibration_figures(test, base, post, metric, s)
        row = ids | {"metric": metric, "level": "training seed"} | figures
        row |= {"test": f"paired bootstrap BCa (scipy), {s.n_resamples} resamples", "p_raw": test.pvalue}

        def interval_at(level: float, metric: str = metric) -> Interval:
            return _calibration_test(base.directory, post.directory, metric, s, level).interval

        rows.append(_TestRow(row, interval_at))
    return rows


def precision_table(study: RunSet, others: dict[str, RunSet], settings: StatsSettings) -> pd.DataFrame:
    """The study's numbers on other base precisions (``others``: precision -> its runs on the first eval seed,
    the unquantized base's as baseline) against its own (``study``, NF4), per task's tested metric:

    - the quantization gap of the base, each other precision's base − the study's (rows once per base);
    - each adapter's delta on every precision, the study's included;
    - the difference of those deltas (other − study), a paired bootstrap of the per-item difference of differences.

    Each (level, task, metric) is a family: Holm p-values and Bonferroni intervals, as in the paired tests.
    """
    tasks = sorted({task for runs in others.values() for task in runs.tasks()})
    tests = [test for task in tasks for test in _precision_rows(task, study, others, settings)]
    if not tests:
        return pd.DataFrame()
    _adjust_families(tests, settings)
    return pd.DataFrame([t.row for t in tests])


def _precision_rows(task: str, study: RunSet, others: dict[str, RunSet], settings: StatsSettings) -> list[_TestRow]:
    """:func:`precision_table`'s rows of one task."""
    seed = study.seeds()[0]
    spec, base_nf4 = get_task(task), study.baseline[(task, seed)]
    metric, right_wrong = spec.test_metric, spec.is_right_wrong(spec.test_metric)
    tests: list[_TestRow] = []

    def add(test: _TestRow, level: str, adapter: str, precision: str) -> None:
        ids = {"task": task, "metric": metric, "adapter": adapter, "precision": precision, "eval_seed": seed}
        test.row = ids | test.row | {"level": level}
        tests.append(test)

    def delta(base: EvalRun, post: EvalRun) -> _TestRow:
        return _seed_test(*_paired_items(base, post, metric), right_wrong, settings)

    bases: dict[str, tuple[str, EvalRun]] = {}  # a base several precisions share (merged's is bf16's) counts once
    for precision, runs in sorted(others.items()):
        bases.setdefault(str(runs.baseline[(task, seed)].directory), (precision, runs.baseline[(task, seed)]))
    for precision, base in bases.values():
        add(delta(base_nf4, base), f"quantization gap of the base ({precision} − nf4)", "base", precision)
    for adapter in study.adapters():
        add(delta(base_nf4, study.post[(adapter, task, seed)]), "adapter delta on nf4", adapter, "nf4")
    for precision, runs in sorted(others.items()):
        base = runs.baseline[(task, seed)]
        for adapter in runs.adapters():
            post_nf4, post = study.post[(adapter, task, seed)], runs.post[(adapter, task, seed)]
            add(delta(base, post), f"adapter delta on {precision}", adapter, precision)
            difference = _difference_of_deltas(
                _paired_items(base_nf4, post_nf4, metric), _paired_items(base, post, metric), settings
            )
            add(difference, f"difference of deltas ({precision} − nf4)", adapter, precision)
    return tests


def _difference_of_deltas(
    study: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray], s: StatsSettings
) -> _TestRow:
    """Whether an adapter's per-item delta differs between two precisions: (other post − base) − (study's)."""
    study_delta, other_delta = study[1] - study[0], other[1] - other[0]
    row = describe_delta(study_delta, other_delta, right_wrong=False, s=s)
    row |= {"test": f"paired bootstrap BCa (scipy), {s.n_resamples} resamples", "p_raw": row["bootstrap_p"]}

    def interval_at(level: float) -> Interval:
        return _reported_interval(study_delta, other_delta, False, s, level, None)

    return _TestRow(row, interval_at)


def significance_family(row: dict) -> str:
    """Which multiplicity family a paired test belongs to: the task's tested metric is the confirmatory test;
    every other metric of the task (calibration, abstention) is secondary; rows per knowledge category are their
    own analysis."""
    if row.get("category") is not None:
        return "per category"
    return "confirmatory" if row["metric"] == get_task(row["task"]).test_metric else "secondary"


def _adjust_families(tests: list[_TestRow], s: StatsSettings) -> None:
    """Holm p-values and Bonferroni intervals within each family: a task's confirmatory test across adapters (per
    level); all of a task's secondary tests, metrics and adapters together (per level); each knowledge category's
    tested metric across adapters."""
    families: dict[tuple, list[_TestRow]] = defaultdict(list)
    for test in tests:
        row = test.row
        family = row["family"] = significance_family(row)
        metric = None if family == "secondary" else row["metric"]
        families[(row["task"], metric, row["level"], row.get("category"), family)].append(test)
    for family in families.values():
        level = bonferroni_level(s.confidence_level, len(family))
        for test, p_holm in zip(family, holm([t.row["p_raw"] for t in family]), strict=True):
            simultaneous = test.interval_at(level)
            test.row |= {
                "simultaneous_ci_low": simultaneous.low,
                "simultaneous_ci_high": simultaneous.high,
                "simultaneous_method": f"Bonferroni over {len(family)}: {simultaneous.method} at {level:.6g}",
                "p_holm": p_holm,
                "significant": p_holm < s.alpha,
            }


def judge_summary(judgements: pd.DataFrame) -> pd.DataFrame:
    """Per model (base first): how many answers the judge read, and the share it found true and informative."""
    metrics = [m for m in ("judge_true", "judge_info") if m in judgements]
    rows = [
        {"model": model, "n_items": len(group)} | {f"{m}_share": float(group[m].mean()) for m in metrics}
        for model, group in judgements.groupby("model", sort=True)
    ]
    return pd.DataFrame(sorted(rows, key=lambda row: (row["model"] != "base", row["model"])))


def judge_tests_table(judgements: pd.DataFrame, settings: StatsSettings) -> pd.DataFrame:
    """Each adapter's judged answers against the base model's, item by item: McNemar on the judge's 0/1 verdicts
    with every figure of the delta; Holm and Bonferroni within each verdict (true, informative)."""
    tests: list[_TestRow] = []
    by_model = {model: rows.set_index("doc_hash") for model, rows in judgements.groupby("model")}
    base = by_model.pop("base")
    for metric in (m for m in ("judge_true", "judge_info") if m in judgements):
        for adapter, post in sorted(by_model.items()):
            b, p = join_items(base[metric].to_dict(), post[metric].to_dict(), label=f"judge {adapter}")
            test = _seed_test(b, p, True, settings)
            test.row = {"task": "truthfulqa_gen", "metric": metric, "adapter": adapter} | test.row
            tests.append(test)
    if not tests:
        return pd.DataFrame()
    _adjust_families(tests, settings)
    return pd.DataFrame([t.row for t in tests])
