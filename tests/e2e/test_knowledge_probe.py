"""The knowledge probe through the real DAG on the embedded model: a train pool and a test split categorized, the
counts adding up, nothing to do on a re-run, a changed probe setting making the probe stale and nothing else; and
its answers against lm-eval's own hf backend asked the same prompts."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ll_hallucination_pipeline.inference.evaluate import build_lm
from ll_hallucination_pipeline.inference.knowledge import (
    CATEGORIES,
    ProbeSettings,
    arc_choice_item,
    multiple_choice_knowledge,
    probe_rows,
)
from ll_hallucination_pipeline.models.quantization import QuantizationSettings
from ll_hallucination_pipeline.tasks.data import read_jsonl
from tests.helpers import probe_prompt_tasks, run_lm_eval_hf, run_snakemake, write_config

pytestmark = pytest.mark.slow
SETS = ["arc_easy_train", "arc_easy"]
TARGETS = [f"evals/knowledge/{s}/counts.csv" for s in SETS]
FP32 = QuantizationSettings(mode="none", compute_dtype="float32", cpu_compute_dtype="float32")


def test_the_probe_categorizes_each_item_of_each_set(converted_model: Path, tiny_data: Path, tmp_path: Path):
    probe = {"prompts": 5, "shots": 2, "samples": 4}
    write_config(
        tmp_path,
        data={"source": "local", "local_dir": str(tiny_data)},
        knowledge={"sets": SETS, "probe": probe},
        qlora={"recipes": []},
    )
    env = {"MODEL_PATH": str(converted_model)}
    done = run_snakemake(tmp_path, *TARGETS, "--cores", "all", "--resources", "gpu=1", env=env)
    assert done.returncode == 0, done.stdout[-4000:]

    for probe_set in SETS:
        items = pd.read_csv(tmp_path / f"evals/knowledge/{probe_set}/items.csv")
        assert list(items["item"]) == list(range(6)) and items["id"].str.len().gt(0).all()
        assert items["greedy_right"].between(0, 5).all() and items["sampled_right"].between(0, 20).all()
        assert (items["p_greedy"] == items["greedy_right"] / 5).all()
        assert (items["p_sampled"] == items["sampled_right"] / 20).all()
        assert set(items["category"]) <= set(CATEGORIES)
        counts = pd.read_csv(tmp_path / f"evals/knowledge/{probe_set}/counts.csv")
        assert list(counts["category"]) == list(CATEGORIES) and counts["items"].sum() == 6
        assert (
            dict(zip(counts["category"], counts["items"], strict=True))
            == items["category"].value_counts().reindex(CATEGORIES, fill_value=0).to_dict()
        )

    assert "Nothing to be done" in run_snakemake(tmp_path, *TARGETS, "-n", env=env).stdout
    write_config(
        tmp_path,
        data={"source": "local", "local_dir": str(tiny_data)},
        knowledge={"sets": SETS, "probe": probe | {"samples": 8}},
        qlora={"recipes": []},
    )
    stale = run_snakemake(tmp_path, *TARGETS, "-n", env=env).stdout
    assert set(re.findall(r"^rule (\w+):", stale, flags=re.MULTILINE)) == {"probe_knowledge"}


def test_categories_equal_an_independent_computation_from_lm_eval_hf(converted_model: Path, tiny_data: Path, tmp_path):
    """The probe on 6 ARC-Easy items against lm-eval's own hf backend asked the same K prompts: one task per prompt
    whose ``doc_to_text`` opens with that prompt's exemplars, its per-choice log-likelihoods and argmax (``acc``)
    read back; greedy answers equal item for item, categories equal with the samples drawn from hf's scores."""
    settings = ProbeSettings(prompts=5, shots=2, samples=4)
    items = read_jsonl(tiny_data / "arc_easy/test.jsonl")
    exemplars = read_jsonl(tiny_data / "arc_easy/validation.jsonl")
    data = tmp_path / "arc_easy.jsonl"
    data.write_text((tiny_data / "arc_easy/test.jsonl").read_text())
    ours = probe_rows(
        build_lm(converted_model, FP32, cache_dir=tmp_path / "cache", token_budget=512), items, exemplars, settings
    )

    names = probe_prompt_tasks(data, exemplars, settings, tmp_path / "tasks")
    ref_dir = run_lm_eval_hf(f"pretrained={converted_model}", names, tmp_path / "tasks", tmp_path / "hf")
    hf_rows = {name: read_jsonl(next(ref_dir.rglob(f"samples_{name}_*.jsonl"))) for name in names}
    for n, (doc, row) in enumerate(zip(items, ours, strict=True)):
        by_prompt = [next(r for r in hf_rows[name] if r["doc_id"] == n) for name in names]
        assert row["greedy_right"] == sum(int(r["acc"]) for r in by_prompt), n
        scores = [[choice[0][0] for choice in r["resps"]] for r in by_prompt]
        hf = multiple_choice_knowledge(scores, arc_choice_item(doc).correct, settings, item=n)
        assert (row["category"], row["sampled_right"]) == (hf.category(settings.alpha), sum(hf.sampled_right)), n
