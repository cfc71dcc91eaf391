"""Whether this copy of the bot may still act, as far as it can tell without asking anyone.

With several copies on one PostgreSQL, the active one holds a lease in the database for a few
seconds at a time (bot.ops.copies). The fence is that lease as this process sees it: held until
a moment of its own monotonic clock, counted from *before* the renewal that set it, so it always
ends before the database lets another copy take over. A copy that was paused (a frozen VM,
SIGSTOP) and wakes finds its fence down before it sends or commits anything.

One copy on its own (SQLite, or the lease turned off) is never fenced.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class LeaseLost(Exception):
    """This copy is no longer the active one: whatever it was doing must not happen."""


class Fence:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.copy_id: str | None = None
        self.epoch: int | None = None  # None: one copy on its own, never fenced
        self._until = math.inf

    @property
    def leased(self) -> bool:
        """True when this copy acts under a lease (several copies may run)."""
        return self.epoch is not None

    def hold(self, copy_id: str, epoch: int, until: float) -> None:
        self.copy_id, self.epoch, self._until = copy_id, epoch, until

    def extend(self, until: float) -> None:
        self._until = max(self._until, until)

    def drop(self) -> None:
        self._until = -math.inf

    @property
    def held(self) -> bool:
        return self._monotonic() < self._until

    def check(self) -> None:
        if not self.held:
            raise LeaseLost(f"lease epoch {self.epoch} is no longer held by this copy")
