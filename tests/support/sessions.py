"""Sessions for tests that call services directly: the test is the unit of work."""

from __future__ import annotations

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
