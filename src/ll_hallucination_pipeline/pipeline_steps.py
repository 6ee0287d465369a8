"""The analysis steps Snakemake calls: compare pre/post, export docs, plot. Each writes only its outputs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .analysis import RunSet, deltas_table, paired_tests_table
from .exports import (
    delta_summary,
    ensure_eval_cards,
    experiment_matrix,
    markdown_table,
    qualitative,
    recipe_table,
    write_manifest,
    write_markdown,
)
from .front_page import front_page
from .io import atomic_write_text
from .plots import tradeoff_scatter
from .recipe import load_recipe
from .stats import StatsSettings
from .summary import write_csv
from .weights_hash import provenance_sha256


def run_dirs(files: Sequence[str]) -> list[str]:
    """The evaluation directories that ``results.json`` / samples files live in."""
    return sorted({str(Path(f).parent) for f in files})


def compare(
    baseline_files: Sequence[str], post_files: Sequence[str], deltas_csv: str, tests_csv: str, stats: dict
) -> None:
    settings = StatsSettings.from_config(stats)
    runs = RunSet.load(run_dirs(baseline_files), run_dirs(post_files))
    write_csv(deltas_table(runs, settings), deltas_csv)
    write_csv(paired_tests_table(runs, settings), tests_csv)


def export_docs(
    *,
    baseline_files: Sequence[str],
    post_files: Sequence[str],
    summaries: dict[str, str],
    tests_csv: str,
    recipe_files: Sequence[str],
    provenance: dict[str, str],
    outputs: dict[str, str],
) -> None:
    """Write every generated document in docs/ (and eval-card templates if absent)."""
    recipes = [load_recipe(f) for f in recipe_files]
    table = recipe_table(recipes)
    write_csv(table, outputs["recipe_csv"])
    write_markdown(outputs["recipe_md"], "QLoRA training recipes", markdown_table(table), "export_docs")

    summary = pd.concat([pd.read_csv(summaries["baseline"]), pd.read_csv(summaries["post"])], ignore_index=True)
    intervals = pd.concat([pd.read_csv(summaries["baseline_ci"]), pd.read_csv(summaries["post_ci"])], ignore_index=True)
    for frame in (summary, intervals):
        frame["adapter"] = frame["adapter"].fillna("") if "adapter" in frame else ""
    matrix = experiment_matrix(summary, intervals, seed=int(summary["seed"].min()))
    note = "Values on eval seed 0 with bootstrap CIs over items; `base` is the model without an adapter.\n\n"
    write_markdown(
        outputs["matrix_md"], "Experiment matrix (eval seed 0)", note + markdown_table(matrix), "export_docs"
    )

    write_csv(delta_summary(pd.read_csv(tests_csv)), outputs["delta_summary"])
    runs = RunSet.load(run_dirs(baseline_files), run_dirs(post_files))
    atomic_write_text(outputs["qualitative_pre"], qualitative(runs, improved=False))
    atomic_write_text(outputs["qualitative_post"], qualitative(runs, improved=True))
    ensure_eval_cards(Path(outputs["manifest"]).parent, runs.tasks())
    hashes = {name: provenance_sha256(path) for name, path in provenance.items()}
    write_manifest(outputs["manifest"], hashes, [v for k, v in outputs.items() if k != "manifest"])


def plot(delta_summary_csv: str, png: str, pdf: str) -> None:
    tradeoff_scatter(pd.read_csv(delta_summary_csv), png, pdf)


def write_front_page(tests_csv: str, intervals_csvs: Sequence[str], out: str, model: str, stats: dict) -> None:
    tests = pd.read_csv(tests_csv)
    intervals = [
        pd.read_csv(f, dtype={"identical_to_seed": str, "adapter": str}, keep_default_na=False) for f in intervals_csvs
    ]
    atomic_write_text(out, front_page(model, tests, intervals, StatsSettings.from_config(stats)))
