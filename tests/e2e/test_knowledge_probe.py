"""The knowledge probe through the real DAG on the embedded model: a train pool and a test split categorized, the
counts adding up, nothing to do on a re-run, and a changed probe setting making the probe stale and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ll_hallucination_pipeline.inference import CATEGORIES
from tests.helpers import run_snakemake, write_config

pytestmark = pytest.mark.slow
SETS = ["arc_easy_train", "arc_easy"]
TARGETS = [f"evals/knowledge/{s}/counts.csv" for s in SETS]


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
