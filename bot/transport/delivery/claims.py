"""Several copies of the bot: each outbox row is taken under this copy's lease epoch right
before it is sent (bot.storage.lease.claim_rows), so two copies can never send the same row and
a copy that lost the lease sends none. The rows one pass of the worker starts together are
claimed together, in one statement."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.runtime import Runtime
from bot.storage import lease
from bot.transport.delivery.rows import SENDS, Row


class Claims:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._waiting: list[tuple[Row, bool, asyncio.Future[Row | None]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def claim(self, row: Row, *, write_ahead: bool) -> Row | None:
        """The row as claimed (`uncertain` set if it may have gone out already), or None if
        it is not this copy's to send."""
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        if not self._waiting:  # the first of this pass: the others join before it runs
            asyncio.get_running_loop().call_soon(self._flush_soon)
        self._waiting.append((row, write_ahead, future))
        return await future

    def _flush_soon(self) -> None:
        batch, self._waiting = self._waiting, []
        task = asyncio.ensure_future(self._flush(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self, batch: list[tuple[Row, bool, asyncio.Future[Row | None]]]) -> None:
        fence = self.runtime.fence
        try:
            assert fence.copy_id is not None and fence.epoch is not None
            async with self.runtime.sessions() as session:
                taken = await lease.claim_rows(
                    session,
                    [row.id for row, _, _ in batch],
                    me=fence.copy_id,
                    epoch=fence.epoch,
                    write_ahead={row.id for row, ahead, _ in batch if ahead},
                    posts={row.id for row, _, _ in batch if row.method in SENDS},
                )
                await session.commit()
        except Exception as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for row, _, future in batch:
            if not future.done():
                maybe = taken.get(row.id)
                future.set_result(None if maybe is None else replace(row, uncertain=maybe))
