"""Incident services on a real SQLite database built by the migrations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import incidents, timers
from bot.config import Protocol
from bot.lifecycle import (
    Refused,
)
from bot.people import Person
from bot.views import incident_view
from bot.vocab import Refusal, VoteChoice
from models import Event, Incident, Report, Timer, Vote
from models.incident import (
    CONFIRMING,
    DISMISSED,
    GENERAL,
    PROBABLY_LOCAL,
    UNCONFIRMED,
)

T0 = datetime(2026, 11, 24, 11, 42, tzinfo=UTC)  # 08:42 in Córdoba
Sessions = async_sessionmaker[AsyncSession]


def person(n: int) -> Person:
    return Person(user_id=n, full_name=f"Persona {n}")


async def report(
    sessions: Sessions,
    protocol: Protocol,
    who: int,
    *,
    sector: str | None = "Caja",
    text: str = "no anda",
    at: datetime = T0,
) -> incidents.ReportResult:
    async with sessions() as session:
        return await incidents.open_or_join_incident(
            session,
            person=person(who),
            chat_id=-100,
            chat_sector=sector,
            message_id=who,
            text=text,
            photo_file_id=None,
            now=at,
            protocol=protocol,
        )


async def vote(
    sessions: Sessions,
    protocol: Protocol,
    who: int,
    choice: str,
    incident_id: int,
    sector: str | None = "Caja",
) -> incidents.VoteResult:
    async with sessions() as session:
        return await incidents.cast_vote(
            session,
            incident_id=incident_id,
            person=person(who),
            chat_sector=sector,
            choice=choice,
            now=T0 + timedelta(minutes=1),
            protocol=protocol,
        )


async def status(sessions: Sessions, incident_id: int) -> str:
    async with sessions() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        return incident.status


async def test_first_report_opens_and_schedules_the_confirmation_deadline(
    sessions: Sessions, protocol: Protocol
) -> None:
    result = await report(sessions, protocol, 1)
    assert result.opened and result.affected_people == 1 and not result.became_general
    async with sessions() as session:
        pending = await timers.pending(session)
        votes = (await session.scalars(select(Vote))).all()
    assert [(t.kind, t.due_at) for t in pending] == [("confirmation", T0 + timedelta(minutes=5))]
    assert [(v.user_id, v.choice) for v in votes] == [(1, VoteChoice.FAILS)]
    assert await status(sessions, result.incident_id) == CONFIRMING


async def test_the_card_shows_the_confirmation_deadline_as_stored(
    sessions: Sessions, protocol: Protocol
) -> None:
    """The protocol file may change while an incident is open: the card keeps its deadline."""
    result = await report(sessions, protocol, 1)
    longer = protocol.model_copy(
        update={"deadlines": protocol.deadlines.model_copy(update={"confirmation_minutes": 30})}
    )
    async with sessions() as session:
        view = await incident_view(session, result.incident_id, longer)
    assert view.confirm_until == T0 + timedelta(minutes=5)


async def test_second_reporter_joins_and_makes_it_general(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    second = await report(sessions, protocol, 2)
    again = await report(sessions, protocol, 2)
    assert not second.opened and second.incident_id == first.incident_id
    assert second.became_general and second.affected_people == 2
    assert again.already_affected and not again.became_general
    assert await status(sessions, first.incident_id) == GENERAL
    async with sessions() as session:
        # The vote deadline no longer matters; the coordinator reminder starts counting.
        assert [t.kind for t in await timers.pending(session)] == ["nudge"]
        assert await session.scalar(select(func.count()).select_from(Report)) == 3


async def test_fifty_simultaneous_reports_make_exactly_one_incident(
    sessions: Sessions, protocol: Protocol
) -> None:
    results = await asyncio.gather(*(report(sessions, protocol, n) for n in range(1, 51)))
    assert len({r.incident_id for r in results}) == 1
    assert sum(r.opened for r in results) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 1
        affected = await session.scalar(
            select(func.count()).select_from(Vote).where(Vote.choice == VoteChoice.FAILS)
        )
        assert affected == 50
        assert await session.scalar(select(func.count()).select_from(Report)) == 50
        general_events = await session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "general")
        )
        assert general_events == 1


async def test_two_sectors_make_it_general_even_with_one_person_each(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1, sector="Caja")
    result = await vote(
        sessions, protocol, 2, VoteChoice.FAILS, first.incident_id, sector="Presupuestos"
    )
    assert result.became_general


async def test_votes_are_one_per_person_and_changeable(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    assert (await vote(sessions, protocol, 2, VoteChoice.WORKS, first.incident_id)).changed
    assert not (await vote(sessions, protocol, 2, VoteChoice.WORKS, first.incident_id)).changed
    changed = await vote(sessions, protocol, 2, VoteChoice.FAILS, first.incident_id)
    assert changed.changed and changed.became_general
    async with sessions() as session:
        view = await incident_view(session, first.incident_id, protocol)
    assert [(c.sector, c.people) for c in view.affected] == [("Caja", 2)]
    assert view.works == []


async def test_deadline_probably_local_when_others_say_it_works(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    await vote(sessions, protocol, 2, VoteChoice.WORKS, first.incident_id, sector="Administración")
    async with sessions() as session:
        outcome = await incidents.confirmation_deadline(
            session, incident_id=first.incident_id, now=T0 + timedelta(minutes=5), protocol=protocol
        )
    assert outcome == PROBABLY_LOCAL
    async with sessions() as session:
        again = await incidents.confirmation_deadline(
            session, incident_id=first.incident_id, now=T0 + timedelta(minutes=6), protocol=protocol
        )
    assert again is None  # decided once


async def test_deadline_unconfirmed_when_nobody_answers_then_escalate(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    async with sessions() as session:
        outcome = await incidents.confirmation_deadline(
            session, incident_id=first.incident_id, now=T0 + timedelta(minutes=5), protocol=protocol
        )
    assert outcome == UNCONFIRMED
    async with sessions() as session:
        with pytest.raises(Refused) as refused:
            await incidents.escalate(
                session,
                incident_id=first.incident_id,
                user_id=2,
                is_admin=False,
                now=T0,
                protocol=protocol,
            )
    assert refused.value.reason == "reporter_or_admin"
    async with sessions() as session:
        assert await incidents.escalate(
            session,
            incident_id=first.incident_id,
            user_id=1,
            is_admin=False,
            now=T0,
            protocol=protocol,
        )
    assert await status(sessions, first.incident_id) == GENERAL


async def test_local_cause_dismisses_and_frees_the_slot(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    async with sessions() as session:
        await incidents.dismiss_as_local(
            session,
            incident_id=first.incident_id,
            user_id=1,
            is_admin=False,
            cause="internet",
            now=T0,
        )
    assert await status(sessions, first.incident_id) == DISMISSED
    async with sessions() as session:
        assert await timers.pending(session) == []
        timer_states = (await session.scalars(select(Timer.status))).all()
    assert timer_states == ["cancelled"]
    with pytest.raises(Refused) as refused:
        await vote(sessions, protocol, 3, VoteChoice.FAILS, first.incident_id)
    assert refused.value.reason == Refusal.VOTE_CLOSED
    second = await report(sessions, protocol, 4)
    assert second.opened and second.incident_id != first.incident_id


async def test_general_incident_cannot_be_dismissed_as_local(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    await report(sessions, protocol, 2)
    async with sessions() as session:
        with pytest.raises(Refused) as refused:
            await incidents.dismiss_as_local(
                session,
                incident_id=first.incident_id,
                user_id=1,
                is_admin=False,
                cause="pc",
                now=T0,
            )
    assert refused.value.reason == "already_general"


async def test_timer_claim_is_once_only(sessions: Sessions, protocol: Protocol) -> None:
    await report(sessions, protocol, 1)
    async with sessions() as session:
        (timer,) = await timers.pending(session)

    async def claim() -> bool:
        async with sessions() as session:
            claimed = await timers.claim(session, timer_id=timer.id, now=T0)
            await session.commit()
            return claimed is not None

    assert sorted(await asyncio.gather(*(claim() for _ in range(10)))) == [False] * 9 + [True]


async def test_dates_come_back_aware_utc(sessions: Sessions, protocol: Protocol) -> None:
    first = await report(sessions, protocol, 1)
    async with sessions() as session:
        incident = await session.get(Incident, first.incident_id)
    assert incident is not None and incident.opened_at == T0 and incident.opened_at.tzinfo is UTC


async def test_a_vote_after_general_does_not_reclassify(
    sessions: Sessions, protocol: Protocol, engine: AsyncEngine
) -> None:
    first = await report(sessions, protocol, 1, sector="Caja")
    assert (
        await vote(sessions, protocol, 2, VoteChoice.FAILS, first.incident_id, "Presupuestos")
    ).became_general
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.split()[0].upper() + " " + statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        result = await vote(
            sessions, protocol, 3, VoteChoice.FAILS, first.incident_id, "Atención al cliente"
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert not result.became_general
    # No recount of the poll and no UPDATE of the incident: only the vote and its event.
    assert not [s for s in statements if s.startswith("UPDATE") and "incidents" in s]
    assert not [s for s in statements if "JOIN members" in s and "votes" in s]
    assert await status(sessions, first.incident_id) == GENERAL
