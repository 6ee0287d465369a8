"""Wall-clock time of each logged training step, for throughput over a run (not only its average)."""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback


class StepClock(TrainerCallback):
    """Stamps each log entry with the seconds since training (or its resumption) began, under ``key``.

    The trainer reads the loss to log it, which waits for the GPU, so the stamp is the step's end.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.start = time.perf_counter()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.start = time.perf_counter()

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        state.log_history[-1][self.key] = round(time.perf_counter() - self.start, 3)
