"""Steps shared by the service tests: each runs one service call in its own session, as a handler does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import coordination, incidents, validation
from bot.config import Protocol
from bot.lifecycle import (
    Refused,
)
from bot.people import Person
from models import Event, Incident

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
