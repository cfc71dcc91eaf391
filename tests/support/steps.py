"""Steps shared by the service tests: each runs one service call in its own session, as a handler
does; and the reads the tests check (timers, events, the incident as stored). The only helpers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.config import Protocol
from bot.protocol import access, allclear, coordination, incidents, validation
from bot.protocol.lifecycle import (
    Refused,
)
from bot.team.members import Person
from bot.timers import store as timers
from models import Event, Incident, Timer
from models.vocab import TimerKind, VoteChoice

T0 = datetime(2026, 11, 24, 11, 42, tzinfo=UTC)  # Tuesday 08:42 in Córdoba: support is open
Sessions = async_sessionmaker[AsyncSession]
CHAT = -100


def at(minutes: float, start: datetime = T0) -> datetime:
    return start + timedelta(minutes=minutes)


def person(n: int) -> Person:
    return Person(user_id=n, full_name=f"Persona {n}")


async def call(sessions: Sessions, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
    async with sessions() as session:
        return await fn(session, **kwargs)


async def refusal(sessions: Sessions, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Refused:
    with pytest.raises(Refused) as refused:
        await call(sessions, fn, **kwargs)
    return refused.value


async def report(
    sessions: Sessions,
    protocol: Protocol,
    who: int,
    *,
    sector: str | None = "Caja",
    when: datetime = T0,
) -> incidents.ReportResult:
    return await call(
        sessions,
        incidents.open_or_join_incident,
        person=person(who),
        chat_id=CHAT,
        chat_sector=sector,
        message_id=who,
        text="no anda",
        photo_file_id=None,
        now=when,
        protocol=protocol,
    )


async def general_incident(
    sessions: Sessions, protocol: Protocol, *, when: datetime = T0, first: int = 1
) -> int:
    """Person `first` in Caja and `first + 1` in Administración report: a general outage."""
    opened = await report(sessions, protocol, first, sector="Caja", when=when)
    joined = await report(sessions, protocol, first + 1, sector="Administración", when=when)
    assert opened.opened and joined.became_general
    return opened.incident_id


async def claim(
    sessions: Sessions, protocol: Protocol, incident_id: int, who: int, when: datetime = T0
) -> coordination.ClaimResult:
    return await call(
        sessions,
        coordination.claim,
        incident_id=incident_id,
        person=person(who),
        chat_id=CHAT - who,
        chat_sector=None,
        now=when,
        protocol=protocol,
    )


async def load(sessions: Sessions, incident_id: int) -> Incident:
    async with sessions() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        return incident


async def events(sessions: Sessions, incident_id: int) -> list[tuple[str, int | None, str | None]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Event).where(Event.incident_id == incident_id).order_by(Event.id)
        )
        return [(e.kind, e.actor_id, e.detail) for e in rows.all()]


async def start_validation(
    sessions: Sessions,
    protocol: Protocol,
    incident_id: int,
    who: int,
    when: datetime,
    is_admin: bool = False,
) -> validation.ValidationState:
    return await call(
        sessions,
        validation.start_validation,
        incident_id=incident_id,
        user_id=who,
        is_admin=is_admin,
        now=when,
        protocol=protocol,
    )


async def answer(
    sessions: Sessions,
    protocol: Protocol,
    incident_id: int,
    round_number: int,
    who: int,
    works: bool,
    when: datetime,
    sector: str | None = None,
) -> validation.ValidationAnswerResult:
    return await call(
        sessions,
        validation.answer_validation,
        incident_id=incident_id,
        round_number=round_number,
        person=person(who),
        chat_sector=sector,
        works=works,
        now=when,
        protocol=protocol,
    )


async def contact_support(
    sessions: Sessions,
    protocol: Protocol,
    incident_id: int,
    who: int,
    reference: str | None,
    when: datetime,
    is_admin: bool = False,
) -> coordination.ContactResult:
    return await call(
        sessions,
        coordination.contact_support,
        incident_id=incident_id,
        person=person(who),
        is_admin=is_admin,
        chat_id=CHAT,
        reference=reference,
        now=when,
        protocol=protocol,
    )


async def acknowledge(
    sessions: Sessions, protocol: Protocol, incident_id: int, who: int, when: datetime
) -> allclear.AckResult:
    return await call(
        sessions,
        allclear.acknowledge,
        incident_id=incident_id,
        person=person(who),
        chat_sector=None,
        now=when,
        protocol=protocol,
    )


async def grant_access(
    sessions: Sessions, protocol: Protocol, incident_id: int, who: int, when: datetime
) -> str:
    return await call(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(who),
        is_admin=False,
        tool="AnyDesk",
        now=when,
        protocol=protocol,
    )


async def deadline(
    sessions: Sessions, protocol: Protocol, incident_id: int, when: datetime
) -> str | None:
    """The confirmation timer fires: the runner claims it, then the deadline is decided."""
    async with sessions() as session:
        (timer,) = [
            t
            for t in await timers.pending(session)
            if t.incident_id == incident_id and t.kind == TimerKind.CONFIRMATION
        ]
        assert await timers.claim(session, timer_id=timer.id, now=when) is not None
        await session.commit()
    return await call(
        sessions,
        incidents.confirmation_deadline,
        incident_id=incident_id,
        now=when,
        protocol=protocol,
    )


async def expire(sessions: Sessions, incident_id: int, when: datetime) -> bool:
    return await call(sessions, incidents.expire_unconfirmed, incident_id=incident_id, now=when)


async def vote(
    sessions: Sessions,
    protocol: Protocol,
    who: int,
    choice: VoteChoice,
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
            now=at(1),
            protocol=protocol,
        )


async def status(sessions: Sessions, incident_id: int) -> str:
    async with sessions() as session:
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        return incident.status


async def timer_rows(
    sessions: Sessions, incident_id: int
) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """Every timer of an incident: (kind, status, due_at, payload), in creation order."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Timer).where(Timer.incident_id == incident_id).order_by(Timer.id)
        )
        return [
            (t.kind, t.status, t.due_at, json.loads(t.payload) if t.payload else {})
            for t in rows.all()
        ]


async def timers_of_kind(
    sessions: Sessions, incident_id: int, kind: str
) -> list[tuple[str, datetime, dict[str, Any]]]:
    """Every timer of one kind for an incident: (status, due_at, payload), in creation order."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Timer)
            .where(Timer.incident_id == incident_id, Timer.kind == kind)
            .order_by(Timer.id)
        )
        return [
            (t.status, t.due_at, json.loads(t.payload) if t.payload else {}) for t in rows.all()
        ]


async def pending_timers(sessions: Sessions, incident_id: int) -> list[timers.DueTimer]:
    async with sessions() as session:
        return [t for t in await timers.pending(session) if t.incident_id == incident_id]


async def pending_of(sessions: Sessions, incident_id: int) -> list[tuple[str, datetime]]:
    async with sessions() as session:
        return sorted(
            (t.kind, t.due_at)
            for t in await timers.pending(session)
            if t.incident_id == incident_id
        )


async def claim_timer(sessions: Sessions, timer_id: int, when: datetime) -> timers.DueTimer | None:
    async with sessions() as session:
        claimed = await timers.claim(session, timer_id=timer_id, now=when)
        await session.commit()
        return claimed


async def validated_incident(sessions: Sessions, protocol: Protocol) -> int:
    """A general incident coordinated by 3, validated by Caja (1) and Administración (2)."""
    incident_id = await general_incident(sessions, protocol)
    await contact_support(sessions, protocol, incident_id, 3, None, at(2))
    await start_validation(sessions, protocol, incident_id, 3, at(10))
    assert not (await answer(sessions, protocol, incident_id, 1, 1, True, at(11))).complete
    assert (await answer(sessions, protocol, incident_id, 1, 2, True, at(12))).complete
    return incident_id
