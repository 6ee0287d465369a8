"""Fine-tuning mixes chosen by the base model's knowledge, through the real DAG on the embedded model: the pool and
the test sets probed (ARC-Easy, and NQ-Open: a generation task), two mixes (no Unknown examples, only Unknown ones)
built and trained, their learning curves, the deltas per category of each task's test items, the linear model,
Table 2, the figures and the front page's section; a mix asking for more than the probe found is refused before
any job, with nothing lost."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ll_hallucination_pipeline.inference.knowledge import CATEGORIES
from ll_hallucination_pipeline.tasks.registry import get_task
from tests.helpers import EASY_QUESTIONS, REPO, run_snakemake, write_config, write_short_answer_pool

pytestmark = pytest.mark.slow
POOL_ITEMS = 40
MIX = {"pool": "arc_easy_train", "size": 6}
TEST_ITEMS = {"arc_easy": 6, "nq_open": 6 + len(EASY_QUESTIONS)}  # the probed test sets, the tasks evaluated
RECIPE = (REPO / "configs/qlora_arc_unknown_000.toml").read_text()


def _recipe(recipes: Path, name: str, knowledge: dict) -> None:
    table = ", ".join(f"{k} = {json.dumps(v)}" for k, v in knowledge.items())
    text = RECIPE.replace(RECIPE.split("\n[data]\n")[1].split("\n")[0], f"knowledge = {{ {table} }}")
    (recipes / f"qlora_{name}.toml").write_text(text.replace("epochs = 4", "epochs = 2"))


def _config(workdir: Path, data: Path, recipes: list[str], samples: int = 4) -> None:
    write_config(
        workdir,
        data={"source": "local", "local_dir": str(data)},
        eval={"tasks": list(TEST_ITEMS), "seeds": [0], "max_gen_toks": 32},
        qlora={"recipes": recipes, "recipes_dir": str(workdir / "configs")},
        knowledge={"probe": {"prompts": 5, "shots": 2, "samples": samples}, "heldout": 1, "curve_points": 2},
        stats={"bootstrap_iterations": 200},
    )


@pytest.fixture(scope="module")
def mix_study(converted_model: Path, tiny_data: Path, shared_data: Path, tmp_path_factory) -> Path:
    data = write_short_answer_pool(shared_data, tiny_data, tmp_path_factory.mktemp("mix_data"))
    with open(shared_data / "arc_easy/train.jsonl", encoding="utf-8") as pool:
        (data / "arc_easy/train.jsonl").write_text("".join(next(pool) for _ in range(POOL_ITEMS)), encoding="utf-8")
    workdir = tmp_path_factory.mktemp("mixes")
    (workdir / "configs").mkdir()
    _recipe(workdir / "configs", "known", MIX | {"unknown_fraction": 0})
    _recipe(workdir / "configs", "unknown", MIX | {"unknown_fraction": 1})
    _config(workdir, data, ["known", "unknown"])
    done = run_snakemake(
        workdir, "all", "--cores", "all", "--resources", "gpu=1", env={"MODEL_PATH": str(converted_model)}
    )
    assert done.returncode == 0, done.stdout[-5000:]
    return workdir


def test_the_probe_categorizes_each_item_of_the_pool_and_the_test_set(mix_study, converted_model, tmp_path):
    """Every item of each probed set has its counts and category, the counts add up; on a copy of the study,
    nothing is left to do for the probe, and a changed probe setting makes the probe stale and nothing else."""
    sets = {"arc_easy_train": POOL_ITEMS, **TEST_ITEMS}
    for probe_set, n_items in sets.items():
        items = pd.read_csv(mix_study / f"evals/knowledge/{probe_set}/items.csv")
        assert list(items["item"]) == list(range(n_items))
        assert items["id"].str.len().gt(0).all() and items["id"].is_unique  # NQ-schema items: their questions
        assert items["greedy_right"].between(0, 5).all() and items["sampled_right"].between(0, 20).all()
        assert (items["p_greedy"] == items["greedy_right"] / 5).all()
        assert (items["p_sampled"] == items["sampled_right"] / 20).all()
        counts = pd.read_csv(mix_study / f"evals/knowledge/{probe_set}/counts.csv")
        assert list(counts["category"]) == list(CATEGORIES) and counts["items"].sum() == n_items
        assert (
            dict(zip(counts["category"], counts["items"], strict=True))
            == items["category"].value_counts().reindex(CATEGORIES, fill_value=0).to_dict()
        )
    copy = tmp_path / "study"
    shutil.copytree(mix_study, copy, symlinks=True)
    targets = [f"evals/knowledge/{s}/counts.csv" for s in sets]
    env = {"MODEL_PATH": str(converted_model)}
    assert "Nothing to be done" in run_snakemake(copy, *targets, "-n", env=env).stdout
    data = Path(json.loads((copy / "config.yaml").read_text())["data"]["local_dir"])
    _config(copy, data, ["known", "unknown"], samples=8)
    stale = run_snakemake(copy, *targets, "-n", env=env).stdout
    assert set(re.findall(r"^rule (\w+):", stale, flags=re.MULTILINE)) == {"probe_knowledge"}


def test_each_mix_trains_on_its_share_of_unknown_examples_and_never_on_heldout_ones(mix_study):
    pool = pd.read_csv(mix_study / "evals/knowledge/arc_easy_train/items.csv")
    heldout = {json.loads(line)["item"] for line in (mix_study / "data/knowledge/known/heldout.jsonl").open()}
    for name, unknown in (("known", 0), ("unknown", 6)):
        examples = [json.loads(line) for line in (mix_study / f"data/knowledge/{name}/train.jsonl").open()]
        assert len(examples) == 6 and sum(e["category"] == "Unknown" for e in examples) == unknown
        assert all(pool["category"][e["item"]] == e["category"] for e in examples) and not heldout & {
            e["item"] for e in examples
        }


def test_each_adapter_has_its_learning_curve(mix_study):
    for name in ("known", "unknown"):
        curve = pd.read_csv(mix_study / f"adapters/{name}_seed0/fit_by_category.csv")
        manifest = json.loads((mix_study / f"adapters/{name}_seed0/manifest.json").read_text())
        # 6 examples in one micro-batch of 8, 2 epochs: 2 steps, a point before training and after each.
        assert sorted(curve["step"].unique()) == [0, 1, 2] and manifest["global_steps"] == 2
        assert (curve[curve["split"] == "train"].groupby("step")["examples"].sum() == 6).all()
        assert curve["share"].between(0, 1).all() and 0 < manifest["learning_curve_seconds"] < manifest["seconds"]


@pytest.mark.parametrize("task", TEST_ITEMS)
def test_deltas_are_reported_per_category_of_the_test_items(mix_study, task):
    """The task's tested metric (ARC-Easy's acc; NQ-Open's exact match of generated answers) gets a row per
    category of its test items with two or more, for each adapter."""
    test_items = pd.read_csv(mix_study / f"evals/knowledge/{task}/items.csv")
    tests = pd.read_csv(mix_study / "evals/compare/paired_tests.csv")
    rows = tests[tests["category"].notna() & (tests["task"] == task)]
    sizes = test_items["category"].value_counts()
    assert set(rows["category"]) == set(sizes[sizes >= 2].index) and len(rows) == 2 * len(set(rows["category"]))
    assert (rows["n_items"] == rows["category"].map(sizes)).all() and rows["small_n"].all()
    assert set(rows["metric"]) == {get_task(task).test_metric}
    deltas = pd.read_csv(mix_study / "evals/compare/deltas.csv")
    assert set(deltas.loc[deltas["task"] == task, "category"].dropna()) == set(rows["category"])
    summary = pd.read_csv(mix_study / "docs/delta_summary.csv")  # what the trade-off figure reads: whole tasks only
    assert len(summary) == tests["category"].isna().sum() and "category" not in summary


def test_the_mixes_tables_figures_and_front_page(mix_study):
    table = pd.read_csv(mix_study / "evals/knowledge/table2.csv")
    for task in TEST_ITEMS:
        rows = table[table["task"] == task]
        assert list(rows["adapter"]) == ["known_seed0", "unknown_seed0"] and list(rows["unknown_fraction"]) == [0, 1]
    assert {"test_all", "test_HighlyKnown", "test_Unknown", "heldout_at_peak", "heldout_at_end"} <= set(table)
    fit = pd.read_csv(mix_study / "evals/knowledge/gekhman_fit.csv")
    assert (
        list(fit["term"]) == ["intercept", "known_fitted_share", "unknown_fitted_share"] and (fit["points"] == 6).all()
    )
    for figure in ("knowledge_mix", "learning_curves"):
        assert (mix_study / f"docs/figures/{figure}.png").read_bytes()[:4] == b"\x89PNG"
    front = (mix_study / "docs/report_front_page.rst").read_text()
    assert "Which fine-tuning examples cause hallucination" in front and "known_seed0" in front


def test_a_mix_larger_than_the_probe_found_is_refused_before_any_job(mix_study, converted_model):
    _recipe(mix_study / "configs", "huge", MIX | {"size": 500, "unknown_fraction": 0.5})
    _config(
        mix_study, Path(json.loads((mix_study / "config.yaml").read_text())["data"]["local_dir"]), ["known", "huge"]
    )
    before = (mix_study / "adapters/known_seed0/adapter_model.safetensors").read_bytes()
    done = run_snakemake(mix_study, "all", "--cores", "1", env={"MODEL_PATH": str(converted_model)})
    assert done.returncode != 0 and "recipe huge: [data] knowledge asks for 250 Unknown examples" in done.stdout
    assert "found" in done.stdout and "Traceback" not in done.stdout and "rule " not in done.stdout
    assert (mix_study / "adapters/known_seed0/adapter_model.safetensors").read_bytes() == before
