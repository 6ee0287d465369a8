"""Data sets as explicit files: fetched from the hub or copied from a local directory, checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..utils import PipelineInputError, atomic_write_bytes, atomic_write_json, sha256_file
from .registry import DataSet, get_data_set


def check_records(name: str, records: list[dict[str, Any]], origin: str) -> None:
    """Raise naming the first record and field that do not fit data set ``name``'s schema."""
    spec = get_data_set(name)
    if not records:
        raise PipelineInputError(f"{origin}: no records; expected the {name} {spec.split} split")
    for line, record in enumerate(records, start=1):
        for field, kind in spec.required.items():
            if not isinstance(record.get(field), kind):
                raise PipelineInputError(
                    f"{origin}: record {line} lacks field {field!r} of type {kind.__name__}; "
                    f"expected the schema of {spec.hub[0] + f' ({spec.hub[1]})' if spec.hub else spec.local_file}"
                )
        problem = spec.problem(record)
        if problem:
            raise PipelineInputError(f"{origin}: record {line}: {problem}; fix or drop that record")


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


def local_source(name: str, local_dir: str | Path) -> Path:
    """Data set ``name``'s file inside a local data directory; an error naming the fix if absent."""
    local_file = get_data_set(name).local_file
    path = Path(local_dir) / local_file
    if not path.is_file():
        raise PipelineInputError(
            f"{path} not found; set data.local_dir to a directory holding {local_file} or set data.source: hub"
        )
    return path


def require_hub_copy(name: str) -> DataSet:
    """Data set ``name``'s spec, or an error naming the local file where the hub has no copy of it."""
    spec = get_data_set(name)
    if spec.hub is None:
        raise PipelineInputError(
            f"{name} has no copy on the Hugging Face hub; set data.local_dir to a directory holding "
            f"{spec.local_file} (the shared/data layout) and data.source to local or auto"
        )
    return spec


def _hub_bytes(name: str) -> bytes:
    from datasets import load_dataset

    spec = require_hub_copy(name)
    try:
        dataset = load_dataset(spec.hub[0], spec.hub[1], split=spec.split)
    except OSError as exc:  # ConnectionError and offline-mode errors alike
        raise PipelineInputError(
            f"{name}: the Hugging Face hub gave no {spec.hub[0]} ({exc}); offline, set data.local_dir in config.yaml "
            f"to a directory holding {spec.local_file} (the shared/data layout)"
        ) from None
    lines = (json.dumps(row, ensure_ascii=False) for row in dataset)
    return ("\n".join(lines) + "\n").encode("utf-8")


def prepare_dataset(
    name: str, out_file: str | Path, manifest_file: str | Path, *, source: Path | None
) -> dict[str, Any]:
    """Write data set ``name``'s split to ``out_file`` and its sha256 to ``manifest_file``.

    ``source`` is a local JSON Lines file copied byte for byte; ``None`` downloads from the hub.
    """
    spec = get_data_set(name)
    if source is not None:
        check_records(name, read_jsonl(source), str(source))
        payload = Path(source).read_bytes()
        origin = str(source)
    else:
        payload = _hub_bytes(name)
        origin = f"hf://{spec.hub[0]}/{spec.hub[1]}/{spec.split}"
    atomic_write_bytes(out_file, payload)
    manifest = {
        "data_set": name,
        "split": spec.split,
        "source": origin,
        "n_items": len(read_jsonl(out_file)),
        "sha256": sha256_file(out_file),
    }
    atomic_write_json(manifest_file, manifest)
    return manifest


def will_be_prepared(source: str | Path, prepared: str | Path) -> bool:
    """Whether the DAG will (re)prepare ``prepared`` from local ``source``: it is missing or older. Such a source
    is checked when the workflow loads, so a bad file stops the run before any job (and before Snakemake clears
    the outputs of a job it is about to re-run)."""
    prepared = Path(prepared)
    return not prepared.is_file() or prepared.stat().st_mtime < Path(source).stat().st_mtime


# The question pools made of several data sets' records (``data/<pool>.jsonl``, its exemplars beside it).
QUESTION_POOLS = {"nq_open_pool": ("efficientqa_dev", "efficientqa_test")}

# Items at the start of a question pool's first file set aside for the knowledge probe's few-shot exemplars (the
# paper draws them from the dev split): enough for any K prompts of 4 (C(32, 4) = 35,960), never probed or trained.
POOL_EXEMPLARS = 32


def split_question_pool(files: list[list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A question pool made of several files' records (in order): the items the probe categorizes and mixes draw
    from, and the first :data:`POOL_EXEMPLARS` records, set aside for the probe's exemplars."""
    records = [record for records in files for record in records]
    if len(records) <= POOL_EXEMPLARS:
        raise PipelineInputError(f"a question pool needs more than {POOL_EXEMPLARS} items; it has {len(records)}")
    return records[POOL_EXEMPLARS:], records[:POOL_EXEMPLARS]
