"""The steps Snakemake's analysis rules call, one per rule: read the rule's inputs, compute, write its declared
outputs (through :mod:`.io`) and nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..models import named_other_base, provenance_sha256
from ..reports import (
    category_tests,
    delta_summary,
    eval_card_template,
    experiment_matrix,
    front_page,
    generated_markdown,
    heading,
    knowledge_lines,
    manifest,
    markdown_table,
    precision_figure,
    qualitative,
    recipe_table,
    reliability_figure,
    save_figure,
    tradeoff_scatter,
)
from ..stats import (
    RunSet,
    StatsSettings,
    calibration_tables,
    deltas_table,
    judge_summary,
    judge_tests_table,
    paired_tests_table,
    precision_table,
)
from ..training import load_recipe
from ..utils import atomic_write_csv, atomic_write_json, atomic_write_text


def run_dirs(files: Sequence[str]) -> list[str]:
    """The evaluation directories that ``results.json`` / samples files live in."""
    return sorted({str(Path(f).parent) for f in files})


def write_comparison_tables(
    baseline_files: Sequence[str],
    post_files: Sequence[str],
    deltas_csv: str,
    tests_csv: str,
    stats: dict,
    *,
    categories: dict[str, str] | None = None,
) -> None:
    """Per-seed deltas and paired tests; ``categories`` (task -> the probe's items.csv of its data) adds rows per
    knowledge category."""
    settings = StatsSettings.from_config(stats)
    runs = RunSet.load(run_dirs(baseline_files), run_dirs(post_files))
    by_item = {task: list(pd.read_csv(f)["category"]) for task, f in (categories or {}).items()}
    atomic_write_csv(deltas_csv, deltas_table(runs, settings, by_item))
    atomic_write_csv(tests_csv, paired_tests_table(runs, settings, by_item))


def write_calibration(
    baseline_files: Sequence[str], post_files: Sequence[str], summary_csv: str, bins_csv: str, png: str, pdf: str
) -> None:
    """Each multiple-choice task's calibration per model, its reliability bins, and the reliability diagram."""
    runs = RunSet.load(run_dirs(baseline_files), run_dirs(post_files))
    summary, bins = calibration_tables(runs)
    atomic_write_csv(summary_csv, summary)
    atomic_write_csv(bins_csv, bins)
    save_figure(reliability_figure(bins), png, pdf)


def write_precision_table(
    baseline_files: Sequence[str],
    post_files: Sequence[str],
    precision_files: Sequence[str],
    out: str,
    png: str,
    pdf: str,
    stats: dict,
) -> None:
    """The study's numbers on each other base precision against its own (``precision_files``: the runs under
    ``evals/precision/<precision>/``; a merged adapter's baseline is the unquantized base's), and their figure."""
    dirs = [Path(d) for d in run_dirs(precision_files)]
    bases = [str(d) for d in dirs if d.parts[-2] == "baseline"]  # evals/precision/bf16/baseline/<run>
    posts: dict[str, list[str]] = {"bf16": []} if bases else {}
    for d in dirs:
        if d.parts[-3] == "postqlora":  # evals/precision/<precision>/postqlora/<adapter>/<run>
            posts.setdefault(d.parts[-4], []).append(str(d))
    others = {precision: RunSet.load(bases, runs) for precision, runs in posts.items()}
    study = RunSet.load(run_dirs(baseline_files), run_dirs(post_files))
    table = precision_table(study, others, StatsSettings.from_config(stats))
    atomic_write_csv(out, table)
    save_figure(precision_figure(table), png, pdf)


def write_recipe_table(recipe_files: Sequence[str], markdown: str, csv: str) -> None:
    table = recipe_table([load_recipe(f) for f in recipe_files])
    atomic_write_csv(csv, table)
    atomic_write_text(
        markdown, generated_markdown("QLoRA training recipes", markdown_table(table), "export_recipe_table")
    )


def write_experiment_matrix(summaries: Sequence[str], intervals: Sequence[str], markdown: str) -> None:
    matrix, seed = experiment_matrix([pd.read_csv(f) for f in summaries], [pd.read_csv(f) for f in intervals])
    note = f"Values on eval seed {seed} with bootstrap CIs over items; `base` is the model without an adapter.\n\n"
    title = f"Experiment matrix (eval seed {seed})"
    atomic_write_text(markdown, generated_markdown(title, note + markdown_table(matrix), "export_experiment_matrix"))


def write_delta_summary(tests_csv: str, out: str) -> None:
    atomic_write_csv(out, delta_summary(pd.read_csv(tests_csv)))


def write_qualitative(baseline_files: Sequence[str], post_files: Sequence[str], broken: str, fixed: str) -> None:
    runs = RunSet.load(run_dirs(baseline_files), run_dirs(post_files))
    atomic_write_text(broken, qualitative(runs, improved=False))
    atomic_write_text(fixed, qualitative(runs, improved=True))


def write_eval_card_templates(tasks: Sequence[str], pre: str, post: str) -> None:
    atomic_write_text(pre, eval_card_template("pre", tasks))
    atomic_write_text(post, eval_card_template("post", tasks))


def write_manifest(provenance: dict[str, str], documents: Sequence[str], out: str) -> None:
    hashes = {name: provenance_sha256(path) for name, path in provenance.items()}
    atomic_write_json(out, manifest(hashes, documents))


def plot(delta_summary_csv: str, png: str, pdf: str, stats: dict) -> None:
    """The trade-off figure, with the study's α and interval level on it."""
    settings = StatsSettings.from_config(stats)
    tradeoff_scatter(pd.read_csv(delta_summary_csv), png, pdf, settings.alpha, settings.confidence_level)


def write_front_page(
    tests_csv: str,
    intervals_csvs: Sequence[str],
    precision_csvs: Sequence[str],
    out: str,
    model: str,
    stats: dict,
    *,
    knowledge: Sequence[str] = (),
    external_adapter: tuple[str, str] = ("", ""),
) -> None:
    """The front page from the paired tests, the eval seeds' intervals and, where other base precisions were
    evaluated, their comparison (``precision_csvs``: none or one file); where knowledge mixes were trained, their
    section (``knowledge``: the learning curves and the linear model's CSVs); a note where the adapter
    ``$LORA_ADAPTER_PATH`` names another base (``external_adapter``: its directory or "", the base model's)."""
    tests = pd.read_csv(tests_csv)
    intervals = [
        pd.read_csv(f, dtype={"identical_to_seed": str, "adapter": str}, keep_default_na=False) for f in intervals_csvs
    ]
    precision = pd.concat([pd.read_csv(f) for f in precision_csvs]) if precision_csvs else None
    settings = StatsSettings.from_config(stats)
    extra = []
    other_base = named_other_base(Path(external_adapter[0]), Path(external_adapter[1])) if external_adapter[0] else None
    if other_base:
        extra += [*heading("Adapters from elsewhere"), f"**Note:** {other_base}.", ""]
    if knowledge:
        mixes = pd.read_csv(knowledge[0])[["adapter", "unknown_fraction"]].drop_duplicates()
        extra = knowledge_lines(category_tests(tests, mixes), pd.read_csv(knowledge[1]), settings)
    atomic_write_text(out, front_page(model, tests, intervals, settings, precision, extra))


def write_judgements(
    runs: dict[str, str], judges: dict[str, str], quantization: dict, cache_dir: str, out: str
) -> None:
    """Judge the TruthfulQA answers of each model (``runs``: model -> its ``truthfulqa_gen`` run directory) with
    each judge (``judges``: verdict -> judge checkpoint; one load per checkpoint), into one CSV."""
    from ..inference import answers_of, build_lm, judgements
    from ..models import QuantizationSettings
    from ..tasks import EvalRun

    answers = [a for model, run in sorted(runs.items()) for a in answers_of(EvalRun.load(run), model)]
    settings = QuantizationSettings(**quantization)
    loaded = {path: build_lm(Path(path), settings, cache_dir=Path(cache_dir)) for path in set(judges.values())}
    atomic_write_csv(out, judgements(answers, {metric: loaded[path] for metric, path in judges.items()}))


def write_judge_tables(judgements_csv: str, summary_csv: str, tests_csv: str, stats: dict) -> None:
    table = pd.read_csv(judgements_csv, dtype={"doc_hash": str, "model": str}, keep_default_na=False)
    atomic_write_csv(summary_csv, judge_summary(table))
    atomic_write_csv(tests_csv, judge_tests_table(table, StatsSettings.from_config(stats)))
