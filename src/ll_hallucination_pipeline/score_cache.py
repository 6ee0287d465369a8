"""A request-level score cache keyed by model identity, safe for concurrent writers.

lm-eval's ``--use_cache`` keys requests by text only, so a cache shared across models mixes
their answers. Here every key includes the model fingerprint (weights, adapter, quantization)
and the exact token ids. Each entry is one small JSON file written by temp-file + rename, so
writers on different nodes of a shared filesystem never corrupt each other, and a reader sees
either a whole entry or none.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from .io import atomic_write_text

Score = tuple[float, bool]
log = logging.getLogger(__name__)


class ScoreCache:
    """Loglikelihood results of one model, stored under ``root/<fingerprint>/``."""

    def __init__(self, root: str | Path, fingerprint: str) -> None:
        self.directory = Path(root) / fingerprint
        self.fingerprint = fingerprint
        self._memory: dict[str, Score] = {}  # entries this process has read or written
        self._said_unreadable = False

    def key(self, context: Sequence[int], continuation: Sequence[int]) -> str:
        payload = json.dumps([self.fingerprint, list(context), list(continuation)])
        return hashlib.sha256(payload.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Score | None:
        if key in self._memory:
            return self._memory[key]
        try:
            logprob, greedy = json.loads(self._path(key).read_text())
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, OSError):  # empty, truncated or foreign: a miss, recomputed
            if not self._said_unreadable:
                log.warning("unreadable score-cache entries are recomputed (first: %s)", self._path(key))
                self._said_unreadable = True
            return None
        self._memory[key] = (float(logprob), bool(greedy))
        return self._memory[key]

    def put_many(self, items: Iterable[tuple[str, Score]]) -> None:
        for key, (logprob, greedy) in items:
            atomic_write_text(self._path(key), json.dumps([logprob, greedy]), durable=False)
            self._memory[key] = (float(logprob), bool(greedy))
