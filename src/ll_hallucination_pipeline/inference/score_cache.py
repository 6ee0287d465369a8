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
from typing import Any

from ..utils import atomic_write_text

Score = tuple[float, bool]
log = logging.getLogger(__name__)


class ScoreCache:
    """Loglikelihood results of one model, stored as shards under ``root/<fingerprint>/``."""

    subdirectory = ""

    def __init__(self, root: str | Path, fingerprint: str) -> None:
        self.directory = Path(root) / fingerprint / self.subdirectory
        self.fingerprint = fingerprint
        self._memory: dict[str, Any] = {}  # entries of the shards this process has read or written
        self._shards_seen: set[str] = set()
        self._said_unreadable = False

    def key(self, context: Sequence[int], continuation: Sequence[int] | str) -> str:
        """The key of a request: a context's token ids and a continuation (token ids, or generation settings)."""
        payload = json.dumps([self.fingerprint, list(context), continuation])
        return hashlib.sha256(payload.encode()).hexdigest()

    @staticmethod
    def _encode(value: Score) -> Any:
        logprob, greedy = value
        return [float(logprob), bool(greedy)]

    @staticmethod
    def _decode(raw: Any) -> Score:
        logprob, greedy = raw
        return float(logprob), bool(greedy)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """Each key's score, or None where no shard holds it (shards written since the last call are read first)."""
        self._read_new_shards()
        return {key: self._memory.get(key) for key in keys}

    def put_many(self, items: Iterable[tuple[str, Any]]) -> None:
        """Store ``items`` as one shard."""
        entries = {key: self._encode(value) for key, value in items}
        if not entries:
            return
        text = json.dumps(entries, sort_keys=True)
        name = f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"
        atomic_write_text(self.directory / name, text, durable=False)
        self._shards_seen.add(name)
        self._memory.update({key: self._decode(raw) for key, raw in entries.items()})

    def _read_new_shards(self) -> None:
        if not self.directory.is_dir():
            return
        for shard in sorted(self.directory.glob("*.json")):
            if shard.name in self._shards_seen:
                continue
            self._shards_seen.add(shard.name)
            try:
                entries = json.loads(shard.read_text())
                scores = {key: self._decode(raw) for key, raw in entries.items()}
            except (ValueError, TypeError, AttributeError, OSError):  # empty, truncated or foreign: recomputed
                if not self._said_unreadable:
                    log.warning("unreadable score-cache shards are skipped (first: %s)", shard)
                    self._said_unreadable = True
                continue
            for key, score in scores.items():
                self._memory.setdefault(key, score)


class GenerationCache(ScoreCache):
    """Greedy generations of one model (token ids, keyed by context and generation settings), stored as shards
    under ``root/<fingerprint>/generations/``."""

    subdirectory = "generations"

    @staticmethod
    def _encode(value: list[int]) -> Any:
        return [int(token) for token in value]

    @staticmethod
    def _decode(raw: Any) -> list[int]:
        if not isinstance(raw, list):
            raise TypeError("a generation is a list of token ids")
        return [int(token) for token in raw]
