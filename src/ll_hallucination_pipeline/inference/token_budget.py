"""How many padded tokens the scorer puts into one forward pass (``eval.token_budget``).

A fixed number, or ``auto``: on a GPU each scoring call's first forward (its widest rows) runs at
:data:`AUTO_START` tokens, its memory per token is measured, and the rest are sized to the memory left
free, between :data:`AUTO_FLOOR` and :data:`AUTO_CAP`. So a 24 GB card and an 80 GB card both run the
default unchanged, the larger one in larger forwards. A forward that runs out of GPU memory is retried
at half the budget. The budget changes speed and memory only: every request is scored the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

TokenBudgetSetting = int | Literal["auto"]

# The first, measured forward: small enough for an 8B-shaped NF4 model on a 24 GB card (bench/RESULTS.md).
AUTO_START = 8192
# Beyond this a forward no longer runs faster on a data-centre GPU; it only holds more memory.
AUTO_CAP = 32768
AUTO_FLOOR = 256
# Share of the free memory the sized forwards may take; the rest absorbs what one measured forward
# does not show (allocator fragmentation, wider rows in a later call).
AUTO_MEMORY_SHARE = 0.7


def fit_to_memory(bytes_per_token: float, free_bytes: int) -> int:
    """The largest budget whose forwards, at ``bytes_per_token``, take at most :data:`AUTO_MEMORY_SHARE`
    of ``free_bytes``, kept within :data:`AUTO_FLOOR`..:data:`AUTO_CAP` and rounded down to 256."""
    fitted = int(AUTO_MEMORY_SHARE * free_bytes / max(bytes_per_token, 1.0)) // 256 * 256
    return max(AUTO_FLOOR, min(AUTO_CAP, fitted))


@dataclass
class TokenBudget:
    """The budget in force, and how it was chosen.

    ``setting`` is the configured value; :meth:`at_call_start` gives the budget of a scoring call's
    first forward, :meth:`measured` resizes from that forward's memory, :meth:`halve` reacts to an
    out-of-memory error.
    """

    setting: TokenBudgetSetting
    current: int = AUTO_START

    def __post_init__(self) -> None:
        if self.setting != "auto":
            if not isinstance(self.setting, int) or self.setting < AUTO_FLOOR:
                raise ValueError(f"token_budget must be 'auto' or an integer >= {AUTO_FLOOR}, got {self.setting!r}")
            self.current = self.setting

    @property
    def auto(self) -> bool:
        return self.setting == "auto"

    def at_call_start(self, measurable: bool) -> int:
        """Budget of a call's first forward: the setting, or :data:`AUTO_START` when it will be measured."""
        if self.auto and measurable:
            self.current = min(self.current, AUTO_START)
        return self.current

    def measured(self, bytes_per_token: float, free_bytes: int) -> int:
        """Resize an ``auto`` budget from one forward's measured memory; a fixed one stays."""
        if self.auto:
            self.current = fit_to_memory(bytes_per_token, free_bytes)
        return self.current

    def halve(self) -> int:
        """After an out-of-memory error: half the budget (never below :data:`AUTO_FLOOR`), kept for later calls."""
        if self.current <= AUTO_FLOOR:
            raise MemoryError(f"a forward of {self.current} tokens does not fit in GPU memory")
        self.current = max(AUTO_FLOOR, self.current // 2)
        log.warning("GPU out of memory: scoring continues with token_budget %d", self.current)
        return self.current
