"""The items of a baseline run and a post-QLoRA run, paired by lm-eval's ``doc_hash``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..utils import PipelineInputError


def join_items(base: Mapping[str, float], post: Mapping[str, float], *, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Align two per-item maps on ``doc_hash``; any item missing on one side is an error."""
    if base.keys() != post.keys():
        only_base, only_post = sorted(base.keys() - post.keys()), sorted(post.keys() - base.keys())
        raise PipelineInputError(
            f"{label}: item sets differ ({len(only_base)} only in baseline, {len(only_post)} only after QLoRA, "
            f"e.g. {(only_base or only_post)[0]}); evaluate both on the same data file"
        )
    keys = sorted(base)
    return np.array([base[k] for k in keys], dtype=float), np.array([post[k] for k in keys], dtype=float)


def unique_by_hash(rows: Sequence[dict], *, label: str) -> dict[str, dict]:
    """Index samples by ``doc_hash``; a duplicated hash is an error, never silently dropped."""
    out: dict[str, dict] = {}
    for row in rows:
        if row["doc_hash"] in out:
            raise PipelineInputError(f"{label}: doc_hash {row['doc_hash']} occurs twice; the samples file is corrupt")
        out[row["doc_hash"]] = row
    return out
