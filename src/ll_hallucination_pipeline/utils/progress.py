"""Progress of long work (scoring, generating), as lm-eval shows it: done of total, rate and time left, every few
seconds into the job's log and, where the log has taken over the streams, onto the console too."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger(__name__)


class Progress:
    """Reports ``what``'s progress at most every ``every`` seconds, and its end where anything was reported."""

    def __init__(self, what: str, total: int, unit: str, every: float = 10.0) -> None:
        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.started = self.last = time.perf_counter()
        self.reported = False

    def update(self, done: int, tokens: int) -> None:
        """``done`` of the total and ``tokens`` processed so far."""
        now = time.perf_counter()
        finished = done >= self.total
        if not (now - self.last >= self.every or (finished and self.reported)):
            return
        self.last, self.reported = now, True
        elapsed = max(now - self.started, 1e-9)
        left = elapsed * (self.total - done) / done if done else float("nan")
        message = (
            f"{self.what}: {done:,}/{self.total:,} {self.unit} ({done / max(self.total, 1):.0%}), "
            f"{tokens / elapsed:,.0f} tokens/s, {elapsed:.0f} s so far" + ("" if finished else f", ~{left:.0f} s left")
        )
        log.info("%s", message)
        if sys.stderr is not sys.__stderr__ and sys.__stderr__ is not None:  # a job's log holds the streams
            print(message, file=sys.__stderr__, flush=True)
