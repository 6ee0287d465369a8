"""A checkpoint's weights hash, computed once per model as a DAG target and read by every later job.

Hashing an 8B checkpoint (16 GB in bf16) takes seconds to tens of seconds; every evaluation, training
and export job needs the hash (score-cache identity, adapter provenance, the manifest). The
``hash_base_model`` rule writes it once to a record that also holds each weight file's size and mtime,
and a job reading the record recomputes the hash only if the files changed since.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..utils import atomic_write_json, sha256_file, sha256_tree

WEIGHT_SUFFIXES = (".safetensors", ".bin")
RECORD_SUFFIX = ".weights_sha256.json"

log = logging.getLogger(__name__)


def weights_sha256(checkpoint_dir: str | Path) -> str:
    """Hash of a checkpoint's (or adapter's) weight files only."""
    return sha256_tree(checkpoint_dir, suffixes=WEIGHT_SUFFIXES)


def _weight_files(checkpoint_dir: Path) -> dict[str, list[int]]:
    """Each weight file's relative name -> [size, mtime_ns]: what says the hash still holds."""
    files = sorted(p for p in checkpoint_dir.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    stats = {f.relative_to(checkpoint_dir).as_posix(): f.stat() for f in files}
    return {name: [stat.st_size, stat.st_mtime_ns] for name, stat in stats.items()}


def write_weights_record(checkpoint_dir: str | Path, record_file: str | Path) -> dict[str, Any]:
    """Hash ``checkpoint_dir``'s weights and write the record (path, hash, weight files' sizes and mtimes)."""
    checkpoint_dir = Path(checkpoint_dir).resolve()
    record = {
        "path": str(checkpoint_dir),
        "weights_sha256": weights_sha256(checkpoint_dir),
        "files": _weight_files(checkpoint_dir),
    }
    atomic_write_json(record_file, record)
    return record


def recorded_weights_sha256(checkpoint_dir: str | Path, record_file: str | Path) -> str:
    """The weights hash from ``record_file`` when it describes ``checkpoint_dir`` as it is now, else computed."""
    checkpoint_dir = Path(checkpoint_dir).resolve()
    record = json.loads(Path(record_file).read_text())
    if record.get("path") == str(checkpoint_dir) and record.get("files") == _weight_files(checkpoint_dir):
        return record["weights_sha256"]
    log.warning("%s does not describe %s as it is now; hashing its weights again", record_file, checkpoint_dir)
    return weights_sha256(checkpoint_dir)


def provenance_sha256(path: str | Path) -> str:
    """sha256 for the provenance manifest: a weights record's hash, a directory's weights, a file's bytes."""
    path = Path(path)
    if path.name.endswith(RECORD_SUFFIX):
        return json.loads(path.read_text())["weights_sha256"]
    return weights_sha256(path) if path.is_dir() else sha256_file(path)
