"""Drills on a real database: one cannot start during a real incident nor during another, a
drill never counts in a figure, ending one frees the slot for the real incident, the team's
times against the last drill's, and the schedule of the protocol file."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import Clock
from bot.core.config import Config, DrillSpec, Protocol, load_settings
from bot.protocol import drills
from bot.reports.records import compute_metrics, incident_records, month
from bot.runtime import Runtime
from bot.timers import store as timers
from bot.timers.store import DueTimer
from models import Incident
from models.incident import DISMISSED
from models.vocab import TimerKind
from tests.support.sessions import committing_sessions
from tests.support.steps import (
    CHAT,
    T0,
    Sessions,
    at,
    call,
    general_incident,
    load,
    person,
    refusal,
    report,
)


async def start(sessions: Sessions, protocol: Protocol, when: datetime = T0) -> int:
    started = await call(
        sessions,
        drills.start_drill,
        person=person(9),
        chat_id=CHAT,
        chat_sector="Caja",
        text="Simulacro",
        now=when,
        protocol=protocol,
    )
    assert started.opened
    return int(started.incident_id)


async def refused_start(sessions: Sessions, protocol: Protocol, when: datetime) -> str:
    refused = await refusal(
        sessions,
        drills.start_drill,
        person=person(9),
        chat_id=CHAT,
        chat_sector="Caja",
        text="x",
        now=when,
        protocol=protocol,
    )
    return str(refused.reason)


async def test_a_drill_never_counts_and_a_real_report_takes_its_place(
    sessions: Sessions, protocol: Protocol
) -> None:
    drill = await start(sessions, protocol)
    assert await refused_start(sessions, protocol, at(1)) == "drill_under_way"
    async with sessions() as session:
        assert await incident_records(session) == []  # in no figure
        [listed] = await incident_records(session, drills=True)
        assert listed.id == drill and listed.drill
        data = compute_metrics(
            await incident_records(session), month(2026, 11), now=at(5), spec=protocol.support
        )
        assert data.general == data.false_alarms == 0
    # A real report: the drill ends (its timers too), the real incident opens in the slot.
    async with sessions() as session:
        ended = await drills.end_drill(
            session, now=at(2), actor=1, reason=drills.ENDED_BY_A_REAL_REPORT
        )
    assert ended == drill
    assert (await load(sessions, drill)).status == DISMISSED
    real = await report(sessions, protocol, 1, sector="Caja", when=at(2))
    assert real.opened and real.incident_id != drill
    assert await refused_start(sessions, protocol, at(3)) == "real_incident_open"
    async with sessions() as session:
        assert (
            await drills.end_drill(session, now=at(4), actor=1, reason=drills.ENDED_BY_HAND) is None
        )


async def test_the_team_times_are_set_against_the_last_drill(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await start(sessions, protocol)
    async with sessions() as session:
        times = await drills.drill_times(session, first)
        assert times.confirm is None and times.take is None  # nobody confirmed yet
        assert await drills.previous_drill_times(session, first) is None
    async with sessions() as session:
        await drills.end_drill(session, now=at(3), actor=1, reason=drills.ENDED_BY_HAND)
        # As if it had gone all the way: its summary went out.
        await session.execute(
            update(Incident).where(Incident.id == first).values(summary_posted_at=at(4))
        )
    real = await general_incident(sessions, protocol, when=at(10))  # a real one in between
    async with sessions() as session:
        await session.execute(
            update(Incident).where(Incident.id == real).values(status="dismissed", open_slot=None)
        )
    second = await start(sessions, protocol, at(20))
    async with sessions() as session:
        before = await drills.previous_drill_times(session, second)
    assert before is not None and before.incident_id == first  # the last drill, not the real one


def test_scheduled_drills_fall_on_the_first_monday_of_each_quarter(protocol: Protocol) -> None:
    spec = DrillSpec(months=[1, 4, 7, 10], weekday="monday", week=1, at="09:00")
    tz = protocol.support.tz
    after = datetime(2026, 12, 7, 12, 0, tzinfo=tz)
    first = drills.next_drill_at(after, spec, protocol)
    assert first == datetime(2027, 1, 4, 9, 0, tzinfo=tz)
    assert drills.next_drill_at(first, spec, protocol) == datetime(2027, 4, 5, 9, 0, tzinfo=tz)
    last = DrillSpec(months=[12], weekday="friday", week=-1, at="15:30")
    assert drills.next_drill_at(after, last, protocol) == datetime(2026, 12, 25, 15, 30, tzinfo=tz)
    assert drills.next_drill_at(after, DrillSpec(), protocol) is None


async def test_a_scheduled_drill_starts_by_itself_and_keeps_the_next_one(
    engine: AsyncEngine, database_url: str, protocol: Protocol
) -> None:
    from handlers.drills import start_scheduled_drill

    scheduled = protocol.model_copy(update={"drills": DrillSpec(months=[1, 4, 7, 10])})
    settings = load_settings(
        _env_file=None, database_url=database_url, team_chat_ids=[CHAT], admin_user_ids=[9]
    )
    rt = Runtime(
        config=Config(settings=settings, protocol=scheduled),
        engine=engine,
        sessions=committing_sessions(engine),
        clock=Clock(T0),
    )
    timer = DueTimer(id=0, kind=TimerKind.DRILL, incident_id=None, due_at=T0, payload={})
    async with rt.sessions() as session:
        started = await start_scheduled_drill(rt, session, timer)
    assert started is not None
    async with rt.sessions() as session:
        incident = await session.get(Incident, started)
        assert incident is not None and incident.drill and incident.reporter_id == 9
        due = [t.due_at for t in await timers.pending(session) if t.kind == TimerKind.DRILL]
    # The next one: the first Monday of January 2027, 09:00 local.
    assert [d.astimezone(scheduled.support.tz) for d in due] == [
        datetime(2027, 1, 4, 9, 0, tzinfo=scheduled.support.tz)
    ]
    async with rt.sessions() as session:  # one under way: the next is skipped, kept scheduled
        assert await start_scheduled_drill(rt, session, timer) is None


async def test_a_real_incident_opened_in_between_never_becomes_a_drill(
    sessions: Sessions, protocol: Protocol, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a /caido may commit between the drill's look for an open incident and its
    insert: the drill then joins the real incident. It must be refused, not mark it a drill."""
    real = await report(sessions, protocol, 1, sector="Caja")

    async def none_open(_session: object) -> None:
        return None  # as the look saw it, a moment before the report committed

    monkeypatch.setattr(drills, "open_incident_id", none_open)
    assert await refused_start(sessions, protocol, at(1)) == "real_incident_open"
    assert not (await load(sessions, real.incident_id)).drill
