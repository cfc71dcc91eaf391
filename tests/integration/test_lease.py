"""Several copies on one PostgreSQL database: the lease that makes one of them active, its
epoch fencing the outbox and the steps, and the standby copy taking over."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.config import Config, load_protocol, load_settings
from bot.core.fence import Fence, LeaseLost
from bot.ops.copies import Copies, Me
from bot.storage import lease
from bot.storage.db import make_engine
from bot.storage.lease import Holder
from bot.storage.unit_of_work import StepSession
from bot.transport import inbox, outbox
from models import BotCopy, OutboxMessage
from models.vocab import CopyRole
from tests.conftest import copy_of_postgres, drop_postgres_database

ADMIN = 7000


@pytest.fixture
def pg_url(postgres_url: str, migrated_postgres: str) -> Iterator[str]:
    url, name = copy_of_postgres(migrated_postgres)
    yield url
    drop_postgres_database(name)


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pg_url)
    yield engine
    await engine.dispose()


def plain(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def take(engine: AsyncEngine, me: str, seconds: float = 30.0) -> lease.Taken | None:
    async with plain(engine)() as session:
        taken = await lease.try_acquire(session, me=me, host=me, pid=1, seconds=seconds)
        await session.commit()
    return taken


async def expire(engine: AsyncEngine) -> None:
    """As if the holder had stopped renewing for longer than the lease."""
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE bot_lease SET expires_at = clock_timestamp() - interval '1 second'")
        )


async def test_one_copy_holds_the_lease_and_each_takeover_raises_the_epoch(pg: AsyncEngine) -> None:
    first = await take(pg, "a")
    assert first is not None and first.epoch == 1 and first.before.copy_id is None
    assert await take(pg, "b") is None  # a holds it
    async with plain(pg)() as session:
        assert await lease.renew(session, me="a", epoch=1, seconds=30)
        assert not await lease.renew(session, me="b", epoch=1, seconds=30)
        await session.commit()
    await expire(pg)
    second = await take(pg, "b")
    assert second is not None and second.epoch == 2
    assert second.before.copy_id == "a" and not second.before.released
    async with plain(pg)() as session:
        # The old holder can neither renew nor pass for the holder any more.
        assert not await lease.renew(session, me="a", epoch=1, seconds=30)
        assert not await lease.held(session, me="a", epoch=1)
        assert await lease.held(session, me="b", epoch=2)


async def test_a_released_lease_is_taken_at_once_and_says_it_was_let_go(pg: AsyncEngine) -> None:
    await take(pg, "a")
    async with plain(pg)() as session:
        assert await lease.release(session, me="a", epoch=1)
        await session.commit()
    taken = await take(pg, "b")
    assert taken is not None and taken.epoch == 2 and taken.before.released


async def test_an_outbox_row_is_claimed_only_under_the_live_epoch(pg: AsyncEngine) -> None:
    await take(pg, "a")
    async with plain(pg)() as session:
        outbox.send(session, ADMIN, "hola", priority=outbox.NEWS, now=Clock().now())
        await session.commit()
        row_id = await session.scalar(select(OutboxMessage.id))
        assert row_id is not None

    async def claim(me: str, epoch: int) -> bool | None:
        async with plain(pg)() as session:
            taken = await lease.claim_rows(
                session, [row_id], me=me, epoch=epoch, write_ahead={row_id}, posts={row_id}
            )
            await session.commit()
        return taken.get(row_id)

    assert await claim("a", 1) is False  # first try: it cannot have gone out yet
    assert await claim("b", 1) is None  # not the holder
    await expire(pg)
    assert await claim("a", 1) is None  # the lease ran out: a paused copy claims nothing
    await take(pg, "b")
    # Epoch 1 took it and never finished: copy a may have sent it. Counted if it shows twice.
    assert await claim("b", 2) is True
    async with plain(pg)() as session:
        stored = await session.get(OutboxMessage, row_id)
        assert stored is not None and stored.claimed_epoch == 2 and stored.uncertain


async def test_a_step_of_a_copy_that_lost_the_lease_commits_nothing(pg: AsyncEngine) -> None:
    taken = await take(pg, "a")
    assert taken is not None
    fence = Fence()
    fence.hold("a", taken.epoch, until=float("inf"))  # its own clock still says it holds
    steps = async_sessionmaker(
        pg, class_=StepSession, expire_on_commit=False, info={"fence": fence}
    )
    session = steps()
    outbox.send(session, ADMIN, "first", priority=outbox.NEWS, now=Clock().now())
    await session.commit_step()  # still the holder: committed
    await session.close()
    await expire(pg)
    await take(pg, "b")
    session = steps()
    outbox.send(session, ADMIN, "after the takeover", priority=outbox.NEWS, now=Clock().now())
    with pytest.raises(LeaseLost):
        await session.commit_step()
    await session.rollback_step()
    await session.close()
    assert not fence.held
    async with plain(pg)() as check:
        texts_ = (await check.scalars(select(OutboxMessage.payload))).all()
    assert any("first" in t for t in texts_)
    assert not any("after the takeover" in t for t in texts_)


def test_the_fence_falls_by_its_own_clock() -> None:
    now = [100.0]
    fence = Fence(monotonic=lambda: now[0])
    assert fence.held and not fence.leased  # one copy alone is never fenced
    fence.hold("a", 3, until=105.0)
    assert fence.held and fence.leased
    now[0] = 105.0  # paused past the lease: it wakes fenced, before asking anyone
    assert not fence.held
    with pytest.raises(LeaseLost):
        fence.check()
    fence.extend(110.0)
    assert fence.held
    fence.drop()
    assert not fence.held


def _holder(copy_id: str, pid: int) -> Holder:
    now = Clock().now()
    return Holder(copy_id, "srv", pid, 1, now, now, now + timedelta(seconds=5), False, now)


def test_a_dead_predecessor_on_this_machine_need_not_be_waited_out() -> None:
    me = Me.here("srv")
    place = "|".join(me.copy_id.split("|")[:2])
    dead = 2**22 - 1  # beyond pid_max on most machines: no such process
    assert me.gone(_holder(f"{place}|{dead}|abc", dead))
    assert not me.gone(_holder(f"{place}|{os.getpid()}|abc", os.getpid()))  # alive
    assert not me.gone(_holder(f"elsewhere|pid:[1]|{dead}|abc", dead))  # another machine
    assert not Me.here("other").gone(_holder(f"{place}|{dead}|abc", dead))  # another copy


def config_for(url: str, name: str) -> Config:
    settings = load_settings(
        _env_file=None,
        database_url=url,
        lease_seconds=2,
        copy_name=name,
        admin_user_ids=[ADMIN],
    )
    return Config(settings=settings, protocol=load_protocol())


async def test_a_standby_copy_takes_over_when_the_active_one_lets_go_and_tells_the_admins(
    pg_url: str, pg: AsyncEngine
) -> None:
    a, b = Copies(config_for(pg_url, "srv-a")), Copies(config_for(pg_url, "srv-b"))
    stop = asyncio.Event()
    try:
        assert (await a.wait_to_take_over(stop)) is not None
        assert a.fence.held and a.role == CopyRole.ACTIVE
        waiting = asyncio.create_task(b.wait_to_take_over(stop))
        code, report = await b.standby_health()
        assert code == 200 and report["role"] == "standby"
        for _ in range(100):  # b looks at least once and sees a active
            if b.active is not None:
                break
            await asyncio.sleep(0.05)
        assert b.active is not None and b.active.host == "srv-a"
        assert not waiting.done()
        await a.close()  # a clean stop lets the lease go
        taken = await asyncio.wait_for(waiting, timeout=10)
        assert taken is not None and taken.epoch == 2 and taken.before.released
        assert b.fence.held and not a.fence.held
    finally:
        stop.set()
        await b.close()
    async with plain(pg)() as session:
        lines = (
            await session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.chat_id == ADMIN)
            )
        ).all()
        roles = {c.host: c.role for c in (await session.scalars(select(BotCopy))).all()}
    assert len(lines) == 1 and "Tomé el control en srv-b" in lines[0]
    assert "srv-a se detuvo" in lines[0]
    assert roles == {"srv-a": "stopped", "srv-b": "stopped"}


async def test_the_active_copy_stands_down_when_another_took_over(
    pg_url: str, pg: AsyncEngine
) -> None:
    a = Copies(config_for(pg_url, "srv-a"))
    stop, lost = asyncio.Event(), asyncio.Event()
    try:
        assert await a.wait_to_take_over(stop) is not None
        keeper = asyncio.create_task(a.keep(lost))
        await expire(pg)
        assert await take(pg, "someone-else") is not None
        await asyncio.wait_for(lost.wait(), timeout=10)
        await keeper
        assert not a.fence.held and a.role == CopyRole.STANDBY
    finally:
        await a.close()


async def test_an_update_is_marked_handled_only_by_the_copy_holding_the_lease(
    pg: AsyncEngine,
) -> None:
    await take(pg, "a")
    now = Clock().now()
    async with plain(pg)() as session:
        await inbox.store(session, [{"update_id": 5, "message": {"text": "/estado"}}], now)
        await session.commit()

    async def mark(me: str, epoch: int) -> bool:
        async with plain(pg)() as session:
            marked = await inbox.mark(
                session,
                5,
                inbox.HANDLED,
                now,
                only_waiting=True,
                holding=lease.holds(me=me, epoch=epoch),
            )
            await session.commit()
        return marked

    assert not await mark("b", 1)  # not the holder: the step is undone
    await expire(pg)
    assert not await mark("a", 1)  # its lease ran out while it was paused
    await take(pg, "b")
    assert await mark("b", 2)
    assert not await mark("b", 2)  # handled already: never twice


async def test_a_copy_that_lost_the_lease_stores_no_update(pg_url: str, pg: AsyncEngine) -> None:
    """A paused copy's getUpdates answer, stored after the new copy replayed its inbox, would
    never be handled: it is not stored, and Telegram gives it to the active copy."""
    from bot.core.config import Config
    from bot.runtime import Runtime
    from bot.transport.intake import Intake
    from models import InboxUpdate

    taken = await take(pg, "a")
    assert taken is not None
    fence = Fence()
    fence.hold("a", taken.epoch, until=float("inf"))
    settings = load_settings(_env_file=None, database_url=pg_url)
    runtime = Runtime(
        config=Config(settings=settings, protocol=load_protocol()),
        engine=pg,
        sessions=plain(pg),
        clock=Clock(),
        fence=fence,
    )
    await expire(pg)
    await take(pg, "b")
    with pytest.raises(LeaseLost):
        await Intake(None, runtime).take([{"update_id": 7, "message": {"text": "/caido"}}])
    async with plain(pg)() as session:
        assert await session.get(InboxUpdate, 7) is None
    assert not fence.held
