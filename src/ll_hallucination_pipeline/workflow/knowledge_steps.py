"""The steps of the knowledge rules (SliCK categories, Gekhman et al. 2024): the base model's probe of a question
set, and a recipe's fine-tuning examples chosen by it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from ..utils import atomic_write_csv, atomic_write_text


def write_knowledge_probe(
    model_dir: str,
    model_sha256: str,
    data_files: tuple[str, str],
    out: tuple[str, str],
    *,
    kind: str,
    settings: dict,
    quantization: dict,
    cache_dir: str,
    token_budget: int | str,
) -> None:
    """The base model's knowledge of each item of a set (``data_files``: its items, its exemplars; ``kind``: how
    they are answered): one row per item into ``out[0]``, items and share per category into ``out[1]``."""
    from ..inference import CATEGORIES, ProbeSettings, build_lm, probe_rows
    from ..models import QuantizationSettings
    from ..tasks import read_jsonl

    probe = ProbeSettings(**settings)
    lm = build_lm(
        Path(model_dir),
        QuantizationSettings(**quantization),
        cache_dir=Path(cache_dir),
        token_budget=token_budget,
        model_sha256=model_sha256,
    )
    items = pd.DataFrame(probe_rows(lm, read_jsonl(data_files[0]), read_jsonl(data_files[1]), probe, kind=kind))
    logging.getLogger(__name__).info("probe cost: %s", json.dumps({**lm.stats.as_dict(), **lm.stats.gauges()}))
    counts = items["category"].value_counts().reindex(CATEGORIES, fill_value=0)
    atomic_write_csv(out[0], items)
    atomic_write_csv(
        out[1],
        pd.DataFrame({"category": CATEGORIES, "items": counts.to_numpy(), "share": counts.to_numpy() / len(items)}),
    )


def write_question_pool(data_files: list[str], out: tuple[str, str]) -> None:
    """A question pool from its data sets' prepared files: its items into ``out[0]``, the items set aside for the
    probe's exemplars into ``out[1]``."""
    from ..tasks import read_jsonl, split_question_pool

    for records, path in zip(split_question_pool([read_jsonl(f) for f in data_files]), out, strict=True):
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def write_knowledge_mix(
    recipe_file: str, inputs: tuple[str, str], out: tuple[str, str], *, heldout_per_category: int
) -> None:
    """A knowledge recipe's examples (``out[0]``) and the pool's held-out slice (``out[1]``), as instruction
    records with each item's category, from the pool (``inputs[0]``) and the probe's categories (``inputs[1]``)."""
    from ..tasks import read_jsonl
    from ..training import heldout_items, knowledge_mix, load_recipe, qa_example, select_mix

    recipe = load_recipe(recipe_file)
    mix = knowledge_mix(recipe_file, recipe.data.knowledge)
    pool = read_jsonl(inputs[0])
    categories = list(pd.read_csv(inputs[1])["category"])
    if len(categories) != len(pool):
        raise ValueError(f"{inputs[1]} has {len(categories)} items but {inputs[0]} has {len(pool)}; probe it again")
    held = heldout_items(categories, heldout_per_category)
    chosen = select_mix(categories, held, mix, recipe=recipe.name)
    for items, path in ((chosen, out[0]), (held, out[1])):
        records = [qa_example(pool[n], categories[n], n) for n in items]
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def mix_curves(adapter_dirs: dict[str, str]) -> pd.DataFrame:
    """Every knowledge mix's learning curve (its adapter's ``fit_by_category.csv``), one frame, with the adapter
    and the share of Unknown examples it trained on."""
    from ..training import CURVE_NAME

    frames = []
    for adapter, directory in sorted(adapter_dirs.items()):
        curve = pd.read_csv(Path(directory) / CURVE_NAME)
        first = curve[(curve["split"] == "train") & (curve["step"] == curve["step"].min())]
        unknown = first[first["category"] == "Unknown"]["examples"].sum() / first["examples"].sum()
        frames.append(curve.assign(adapter=adapter, unknown_fraction=unknown))
    return pd.concat(frames, ignore_index=True)[["adapter", "unknown_fraction", *curve.columns]]


def write_knowledge_analysis(tests_csv: str, adapter_dirs: dict[str, str], out: dict[str, str], *, stats: dict) -> None:
    """The knowledge mixes' learning curves, Gekhman et al.'s linear model, their Table 2 and the two figures
    (``out``: curves, fit, table, mix_png, mix_pdf, curve_png, curve_pdf)."""
    from ..reports import category_tests, curve_figure, mix_figure, save_figure, table2
    from ..stats import StatsSettings, fit_points, gekhman_fit

    settings = StatsSettings.from_config(stats)
    curves = mix_curves(adapter_dirs)
    points = fit_points(curves)
    mixes = curves[["adapter", "unknown_fraction"]].drop_duplicates()
    by_category = category_tests(pd.read_csv(tests_csv), mixes)
    atomic_write_csv(out["curves"], curves)
    atomic_write_csv(out["fit"], gekhman_fit(points, settings.confidence_level))
    atomic_write_csv(out["table"], table2(by_category, points))
    save_figure(mix_figure(by_category), out["mix_png"], out["mix_pdf"])
    save_figure(curve_figure(curves), out["curve_png"], out["curve_pdf"])
