"""The inbox and the outbox keep a week of settled rows; pending ones are never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.transport import inbox, outbox
from models import InboxUpdate, OutboxMessage

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=8)


async def test_old_settled_rows_are_forgotten_and_the_offset_survives(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await inbox.store(session, [{"update_id": i, "message": {}} for i in (1, 2, 3, 4)], OLD)
        for update_id in (1, 2, 4):
            await inbox.mark(session, update_id, inbox.HANDLED, OLD)
        for text in ("sent long ago", "still pending"):
            outbox.send(session, -100, text, priority=outbox.NEWS, now=OLD)
        await session.flush()
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.payload.contains("sent long ago"))
            .values(status="sent", done_at=OLD)
        )
        await session.commit()

    async with sessions() as session:
        forgot_updates = await inbox.prune(session, NOW - timedelta(days=7))
        forgot_messages = await outbox.prune(session, NOW - timedelta(days=7))
        await session.commit()
        kept = (await session.scalars(select(InboxUpdate.update_id))).all()
        left = (await session.scalars(select(OutboxMessage.status))).all()
        offset = await inbox.next_offset(session)

    # Update 3 was never handled: kept. Update 4 is the newest: kept, it fixes the offset.
    assert (forgot_updates, sorted(kept), offset) == (2, [3, 4], 5)
    assert (forgot_messages, left) == (1, ["pending"])
