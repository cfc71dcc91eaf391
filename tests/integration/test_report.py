"""Protocol steps 1–2 on a real database: /caido opens the incident or joins it; the alert card."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

from sqlalchemy import func, select

from bot.core.config import Protocol
from bot.protocol.incident_view import incident_view
from bot.timers import store as timers
from models import Event, Incident, Report, Vote
from models.incident import (
    CONFIRMING,
)
from models.vocab import VoteChoice
from tests.support.steps import (
    T0,
    Sessions,
    report,
    status,
)


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
