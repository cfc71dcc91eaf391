"""Direct reads (bot.storage.direct): the same rows, with the same Python values, as a read
session returns; on SQLite straight from the driver, on PostgreSQL through a session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage import direct
from bot.storage.direct import Direct, Kept
from bot.transport import inbox, outbox
from bot.transport.delivery import rows as outbox_rows
from models import InboxUpdate, Member, OutboxMessage
from models.delivery import PENDING
from models.vocab import Priority

NOW = datetime(2026, 3, 2, 12, 30, 15, 123456, tzinfo=UTC)
_BY_CHAT = (
    select(OutboxMessage.__table__)
    .where(OutboxMessage.__table__.c.chat_id == bindparam("chat"))
    .order_by(OutboxMessage.__table__.c.id)
)


@pytest.fixture
def reads(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> Iterator[Direct]:
    """Direct reads and writes of the test's database (through a session on PostgreSQL)."""
    made = Direct.of(engine, sessions)
    yield made
    made.close()


async def _two_messages(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        outbox.send(session, -100, "hola <b>equipo</b>", priority=Priority.CRITICAL, now=NOW)
        outbox.send(
            session,
            -200,
            "ñandú",
            priority=Priority.CHATTER,
            now=NOW + timedelta(seconds=1),
            reply_to=7,
        )
        await session.commit()


async def test_a_direct_read_returns_what_a_session_returns(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], reads: Direct
) -> None:
    await _two_messages(sessions)
    assert (reads.path is None) == (engine.dialect.name != "sqlite")
    got = await reads.all(outbox_rows._PENDING)
    async with sessions() as session:
        expected = (await session.execute(outbox_rows._PENDING)).all()
    assert [tuple(r) for r in got] == [tuple(r) for r in expected]
    assert len(got) == 2
    first = got[0]
    assert first.status == PENDING and first.chat_id == -100
    assert first.created_at == NOW and first.created_at.tzinfo is not None
    assert first.priority == Priority.CRITICAL
    # A parameter bound by name, the same statement again (compiled once).
    assert [r.chat_id for r in await reads.all(_BY_CHAT, chat=-200)] == [-200]
    assert [r.chat_id for r in await reads.all(_BY_CHAT, chat=-100)] == [-100]
    assert await reads.all(_BY_CHAT, chat=-300) == []


async def test_a_direct_read_sees_what_is_committed_and_nothing_else(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], reads: Direct
) -> None:
    assert await reads.all(outbox_rows._PENDING) == []
    async with sessions() as session:
        outbox.send(session, -100, "uno", priority=Priority.NEWS, now=NOW)
        await session.flush()
        assert await reads.all(outbox_rows._PENDING) == []  # not committed yet
        await session.commit()
    assert len(await reads.all(outbox_rows._PENDING)) == 1


async def test_an_in_list_is_refused_rather_than_read_wrong(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], reads: Direct
) -> None:
    if reads.path is None:
        pytest.skip("PostgreSQL reads through a session: IN lists work there")
    table = OutboxMessage.__table__
    statement = select(table).where(table.c.chat_id.in_(bindparam("chats", expanding=True)))
    with pytest.raises(ValueError, match="IN lists"):
        await reads.all(statement, chats=[-100])


async def test_a_row_read_again_unchanged_is_the_same_object_and_a_changed_one_is_new(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], reads: Direct
) -> None:
    await _two_messages(sessions)
    kept = Kept()
    first = await reads.all(outbox_rows._PENDING, kept)
    again = await reads.all(outbox_rows._PENDING, kept)
    if reads.path is None:  # PostgreSQL: read through a session, nothing kept
        assert [tuple(r) for r in again] == [tuple(r) for r in first]
        return
    assert [a is b for a, b in zip(first, again, strict=True)] == [True, True]
    table = OutboxMessage.__table__
    async with sessions() as session:
        await session.execute(update(table).where(table.c.id == first[1].id).values(attempts=1))
        await session.execute(update(table).where(table.c.id == first[0].id).values(status="sent"))
        await session.commit()
    [changed] = await reads.all(outbox_rows._PENDING, kept)
    assert changed is not again[1] and changed.attempts == 1
    assert list(kept.rows) == [changed.id]  # the one sent is forgotten


async def test_updates_stored_in_a_write_of_their_own_are_stored_once(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], reads: Direct
) -> None:
    """The intake's store on SQLite (`inbox.store_now`): committed at once, an update stored
    twice is new once, and a write that fails leaves nothing (and the writer lock free)."""
    if reads.path is None:
        pytest.skip("PostgreSQL stores through the intake's session")
    updates = [{"update_id": 71, "message": {"text": "/caido ñ"}}, {"update_id": 72}]
    assert await inbox.store_now(reads, updates, NOW) == {71, 72}
    assert await inbox.store_now(reads, [*updates, {"update_id": 73}], NOW) == {73}
    async with sessions() as session:
        stored = {u.update_id: u for u in (await session.scalars(select(InboxUpdate))).all()}
        assert sorted(stored) == [71, 72, 73]
        assert stored[71].received_at == NOW and stored[71].status == inbox.RECEIVED
        assert json.loads(stored[71].data) == updates[0]
    table = InboxUpdate.__table__
    with pytest.raises(
        IntegrityError
    ):  # the second row breaks a constraint (as SQLAlchemy says it)
        await reads.write_each(
            insert(table),
            [
                {
                    "update_id": 80,
                    "kind": "x",
                    "data": "{}",
                    "status": "received",
                    "received_at": NOW,
                },
                {
                    "update_id": 80,
                    "kind": "x",
                    "data": "{}",
                    "status": "received",
                    "received_at": NOW,
                },
            ],
        )
    async with sessions() as session:  # the first row went with it, and writers go on
        assert await session.get(InboxUpdate, 80) is None
        await session.execute(update(table).where(table.c.update_id == 71).values(kind="y"))
        await session.commit()


async def test_a_direct_statement_fails_as_sqlalchemy_says_and_defaults_are_never_skipped(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A driver's error is SQLAlchemy's (a step's retries and refusals catch DBAPIError); rows
    given without a column that has a default computed in Python go through SQLAlchemy, which
    fills it in."""
    table = OutboxMessage.__table__
    full = {
        "priority": Priority.NEWS,
        "method": "send",
        "chat_id": -100,
        "payload": "{}",
        "card_key": None,
        "status": "pending",
        "attempts": 0,
        "uncertain": False,
        "duplicate_risk": False,
        "last_error": None,
        "created_at": NOW,
        "next_attempt_at": NOW,
    }
    lacking = {k: v for k, v in full.items() if k not in ("status", "attempts")}
    async with sessions() as session:
        await direct.execute(session, insert(table), [full, full])
        await direct.execute(session, insert(table), [lacking, lacking])
        await session.commit()
    async with sessions() as session:
        rows = (await session.execute(select(table.c.status, table.c.attempts))).all()
        assert [tuple(r) for r in rows] == [("pending", 0)] * 4
        member = insert(Member.__table__)
        person = {"user_id": 9, "full_name": "Ana", "private_chat": False}
        person |= {"created_at": NOW, "updated_at": NOW}
        await direct.execute(session, member, person)
        with pytest.raises(IntegrityError):
            await direct.execute(session, member, person)
