"""Fine-tuning data: a registered data set, a user's own file or a hub data set, turned into SFT examples.

A recipe's ``[data]`` names where the examples come from and how to read them (see :class:`.recipe.DataSection`):
instruction records through a field map, or chat ``messages``; rendered with the Alpaca prompt or the tokenizer's
own chat template. Loss is on the response only: the completion of an instruction, every assistant turn of a
conversation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..utils import PipelineInputError, atomic_write_bytes, atomic_write_json, sha256_file
from .recipe import DataSection, Recipe, format_prompt

FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
ROLES = ("system", "user", "assistant")


def sft_data_file(recipe: Recipe) -> str:
    """The prepared file (a DAG target) a recipe's examples are read from."""
    data = recipe.data
    if data.knowledge:
        return f"data/knowledge/{recipe.name}/train.jsonl"
    if data.file:
        return f"data/user_{re.sub(r'[^A-Za-z0-9_-]', '_', Path(data.file).stem)}.jsonl"
    if data.hub:
        return f"data/hub_{re.sub(r'[^A-Za-z0-9_-]', '_', data.hub)}.jsonl"
    return f"data/{data.dataset}.jsonl"


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``.jsonl``, ``.json`` (a list of objects), ``.parquet`` or ``.csv`` file; errors name the
    file, the record and what to write instead."""
    path = Path(path)
    if path.suffix not in FILE_SUFFIXES:
        raise PipelineInputError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(FILE_SUFFIXES)}")
    if path.suffix == ".jsonl":
        from ..tasks import read_jsonl

        records = read_jsonl(path)
    elif path.suffix == ".json":
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PipelineInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(records, list):
            raise PipelineInputError(f"{path}: a .json file must hold a list of records ([{{...}}, ...])")
    else:
        import pandas as pd

        frame = (
            pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str, keep_default_na=False)
        )
        records = json.loads(frame.to_json(orient="records", force_ascii=False))
    if not records:
        raise PipelineInputError(f"{path}: no records; a fine-tuning file needs at least one example")
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise PipelineInputError(f"{path}: record {number} is not an object; write one {{...}} per example")
    return records


def prepare_sft_data(
    out_file: str | Path,
    manifest_file: str | Path,
    *,
    file: str | None = None,
    hub: str | None = None,
    split: str,
    readers: Sequence[DataSection] = (),
) -> dict[str, Any]:
    """Write a user's file (or a hub data set) as JSON Lines to ``out_file``, with the sha256 of both.

    Each of ``readers`` (the recipes' ``[data]`` that train on it) is checked against every record it will read
    first, so a bad record stops here, before a training job starts (and Snakemake clears its old adapter).
    """
    if file:
        records, origin, source_sha = read_records(file), str(file), sha256_file(file)
    else:
        from datasets import load_dataset

        try:
            records = [dict(row) for row in load_dataset(hub, split=split)]
        except OSError as exc:
            raise PipelineInputError(
                f"the Hugging Face hub gave no {hub} ({exc}); offline, save it as a file and set [data] file"
            ) from None
        origin, source_sha = f"hf://{hub}/{split}", None
    for data in readers:
        checked_records(data, records, origin)
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    atomic_write_bytes(out_file, payload)
    manifest = {
        "source": origin,
        "source_sha256": source_sha,
        "n_records": len(records),
        "sha256": sha256_file(out_file),
    }
    atomic_write_json(manifest_file, manifest)
    return manifest


def _text(origin: str, number: int, record: dict[str, Any], field: str, role: str, fix: str) -> str:
    value = record.get(field)
    if not isinstance(value, str):
        found = "missing" if field not in record else f"a {type(value).__name__}, not text"
        raise PipelineInputError(f"{origin}: record {number}: field {field!r} ({role}) is {found}; {fix}")
    return value


def instruction_messages(data: DataSection, record: dict[str, Any], origin: str, number: int) -> tuple[str, str, str]:
    """(instruction, input, output) of an instruction record read through ``data.fields``."""
    fix = (
        f'map [data] fields to this file\'s names, e.g. fields = {{instruction = "instruction", input = '
        f'"context", output = "response"}} (this record has {", ".join(map(repr, record)) or "no fields"})'
    )
    instruction = _text(origin, number, record, data.fields["instruction"], "instruction", fix)
    output = _text(origin, number, record, data.fields["output"], "output", fix)
    field = data.fields.get("input")
    input_text = _text(origin, number, record, field, "input", fix) if field and record.get(field) is not None else ""
    return instruction, input_text, output


def conversation(data: DataSection, record: dict[str, Any], origin: str, number: int) -> list[dict[str, str]]:
    """The checked ``messages`` of a chat record: role/content dicts, at least one assistant turn."""
    messages = record.get(data.messages_field)
    if not isinstance(messages, list) or not messages:
        raise PipelineInputError(
            f"{origin}: record {number}: field {data.messages_field!r} is missing or empty; each record needs a list "
            'of {"role": ..., "content": ...} turns (or set [data] messages_field)'
        )
    for turn_no, turn in enumerate(messages, start=1):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise PipelineInputError(
                f"{origin}: record {number}: turn {turn_no} of {data.messages_field!r} is not "
                f'{{"role": one of {", ".join(ROLES)}, "content": text}}'
            )
    if not any(turn["role"] == "assistant" for turn in messages):
        raise PipelineInputError(
            f"{origin}: record {number}: no assistant turn in {data.messages_field!r}; the loss is on assistant "
            'turns, so each conversation needs at least one {"role": "assistant", ...}'
        )
    return [{"role": turn["role"], "content": turn["content"]} for turn in messages]


def chat_example(tokenizer: Any, messages: list[dict[str, str]]) -> dict[str, list[int]]:
    """Token ids of ``messages`` in the tokenizer's own chat template, and a mask that is 1 exactly on the
    assistant turns' tokens (their content and end-of-turn): trl builds the labels from it."""
    render = lambda turns, prompt: tokenizer.apply_chat_template(  # noqa: E731
        turns, tokenize=False, add_generation_prompt=prompt
    )
    text = render(messages, False)
    spans = []
    for index, turn in enumerate(messages):
        if turn["role"] != "assistant":
            continue
        start, end = len(render(messages[:index], True)), len(render(messages[: index + 1], False))
        if not text.startswith(render(messages[: index + 1], False)) or start > end:
            raise PipelineInputError(
                "the tokenizer's chat template renders a conversation's beginning differently from its whole, so "
                'the assistant turns cannot be located; use prompt_template = "alpaca" with instruction records'
            )
        spans.append((start, end))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask = [int(any(start <= first < end for start, end in spans)) for first, _ in encoded["offset_mapping"]]
    return {"input_ids": list(encoded["input_ids"]), "assistant_masks": mask}


def checked_records(data: DataSection, records: list[dict[str, Any]], origin: str) -> list[Any]:
    """The first ``data.num_examples`` records read as ``data`` says: (instruction, input, output) triples or
    conversations; the first bad one is an error naming ``origin``, the record and the field."""
    if len(records) < data.num_examples:
        raise PipelineInputError(
            f"{origin} has {len(records)} records but [data] num_examples={data.num_examples}; lower num_examples"
        )
    read = conversation if data.format == "messages" else instruction_messages
    return [read(data, record, origin, number) for number, record in enumerate(records[: data.num_examples], 1)]


def sft_examples(recipe: Recipe, data_file: str | Path, tokenizer: Any) -> list[dict[str, Any]]:
    """The recipe's first ``num_examples`` records as trl examples: prompt/completion text (Alpaca template) or
    token ids with an assistant mask (the tokenizer's chat template). Every record is checked first."""
    data = recipe.data
    examples = checked_records(data, read_records(data_file), data.file or str(data_file))
    if data.format == "messages":
        conversations = examples
    elif data.prompt_template == "alpaca":
        return [{"prompt": format_prompt(i, x), "completion": o} for i, x, o in examples]
    else:
        conversations = [
            [{"role": "user", "content": f"{i}\n\n{x}" if x else i}, {"role": "assistant", "content": o}]
            for i, x, o in examples
        ]
    if not getattr(tokenizer, "chat_template", None):
        raise PipelineInputError(
            f'recipe {recipe.name}: prompt_template = "chat_template" but the model\'s tokenizer has no chat '
            'template; use prompt_template = "alpaca"'
        )
    return [chat_example(tokenizer, messages) for messages in conversations]
