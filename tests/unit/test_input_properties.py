"""Generated malformed inputs (recipes, config, task records, fine-tuning records): each is accepted or refused
with one PipelineInputError line, never another exception, and a refused data file leaves earlier output as it was.
Seeded and bounded: the same variants every run."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from ll_hallucination_pipeline.tasks.data import prepare_dataset
from ll_hallucination_pipeline.training.recipe import load_recipe
from ll_hallucination_pipeline.training.sft_data import sft_examples
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from ll_hallucination_pipeline.workflow.config import check_config

VARIANTS = 300
ODD_VALUES = [0, -1, 1, 2.5, -0.5, 1e9, "", "x", "auto", True, False, [], [0], [-1, 2], ["a"], {}, {"a": 1}]
RECIPE = {
    "data": {"dataset": "alpaca", "num_examples": 16, "prompt_template": "alpaca"},
    "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"},
    "training": {"learning_rate": 2e-3, "epochs": 3, "micro_batch_size": 4, "max_seq_length": 128, "seeds": [0]},
}
ARC = {
    "id": "Mercury_1",
    "question": "Which is a planet?",
    "choices": {"text": ["Mars", "Sun", "Moon", "Comet"], "label": ["A", "B", "C", "D"]},
    "answerKey": "A",
}
TRUTHFULQA = {
    "question": "Is the sky green?",
    "mc1_targets": {"choices": ["No.", "Yes."], "labels": [1, 0]},
    "mc2_targets": {"choices": ["No.", "It is not.", "Yes."], "labels": [1, 1, 0]},
}


def mutate(value: Any, rng: random.Random) -> Any:
    """``value`` with one random change somewhere inside: a key dropped, added or given an odd value."""
    value = copy.deepcopy(value)
    node = value
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not keys:
            return copy.deepcopy(rng.choice(ODD_VALUES))
        key = rng.choice(keys)
        if isinstance(node[key], dict | list) and node[key] and rng.random() < 0.6:
            node = node[key]
            continue
        action = rng.random()
        if action < 0.25 and isinstance(node, dict):
            del node[key]
        elif action < 0.35 and isinstance(node, dict):
            node[rng.choice(["extra", "lora", "seed", "data"])] = copy.deepcopy(rng.choice(ODD_VALUES))
        else:
            node[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        return value


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def toml(document: dict[str, Any]) -> str:
    lines = [f"{k} = {toml_value(v)}" for k, v in document.items() if not isinstance(v, dict)]
    for name, section in document.items():
        if isinstance(section, dict):
            lines += [f"[{name}]", *(f"{k} = {toml_value(v)}" for k, v in section.items())]
    return "\n".join(lines) + "\n"


def accepted_or_one_line(call) -> None:
    try:
        call()
    except PipelineInputError as error:
        assert "\n" not in str(error) and str(error)


def test_recipes(tmp_path):
    rng = random.Random(1)
    for n in range(VARIANTS):
        path = tmp_path / f"qlora_v{n}.toml"
        path.write_text(toml(mutate(RECIPE, rng)))
        accepted_or_one_line(lambda path=path: load_recipe(path))


def test_config():
    rng = random.Random(2)
    base = check_config({})
    for _ in range(VARIANTS):
        config = mutate(base, rng)
        accepted_or_one_line(lambda config=config: check_config(config))


@pytest.mark.parametrize(("name", "record"), [("arc_easy", ARC), ("truthfulqa", TRUTHFULQA)])
def test_task_records_and_earlier_output_kept(tmp_path, name, record):
    rng = random.Random(3)
    out, manifest = tmp_path / "prepared.jsonl", tmp_path / "prepared.json"
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(record) + "\n")
    prepare_dataset(name, out, manifest, source=good)
    before = out.read_bytes(), manifest.read_bytes()
    for _ in range(VARIANTS):
        bad = tmp_path / "variant.jsonl"
        bad.write_text(json.dumps(mutate(record, rng)) + "\n")
        try:
            prepare_dataset(name, out, manifest, source=bad)
        except PipelineInputError as error:
            assert "\n" not in str(error)
            assert (out.read_bytes(), manifest.read_bytes()) == before
        else:
            before = out.read_bytes(), manifest.read_bytes()


@pytest.mark.parametrize(
    ("data", "record"),
    [
        ('format = "instruction"', {"instruction": "Add.", "input": "2 and 3", "output": "5"}),
        (
            'format = "messages"\nprompt_template = "chat_template"',
            {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
        ),
    ],
)
def test_fine_tuning_records(tmp_path, monkeypatch, data, record):
    monkeypatch.chdir(tmp_path)
    rng = random.Random(4)
    (tmp_path / "qlora_own.toml").write_text(f'[data]\nfile = "own.jsonl"\n{data}\nnum_examples = 1\n')
    (tmp_path / "own.jsonl").write_text("{}\n")
    recipe = load_recipe(tmp_path / "qlora_own.toml")
    for _ in range(VARIANTS):
        (tmp_path / "own.jsonl").write_text(json.dumps(mutate(record, rng)) + "\n")
        if recipe.data.format == "messages":  # a valid conversation needs a tokenizer; stop at the checks
            from ll_hallucination_pipeline.training.sft_data import checked_records, read_records

            accepted_or_one_line(lambda: checked_records(recipe.data, read_records(Path("own.jsonl")), "own.jsonl"))
        else:
            accepted_or_one_line(lambda: sft_examples(recipe, Path("own.jsonl"), tokenizer=None))
