"""An update runs as one step: its handler's failure undoes everything it did, the update is
marked skipped (never handled again) and the person is told, through the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from telegram import Update

from bot import app as bot_app
from bot import texts
from bot.app import handle_update
from bot.core.clock import Clock
from bot.core.config import Config, load_protocol, load_settings
from bot.core.in_flight import InFlight
from bot.protocol import incidents
from bot.protocol.lifecycle import Refused, add_event, refuses_before_writing
from bot.runtime import Runtime
from bot.storage.unit_of_work import StepSession
from bot.team.members import Person, touch_member
from bot.transport import inbox, outbox
from bot.transport.intake import Intake
from handlers.kit.replies import run_in_transaction
from models import Event, InboxUpdate, Incident, Member, OutboxMessage, Report
from models.incident import CLOSED
from models.vocab import EventKind, Refusal
from tests.support.sessions import committing_sessions, statements_of
from tests.support.steps import report

GROUP = -100555


def make_runtime(engine: AsyncEngine, database_url: str) -> Runtime:
    settings = load_settings(_env_file=None, database_url=database_url, team_chat_ids=[GROUP])
    return Runtime(
        config=Config(settings=settings, protocol=load_protocol()),
        engine=engine,
        sessions=committing_sessions(engine),
        clock=Clock(),
    )


async def store(runtime: Runtime, *raw: dict[str, Any]) -> None:
    """The updates as the intake stores them, before their steps."""
    async with runtime.sessions() as session:
        await inbox.store(session, list(raw), runtime.clock.now())
        await session.commit()


RAW = {
    "update_id": 42,
    "message": {
        "message_id": 7,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Caja"},
        "from": {"id": 101, "is_bot": False, "first_name": "Ana"},
        "text": "/caido",
    },
}


async def test_a_failing_handler_leaves_nothing_but_the_skip_and_a_notice(
    engine: AsyncEngine, database_url: str
) -> None:
    runtime = make_runtime(engine, database_url)
    async with runtime.sessions() as session:
        await inbox.store(session, [RAW], runtime.clock.now())
        await session.commit()

    async def handler_that_fails() -> None:
        async with runtime.session() as session:  # the step's session
            await touch_member(session, person=Person(101, "Ana"), now=runtime.clock.now())
        raise RuntimeError("boom")

    await handle_update(runtime, Update.de_json(RAW, None), handler_that_fails())

    async with runtime.sessions() as session:
        status = await session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == 42))
        members = (await session.scalars(select(Member.user_id))).all()
        [notice] = (await session.scalars(select(OutboxMessage))).all()
    assert status == inbox.SKIPPED
    assert members == []  # what the handler wrote before failing was undone
    payload = json.loads(notice.payload)
    assert (notice.chat_id, payload["text"], payload["reply_to"]) == (
        GROUP,
        texts.SOMETHING_FAILED,
        7,
    )
    assert runtime.stats.updates_skipped == 1

    # Handled once and for all: the same update again does not run its handler.
    ran: list[bool] = []

    async def handler() -> None:
        ran.append(True)

    await handle_update(runtime, Update.de_json(RAW, None), handler())
    assert ran == []


async def test_an_update_stored_just_now_is_not_read_back_before_its_step(
    engine: AsyncEngine, database_url: str
) -> None:
    """The intake stored it a moment ago, so it cannot have been handled: its step goes
    straight to work. One replayed from an earlier run is checked first."""
    runtime = make_runtime(engine, database_url)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with runtime.sessions() as session:
            await inbox.store(session, [RAW], runtime.clock.now())
            await session.commit()

        async def handler() -> None:
            pass

        runtime.fresh_updates.add(42)
        statements.clear()
        await handle_update(runtime, Update.de_json(RAW, None), handler())
        assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert 42 not in runtime.fresh_updates

        ran: list[bool] = []

        async def again() -> None:
            ran.append(True)

        statements.clear()  # the same update, replayed: read first, and not handled twice
        await handle_update(runtime, Update.de_json(RAW, None), again())
        assert [s for s in statements if "FROM inbox_updates" in s]
        assert ran == []
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_only_a_block_that_may_refuse_gets_a_savepoint(
    engine: AsyncEngine, database_url: str
) -> None:
    """A savepoint lets a refusal undo its own block; a block that only adds messages or
    reads never refuses, and any other failure fails the whole step anyway."""
    runtime = make_runtime(engine, database_url)
    await store(runtime, RAW)

    async def handler() -> None:
        async with runtime.session(refusable=False) as session:
            await touch_member(session, person=Person(101, "Ana"), now=runtime.clock.now())
        with contextlib.suppress(Refused):
            async with runtime.session() as session:
                await touch_member(session, person=Person(102, "Luis"), now=runtime.clock.now())
                raise Refused("closed")

    with statements_of(engine) as statements:
        runtime.fresh_updates.add(42)
        await handle_update(runtime, Update.de_json(RAW, None), handler())
    savepoints = [s for s in statements if s.upper().startswith("SAVEPOINT")]
    assert len(savepoints) == 1  # the refusable block's, not the other's
    async with runtime.sessions() as session:
        members = (await session.scalars(select(Member.user_id))).all()
        status = await session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == 42))
    assert list(members) == [101]  # the refused block alone was undone
    assert status == inbox.HANDLED


async def test_a_steps_messages_are_one_insert_and_a_refused_block_takes_its_own_back(
    engine: AsyncEngine, database_url: str
) -> None:
    """Messages a step writes are inserted together when it commits, in the order written;
    those written inside a block that refused are undone with it, the others stay."""
    runtime = make_runtime(engine, database_url)
    await store(runtime, RAW)

    def say(session: AsyncSession, text: str) -> None:
        outbox.send(session, GROUP, text, priority=outbox.NEWS, now=runtime.clock.now())

    async def handler() -> None:
        async with runtime.session(refusable=False) as session:
            say(session, "uno")
        with contextlib.suppress(Refused):
            async with runtime.session() as session:
                say(session, "no")
                raise Refused("closed")
        async with runtime.session() as session:
            say(session, "dos")
        async with runtime.session(refusable=False) as session:
            say(session, "tres")

    with statements_of(engine) as statements:
        runtime.fresh_updates.add(42)
        await handle_update(runtime, Update.de_json(RAW, None), handler())
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [json.loads(r.payload)["text"] for r in rows] == ["uno", "dos", "tres"]
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO OUTBOX")]
    # "uno" before the second savepoint (a refused block may not take it back), the rest at
    # the commit, together.
    assert len(inserts) == 2


RAW_LUIS = {
    "update_id": 43,
    "message": {
        "message_id": 8,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Caja"},
        "from": {"id": 102, "is_bot": False, "first_name": "Luis"},
        "text": "/caido",
    },
}


async def test_a_service_that_refuses_before_writing_needs_no_savepoint_and_one_that_lies_fails(
    engine: AsyncEngine, database_url: str
) -> None:
    """A service marked `refuses_before_writing` runs without a savepoint: its refusal is
    answered as any other. One that writes and then refuses all the same fails the whole step
    (nothing it or the step wrote is kept, the update is skipped), rather than keep half its
    writes."""
    runtime = make_runtime(engine, database_url)
    context = SimpleNamespace(runtime=runtime)
    await store(runtime, RAW, RAW_LUIS)

    @refuses_before_writing
    async def reads_then_refuses(session: AsyncSession) -> bool:
        await session.scalar(select(Member.user_id).limit(1))  # flushes what the step had
        raise Refused(Refusal.CLOSED)

    @refuses_before_writing
    async def writes_then_refuses(session: AsyncSession) -> bool:
        await touch_member(session, person=Person(102, "Luis"), now=runtime.clock.now())
        raise Refused(Refusal.CLOSED)

    async def ana(update: Update) -> None:
        now = runtime.clock.now()
        async with runtime.session(refusable=False) as session:
            # The step's own writes, not flushed yet: not the service's, whatever it reads.
            for user_id, name in ((101, "Ana"), (103, "Marta")):
                session.add(Member(user_id=user_id, full_name=name, created_at=now, updated_at=now))
            # and a message of the step's, deferred: its insert is not the service's either
            outbox.send(session, GROUP, "antes", priority=outbox.NEWS, now=now)
            outbox.send(session, GROUP, "también antes", priority=outbox.NEWS, now=now)
            assert await run_in_transaction(update, context, reads_then_refuses) is None

    async def luis(update: Update) -> None:
        await run_in_transaction(update, context, writes_then_refuses)

    with statements_of(engine) as statements:
        runtime.fresh_updates.update({42, 43})
        first = Update.de_json(RAW, None)
        await handle_update(runtime, first, ana(first))
        second = Update.de_json(RAW_LUIS, None)
        await handle_update(runtime, second, luis(second))
    assert not [s for s in statements if s.upper().startswith("SAVEPOINT")]
    async with runtime.sessions() as session:
        marks = dict(
            (await session.execute(select(InboxUpdate.update_id, InboxUpdate.status))).all()
        )
        members = (await session.scalars(select(Member.user_id))).all()
        replies = [
            json.loads(p)["text"]
            for p in (await session.scalars(select(OutboxMessage.payload))).all()
        ]
    assert marks == {42: inbox.HANDLED, 43: inbox.SKIPPED}
    assert sorted(members) == [101, 103]  # Ana's step kept; Luis's half-done one left nothing
    assert replies == [
        "antes",
        "también antes",
        texts.refusal(Refused(Refusal.CLOSED)),
        texts.SOMETHING_FAILED,
    ]


async def test_a_report_racing_the_close_of_the_open_incident_opens_a_fresh_one_in_its_step(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the open incident may close between a report's insert (the open slot is
    taken: nothing opened) and its read (nothing open any more). The report must then open a
    fresh incident inside its own step, keeping what the step wrote before."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: the close cannot come in between")
    runtime = make_runtime(engine, database_url)
    protocol, now = runtime.protocol, runtime.clock.now()
    async with runtime.sessions() as session:
        first = await incidents.open_or_join_incident(
            session,
            person=Person(101, "Ana"),
            chat_id=GROUP,
            chat_sector=None,
            message_id=1,
            text="",
            photo_file_id=None,
            now=now,
            protocol=protocol,
        )
        await inbox.store(session, [RAW_LUIS], now)
        await session.commit()

    real = incidents.open_incident
    closed: list[int] = []

    async def closed_meanwhile(session: AsyncSession) -> tuple[int, str] | None:
        if not closed:  # the first read: someone closes the open incident just before it
            closed.append(first.incident_id)
            async with runtime.sessions() as other:
                await other.execute(
                    update(Incident)
                    .where(Incident.id == first.incident_id)
                    .values(status=CLOSED, open_slot=None, closed_at=now)
                )
                await other.commit()
        return await real(session)

    monkeypatch.setattr(incidents, "open_incident", closed_meanwhile)

    async def no_job_queue(_application: object) -> int:
        return 0  # the new incident's timer is stored; no JobQueue runs in this test

    monkeypatch.setattr(bot_app, "arm_pending", no_job_queue)
    opened: list[incidents.ReportResult] = []

    async def report() -> None:
        async with runtime.session() as session:  # the step's session, in a savepoint
            opened.append(
                await incidents.open_or_join_incident(
                    session,
                    person=Person(102, "Luis"),
                    chat_id=GROUP,
                    chat_sector=None,
                    message_id=8,
                    text="",
                    photo_file_id=None,
                    now=now,
                    protocol=protocol,
                )
            )

    await handle_update(runtime, Update.de_json(RAW_LUIS, None), report())

    assert closed == [first.incident_id]
    [result] = opened
    assert result.opened and result.incident_id != first.incident_id
    async with runtime.sessions() as session:
        status = await session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == 43))
        reporter = await session.scalar(
            select(Incident.reporter_id).where(Incident.id == result.incident_id)
        )
        members = set((await session.scalars(select(Member.user_id))).all())
    assert status == inbox.HANDLED
    assert reporter == 102 and {101, 102} <= members  # the step's own writes were kept


async def test_a_steps_deferred_rows_are_there_for_its_next_statement_in_the_order_written(
    engine: AsyncEngine, database_url: str
) -> None:
    """Timeline events and messages wait to be inserted together (a statement for each run of
    one table), but a read in the same step sees them, as the ORM's autoflush would."""
    runtime = make_runtime(engine, database_url)
    await store(runtime, RAW)
    seen: list[str] = []

    incident_id = (await report(runtime.sessions, runtime.protocol, 101)).incident_id

    async def handler() -> None:
        now = runtime.clock.now()
        async with runtime.session(refusable=False) as session:
            add_event(session, incident_id, EventKind.STATUS_UPDATE, 101, now, "uno")
            outbox.send(session, GROUP, "hola", priority=outbox.NEWS, now=now)
            add_event(session, incident_id, EventKind.STATUS_UPDATE, 101, now, "dos")
            seen.extend(
                await session.scalars(
                    select(Event.detail).where(Event.kind == EventKind.STATUS_UPDATE)
                )
            )
            add_event(session, incident_id, EventKind.STATUS_UPDATE, 101, now, "tres")

    with statements_of(engine) as statements:
        runtime.fresh_updates.add(42)
        await handle_update(runtime, Update.de_json(RAW, None), handler())
    assert seen == ["uno", "dos"]
    async with runtime.sessions() as session:
        notes = (
            await session.scalars(
                select(Event.detail).where(Event.kind == EventKind.STATUS_UPDATE).order_by(Event.id)
            )
        ).all()
        sent = (await session.scalars(select(OutboxMessage.payload))).all()
    assert notes == ["uno", "dos", "tres"] and [json.loads(p)["text"] for p in sent] == ["hola"]
    inserts = [s.split()[2] for s in statements if s.lstrip().upper().startswith("INSERT INTO")]
    # uno; hola; dos before the read (three runs), tres at the commit.
    assert inserts.count("events") == 3 and inserts.count("outbox") == 1


async def test_a_burst_is_stored_at_once_and_handed_to_the_handlers_a_few_at_a_time(
    engine: AsyncEngine, database_url: str
) -> None:
    """Every update of a burst is stored in one go (safe), and `take` returns then (a webhook
    call is answered, the next getUpdates goes out); they are parsed and handed over only as
    the handlers finish earlier ones: the process never holds the whole burst as tasks."""
    runtime = make_runtime(engine, database_url)
    runtime.in_flight = InFlight(limit=3)
    app = SimpleNamespace(bot=None, update_queue=asyncio.Queue())
    intake = Intake(app, runtime)
    burst = [
        {**RAW, "update_id": 100 + n, "message": {**RAW["message"], "message_id": n}}
        for n in range(10)
    ]
    await asyncio.wait_for(intake.take(burst), 5)
    async with runtime.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(InboxUpdate))
    assert stored == 10
    for _ in range(100):
        if app.update_queue.qsize() == 3:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    assert app.update_queue.qsize() == 3
    # No room now, and a webhook call still gets its answer once the update is stored.
    await asyncio.wait_for(intake.take([{**burst[-1], "update_id": 110}]), 5)
    async with runtime.sessions() as session:
        assert await session.get(InboxUpdate, 110) is not None

    async def handler() -> None:
        assert runtime.in_flight.count <= 3

    handled = []
    try:
        while len(handled) < 11:
            update = await asyncio.wait_for(app.update_queue.get(), 5)
            await handle_update(runtime, update, handler())
            handled.append(update.update_id)
    finally:
        await intake.stop()
    assert handled == [100 + n for n in range(11)] and runtime.in_flight.count == 0
    async with runtime.sessions() as session:
        marks = (await session.scalars(select(InboxUpdate.status).distinct())).all()
    assert marks == [inbox.HANDLED]


async def test_a_deferred_row_goes_in_after_the_objects_it_refers_to(
    engine: AsyncEngine, database_url: str
) -> None:
    """A member added as an object, then a report of theirs deferred: the member is inserted
    first, at the next statement and at the commit alike (foreign keys are on)."""
    runtime = make_runtime(engine, database_url)
    incident_id = (await report(runtime.sessions, runtime.protocol, 101)).incident_id
    await store(runtime, RAW)
    now = runtime.clock.now()

    def report_row(user_id: int) -> dict[str, Any]:
        return {
            "incident_id": incident_id,
            "user_id": user_id,
            "chat_id": GROUP,
            "message_id": user_id,
            "text": "",
            "photo_file_id": None,
            "created_at": now,
        }

    async def handler() -> None:
        async with runtime.session(refusable=False) as session:
            assert isinstance(session, StepSession)
            session.add(Member(user_id=201, full_name="Nuevo", created_at=now, updated_at=now))
            session.defer_insert(cast(Table, Report.__table__), report_row(201))
            # a plain statement (no ORM autoflush of its own)
            await session.scalar(select(func.count()).select_from(Report.__table__))
            session.add(Member(user_id=202, full_name="Otro", created_at=now, updated_at=now))
            session.defer_insert(cast(Table, Report.__table__), report_row(202))  # the commit

    runtime.fresh_updates.add(42)
    await handle_update(runtime, Update.de_json(RAW, None), handler())
    async with runtime.sessions() as session:
        users = (await session.scalars(select(Report.user_id).order_by(Report.id))).all()
        mark = await session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == 42))
    assert users == [101, 201, 202] and mark == inbox.HANDLED
