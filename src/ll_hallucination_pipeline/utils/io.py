"""Atomic file and directory writes, and content hashing.

Every output of the pipeline goes through these helpers, so an interrupted job never leaves a
file or directory at its final path that looks complete.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def _temp_sibling(target: Path) -> Path:
    # Host, pid and a random part: writers on different nodes of a shared filesystem never collide.
    tag = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return target.with_name(f"{target.name}.tmp-{tag}")


def atomic_write_bytes(path: str | Path, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and ``os.replace``.

    ``durable`` fsyncs before the rename; caches that can be recomputed skip it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(target)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def atomic_write_text(path: str | Path, text: str, *, durable: bool = True) -> Path:
    """Write UTF-8 ``text`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON atomically (stable bytes for stable input)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that is renamed to ``path`` only if the block succeeds.

    An existing ``path`` is replaced only at the very end, so a failure keeps the old one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(target)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish_files(source_dir: Path, target_dir: Path, names: Sequence[str]) -> None:
    """Move finished files from ``source_dir`` into ``target_dir`` in the order given, each by rename: the last
    one marks the set complete (a reader that finds it finds the others)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(source_dir / name, target_dir / name)


def atomic_write_csv(path: str | Path, frame: Any) -> Path:
    """Write a pandas table atomically with stable formatting (byte-identical for identical input)."""
    return atomic_write_text(path, frame.to_csv(index=False, float_format="%.10g", lineterminator="\n"))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of one file's bytes; a file unchanged since it was last hashed in this process is not re-read."""
    stat = os.stat(path)
    return _sha256_file(str(Path(path).resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_file(path: str, inode: int, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(path: str | Path, *, suffixes: tuple[str, ...] | None = None) -> str:
    """Hash of a file or of a directory's files (relative names and contents, sorted).

    ``suffixes`` restricts a directory hash to files with those endings (e.g. weights only).
    """
    root = Path(path)
    if root.is_file():
        return sha256_file(root)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        if suffixes is not None and not file.name.endswith(suffixes):
            continue
        digest.update(file.relative_to(root).as_posix().encode())
        digest.update(sha256_file(file).encode())
    return digest.hexdigest()
