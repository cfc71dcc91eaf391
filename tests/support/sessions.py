"""Sessions for tests that call services directly: the test is the unit of work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


class CommittingSession(AsyncSession):
    """What a step is in the bot, for a block of a test: services never commit, so a block
    that ends without an error commits what it did (one that raises rolls it back)."""

    async def __aexit__(self, type_: object, value: object, traceback: object) -> None:
        if type_ is None and self.in_transaction():
            await self.commit()
        await super().__aexit__(type_, value, traceback)  # type: ignore[arg-type]


def committing_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=CommittingSession, expire_on_commit=False)


@contextlib.contextmanager
def statements_of(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block, in order."""
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
