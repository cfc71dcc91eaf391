"""How many updates the handlers were handed and have not finished."""

from __future__ import annotations

import asyncio

HANDED_AT_MOST = 64


class InFlight:
    """The intake stores a burst of updates at once (hundreds, in a bad moment) but hands them
    to the handlers a few dozen at a time: each one handed over is a parsed update and a task
    that waits its turn, and hundreds of them at once were most of what a burst left the
    process holding. Sixteen run at once anyway (bot.app.CONCURRENT_UPDATES)."""

    def __init__(self, limit: int = HANDED_AT_MOST) -> None:
        self.limit = limit
        self.count = 0
        self._room = asyncio.Event()
        self._room.set()

    async def room(self) -> None:
        """Wait until fewer than `limit` are in flight."""
        while self.count >= self.limit:
            self._room.clear()
            await self._room.wait()

    def handed(self) -> None:
        self.count += 1

    def finished(self) -> None:
        self.count = max(0, self.count - 1)
        if self.count < self.limit:
            self._room.set()
