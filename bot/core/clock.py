"""The bot's clock: real time, or real time shifted to start at a chosen instant (drills, tests)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        self._offset = timedelta(0)
        if start is not None:
            if start.tzinfo is None:
                raise ValueError(
                    "FLEXUS_NOW must include a UTC offset, e.g. 2026-11-28T07:59:00-03:00"
                )
            self._offset = start.astimezone(UTC) - datetime.now(UTC)

    @classmethod
    def from_setting(cls, value: str) -> Clock:
        return cls(datetime.fromisoformat(value)) if value else cls()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: what flood windows and back-offs measure."""
        return time.monotonic()

    def seconds_until(self, instant: datetime) -> float:
        """Real seconds to wait for `instant` on this clock (never negative)."""
        return max(0.0, (instant - self.now()).total_seconds())
