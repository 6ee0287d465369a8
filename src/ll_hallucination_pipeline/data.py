"""Task data as explicit files: fetched from the hub or copied from a local directory, checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PipelineInputError
from .io import atomic_write_bytes, atomic_write_json, sha256_file


@dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset comes from and the schema its records must have.

    lm_eval_yaml: for evaluation tasks, the built-in task definition relative to ``lm_eval/tasks``.
    split: the split used; the prepared file holds exactly that split.
    local_file: the file's path inside a local data directory (``../shared/data`` layout).
    hub: (dataset path, config name) on the Hugging Face hub.
    required: top-level field -> Python type every record must have.
    """

    lm_eval_yaml: str | None
    split: str
    local_file: str
    hub: tuple[str, str | None]
    required: dict[str, type]


DATASETS: dict[str, DatasetSpec] = {
    "truthfulqa_mc2": DatasetSpec(
        lm_eval_yaml="truthfulqa/truthfulqa_mc2.yaml",
        split="validation",
        local_file="truthfulqa/mc_validation.jsonl",
        hub=("truthfulqa/truthful_qa", "multiple_choice"),
        required={"question": str, "mc1_targets": dict, "mc2_targets": dict},
    ),
    "arc_easy": DatasetSpec(
        lm_eval_yaml="arc/arc_easy.yaml",
        split="test",
        local_file="arc_easy/test.jsonl",
        hub=("allenai/ai2_arc", "ARC-Easy"),
        required={"id": str, "question": str, "choices": dict, "answerKey": str},
    ),
    "alpaca": DatasetSpec(
        lm_eval_yaml=None,
        split="train",
        local_file="alpaca/train.jsonl",
        hub=("tatsu-lab/alpaca", None),
        required={"instruction": str, "input": str, "output": str},
    ),
}
TASKS = tuple(name for name, spec in DATASETS.items() if spec.lm_eval_yaml)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of a known dataset, or an error listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise PipelineInputError(f"dataset {name!r} is unknown; use one of {', '.join(DATASETS)}") from None


def task_spec(task: str) -> DatasetSpec:
    """The spec of a known evaluation task, or an error listing the known ones."""
    if task not in TASKS:
        raise PipelineInputError(f"task {task!r} is not a known task; use one of {', '.join(TASKS)}")
    return DATASETS[task]


def check_records(task: str, records: list[dict[str, Any]], origin: str) -> None:
    """Raise naming the first record and field that do not fit ``task``'s schema."""
    spec = dataset_spec(task)
    if not records:
        raise PipelineInputError(f"{origin}: no records; expected the {task} {spec.split} split")
    for line, record in enumerate(records, start=1):
        for field, kind in spec.required.items():
            if not isinstance(record.get(field), kind):
                raise PipelineInputError(
                    f"{origin}: record {line} lacks field {field!r} of type {kind.__name__}; "
                    f"expected the Hugging Face {spec.hub[0]} ({spec.hub[1]}) schema"
                )


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSON Lines file; a malformed line is a clear error."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise PipelineInputError(f"{path}:{line_no} is not valid JSON ({exc.msg})") from None
    return records


def local_source(task: str, local_dir: str | Path) -> Path:
    """The task's file inside a local data directory; an error naming the fix if absent."""
    path = Path(local_dir) / dataset_spec(task).local_file
    if not path.is_file():
        raise PipelineInputError(
            f"{path} not found; set data.local_dir to a directory holding {dataset_spec(task).local_file} "
            "or set data.source: hub"
        )
    return path


def _hub_bytes(task: str) -> bytes:
    from datasets import load_dataset

    spec = dataset_spec(task)
    try:
        dataset = load_dataset(spec.hub[0], spec.hub[1], split=spec.split)
    except OSError as exc:  # ConnectionError and offline-mode errors alike
        raise PipelineInputError(
            f"{task}: the Hugging Face hub gave no {spec.hub[0]} ({exc}); offline, set data.local_dir in config.yaml "
            f"to a directory holding {spec.local_file} (the shared/data layout)"
        ) from None
    lines = (json.dumps(row, ensure_ascii=False) for row in dataset)
    return ("\n".join(lines) + "\n").encode("utf-8")


def prepare_dataset(
    task: str, out_file: str | Path, manifest_file: str | Path, *, source: Path | None
) -> dict[str, Any]:
    """Write the task's evaluation split to ``out_file`` and its sha256 to ``manifest_file``.

    ``source`` is a local JSON Lines file copied byte for byte; ``None`` downloads from the hub.
    """
    spec = dataset_spec(task)
    if source is not None:
        check_records(task, read_jsonl(source), str(source))
        payload = Path(source).read_bytes()
        origin = str(source)
    else:
        payload = _hub_bytes(task)
        origin = f"hf://{spec.hub[0]}/{spec.hub[1]}/{spec.split}"
    atomic_write_bytes(out_file, payload)
    manifest = {
        "task": task,
        "split": spec.split,
        "source": origin,
        "n_items": len(read_jsonl(out_file)),
        "sha256": sha256_file(out_file),
    }
    atomic_write_json(manifest_file, manifest)
    return manifest
