"""Own fine-tuning data: files of every kind, field maps, chat records, and one clear line for each bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ll_hallucination_pipeline.training.recipe import load_recipe
from ll_hallucination_pipeline.training.sft_data import prepare_sft_data, read_records, sft_data_file, sft_examples
from ll_hallucination_pipeline.utils.errors import PipelineInputError
from tests.helpers import REPO

DOLLY = [
    {"instruction": "Name a colour.", "context": "", "response": "Blue."},
    {"instruction": "Add the numbers.", "context": "2 and 3", "response": "5"},
]
DOLLY_FIELDS = 'fields = {instruction = "instruction", input = "context", output = "response"}'


def recipe_file(tmp_path: Path, data: str, num_examples: int = 1) -> Path:
    path = tmp_path / "qlora_own.toml"
    path.write_text(f"[data]\n{data}\nnum_examples = {num_examples}\n")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_every_file_kind_reads_the_same_records(tmp_path, suffix):
    path = tmp_path / f"dolly{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in DOLLY))
    elif suffix == ".json":
        path.write_text(json.dumps(DOLLY))
    elif suffix == ".csv":
        pd.DataFrame(DOLLY).to_csv(path, index=False)
    else:
        pd.DataFrame(DOLLY).to_parquet(path)
    assert read_records(path) == DOLLY


def test_a_users_file_is_prepared_with_its_sha256(tmp_path):
    source = tmp_path / "dolly.csv"
    pd.DataFrame(DOLLY).to_csv(source, index=False)
    manifest = prepare_sft_data(tmp_path / "out.jsonl", tmp_path / "out.json", file=str(source), split="train")
    assert manifest["n_records"] == 2 and len(manifest["source_sha256"]) == 64
    assert [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()] == DOLLY


def test_a_bad_record_stops_the_preparation_before_any_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dolly.jsonl").write_text("".join(json.dumps(r) + "\n" for r in DOLLY))
    reader = load_recipe(recipe_file(tmp_path, 'file = "dolly.jsonl"', num_examples=2)).data  # fields not mapped
    with pytest.raises(PipelineInputError, match="dolly.jsonl: record 1: field 'output' \\(output\\) is missing"):
        prepare_sft_data(
            tmp_path / "out.jsonl", tmp_path / "out.json", file="dolly.jsonl", split="train", readers=[reader]
        )
    assert not (tmp_path / "out.jsonl").exists()
    too_many = load_recipe(recipe_file(tmp_path, f'file = "dolly.jsonl"\n{DOLLY_FIELDS}', num_examples=3)).data
    with pytest.raises(PipelineInputError, match="dolly.jsonl has 2 records but \\[data\\] num_examples=3"):
        prepare_sft_data(
            tmp_path / "out.jsonl", tmp_path / "out.json", file="dolly.jsonl", split="train", readers=[too_many]
        )


def test_field_map_reads_dolly_records_into_alpaca_prompts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "dolly.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in DOLLY))
    recipe = load_recipe(recipe_file(tmp_path, f'file = "dolly.jsonl"\n{DOLLY_FIELDS}', num_examples=2))
    assert sft_data_file(recipe) == "data/user_dolly.jsonl"
    examples = sft_examples(recipe, data, tokenizer=None)
    assert examples[1]["completion"] == "5" and "### Input:\n2 and 3" in examples[1]["prompt"]
    assert "### Input" not in examples[0]["prompt"]


def test_example_recipes_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_data").mkdir()
    for name in ("dolly.jsonl", "chats.jsonl"):
        (tmp_path / "my_data" / name).write_text("{}\n")
    chat = load_recipe(REPO / "configs/qlora_own_chat.toml")
    assert (chat.data.format, chat.data.prompt_template) == ("messages", "chat_template")
    assert load_recipe(REPO / "configs/qlora_own_fields.toml").data.fields["input"] == "context"
    hub = load_recipe(REPO / "configs/qlora_dolly_hub.toml")
    assert sft_data_file(hub) == "data/hub_databricks_databricks-dolly-15k.jsonl"


@pytest.mark.parametrize(
    ("content", "data", "message"),
    [
        ("", 'file = "d.jsonl"', "d.jsonl: no records; a fine-tuning file needs at least one example"),
        ('["a"]', 'file = "d.json"', "d.json: record 1 is not an object"),
        (
            json.dumps(DOLLY[0]) + "\n",
            'file = "d.jsonl"',
            "d.jsonl: record 1: field 'output' (output) is missing; map [data] fields to this file's names, e.g. "
            'fields = {instruction = "instruction", input = "context", output = "response"} (this record has '
            "'instruction', 'context', 'response')",
        ),
        (
            json.dumps({"instruction": "q", "response": 3}) + "\n",
            f'file = "d.jsonl"\n{DOLLY_FIELDS}',
            "d.jsonl: record 1: field 'response' (output) is a int, not text",
        ),
        (
            json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n",
            'file = "d.jsonl"\nformat = "messages"\nprompt_template = "chat_template"',
            "d.jsonl: record 1: no assistant turn in 'messages'; the loss is on assistant turns",
        ),
        (
            json.dumps({"messages": [{"role": "bot", "content": "hi"}]}) + "\n",
            'file = "d.jsonl"\nformat = "messages"\nprompt_template = "chat_template"',
            "d.jsonl: record 1: turn 1 of 'messages' is not {\"role\": one of system, user, assistant",
        ),
        (
            json.dumps({"conversation": []}) + "\n",
            'file = "d.jsonl"\nformat = "messages"\nprompt_template = "chat_template"',
            "d.jsonl: record 1: field 'messages' is missing or empty; each record needs a list",
        ),
        ("a,b\n1,2\n", 'file = "d.txt"', "d.txt: unknown file type '.txt'; use one of .jsonl, .json, .parquet, .csv"),
    ],
)
def test_bad_records_get_one_line_naming_file_record_and_field(tmp_path, monkeypatch, content, data, message):
    monkeypatch.chdir(tmp_path)
    name = data.split('"')[1]
    (tmp_path / name).write_text(content)
    recipe = load_recipe(recipe_file(tmp_path, data))
    with pytest.raises(PipelineInputError) as info:
        sft_examples(recipe, Path(name), tokenizer=None)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_chat_template_needs_a_tokenizer_that_has_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in DOLLY))
    recipe = load_recipe(recipe_file(tmp_path, f'file = "d.jsonl"\n{DOLLY_FIELDS}\nprompt_template = "chat_template"'))

    class NoTemplate:
        chat_template = None

    with pytest.raises(
        PipelineInputError, match='the model\'s tokenizer has no chat template; use prompt_template = "alpaca"'
    ):
        sft_examples(recipe, tmp_path / "d.jsonl", NoTemplate())
