"""A request-level score cache keyed by model identity, safe for concurrent writers.

lm-eval's ``--use_cache`` keys requests by text only, so a cache shared across models mixes
their answers. Here every key includes the model fingerprint (weights, adapter, quantization)
and the exact token ids. Each write is one shard: a JSON file of that call's entries, written by
temp-file + rename under a name taken from its content. Writers on different nodes of a shared
filesystem never write the same file with different bytes, a reader sees a whole shard or none,
and a pass of thousands of requests makes one file, not one per request.
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
    """Loglikelihood results of one model, stored as shards under ``root/<fingerprint>/``."""

    def __init__(self, root: str | Path, fingerprint: str) -> None:
        self.directory = Path(root) / fingerprint
        self.fingerprint = fingerprint
        self._memory: dict[str, Score] = {}  # entries of the shards this process has read or written
        self._shards_seen: set[str] = set()
        self._said_unreadable = False

    def key(self, context: Sequence[int], continuation: Sequence[int]) -> str:
        payload = json.dumps([self.fingerprint, list(context), list(continuation)])
        return hashlib.sha256(payload.encode()).hexdigest()

    def get_many(self, keys: Iterable[str]) -> dict[str, Score | None]:
        """Each key's score, or None where no shard holds it (shards written since the last call are read first)."""
        self._read_new_shards()
        return {key: self._memory.get(key) for key in keys}

    def put_many(self, items: Iterable[tuple[str, Score]]) -> None:
        """Store ``items`` as one shard."""
        entries = {key: [float(logprob), bool(greedy)] for key, (logprob, greedy) in items}
        if not entries:
            return
        text = json.dumps(entries, sort_keys=True)
        name = f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"
        atomic_write_text(self.directory / name, text, durable=False)
        self._shards_seen.add(name)
        self._memory.update({key: (logprob, greedy) for key, (logprob, greedy) in entries.items()})

    def _read_new_shards(self) -> None:
        if not self.directory.is_dir():
            return
        for shard in sorted(self.directory.glob("*.json")):
            if shard.name in self._shards_seen:
                continue
            self._shards_seen.add(shard.name)
            try:
                entries = json.loads(shard.read_text())
                scores = {key: (float(logprob), bool(greedy)) for key, (logprob, greedy) in entries.items()}
            except (ValueError, TypeError, AttributeError, OSError):  # empty, truncated or foreign: recomputed
                if not self._said_unreadable:
                    log.warning("unreadable score-cache shards are skipped (first: %s)", shard)
                    self._said_unreadable = True
                continue
            for key, score in scores.items():
                self._memory.setdefault(key, score)
