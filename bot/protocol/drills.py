"""Drills (`/simulacro`): the real protocol end to end, every message marked as a drill, never
counted in a figure; a real report ends one at once. Its summary gives the team's own times
against the last drill's."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import DAY_NAMES, DrillSpec, Protocol
from bot.protocol.incidents import ReportResult, open_or_join_incident
from bot.protocol.lifecycle import Refused, mark_drill_step, open_incident_id, transition
from bot.storage.unit_of_work import current_step
from bot.team.members import Person
from models import Event, Incident
from models.incident import CLOSED, DISMISSED, OPEN_STATUSES, RESOLVED
from models.vocab import CONFIRMING_EVENTS, EventKind, Refusal

ENDED_BY_A_REAL_REPORT = "real"
ENDED_BY_HAND = "by_hand"


async def drill_under_way(session: AsyncSession) -> int | None:
    """The drill going on (open, or announced and waiting for its acknowledgements)."""
    return await session.scalar(
        select(Incident.id)
        .where(Incident.drill.is_(True), Incident.status.in_((*OPEN_STATUSES, RESOLVED)))
        .order_by(Incident.id.desc())
        .limit(1)
    )


async def start_drill(
    session: AsyncSession,
    *,
    person: Person,
    chat_id: int,
    chat_sector: str | None,
    text: str,
    now: datetime,
    protocol: Protocol,
) -> ReportResult:
    """Open a drill incident reported by `person`: from here on it runs as a real one. Not
    during a real incident, nor during another drill."""
    if await drill_under_way(session) is not None:
        raise Refused(Refusal.DRILL_UNDER_WAY)
    if await open_incident_id(session) is not None:
        raise Refused(Refusal.REAL_INCIDENT_OPEN)
    mark_drill_step()
    result = await open_or_join_incident(
        session,
        person=person,
        chat_id=chat_id,
        chat_sector=chat_sector,
        message_id=None,
        text=text,
        photo_file_id=None,
        now=now,
        protocol=protocol,
    )
    if not result.opened:  # a real report opened it in between: never turn it into a drill
        raise Refused(Refusal.REAL_INCIDENT_OPEN)
    await session.execute(
        update(Incident)
        .where(Incident.id == result.incident_id)
        .values(drill=True)
        .execution_options(synchronize_session=False)
    )
    return result


async def end_drill(
    session: AsyncSession, *, now: datetime, actor: int | None, reason: str
) -> int | None:
    """End the drill under way (its timers too); its id, or None if there was none. The step is
    not marked as a drill: what it writes next (the real alert) is real."""
    drill_id = await drill_under_way(session)
    if drill_id is None:
        return None
    step = current_step()
    if step is not None:
        step.drill = False  # what the step writes from here on is about the real incident
    if not await transition(
        session,
        drill_id,
        OPEN_STATUSES,
        DISMISSED,
        now,
        actor=actor,
        kind=EventKind.DRILL_ENDED,
        detail=reason,
    ):
        await transition(
            session,
            drill_id,
            (RESOLVED,),
            CLOSED,
            now,
            actor=actor,
            kind=EventKind.DRILL_ENDED,
            detail=reason,
        )
    await session.flush()
    return drill_id


async def is_drill(session: AsyncSession, incident_id: int) -> bool:
    return bool(await session.scalar(select(Incident.drill).where(Incident.id == incident_id)))


# --- the team's times ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillTimes:
    incident_id: int
    confirm: timedelta | None  # from the report to the general failure
    take: timedelta | None  # from then to someone taking the case
    validate: timedelta | None  # from asking the sectors to all of them confirming
    acknowledge: timedelta | None  # from the all-clear to everyone having read it


async def drill_times(session: AsyncSession, incident_id: int) -> DrillTimes:
    incident = await session.get(Incident, incident_id)
    assert incident is not None
    events = (
        await session.scalars(
            select(Event).where(Event.incident_id == incident_id).order_by(Event.id)
        )
    ).all()

    def first(*kinds: str) -> datetime | None:
        return next((e.created_at for e in events if e.kind in kinds), None)

    def between(start: datetime | None, end: datetime | None) -> timedelta | None:
        return end - start if start is not None and end is not None and end >= start else None

    confirmed = first(*CONFIRMING_EVENTS)
    return DrillTimes(
        incident_id=incident_id,
        confirm=between(incident.opened_at, confirmed),
        take=between(confirmed, first(EventKind.CLAIMED)),
        validate=between(first(EventKind.VALIDATION_STARTED), first(EventKind.VALIDATED)),
        acknowledge=between(first(EventKind.RESOLVED), incident.summary_posted_at),
    )


async def team_times(
    session: AsyncSession, incident_id: int
) -> tuple[DrillTimes, DrillTimes | None] | None:
    """A drill's times and the last drill's (None for a real incident)."""
    if not await is_drill(session, incident_id):
        return None
    return await drill_times(session, incident_id), await previous_drill_times(session, incident_id)


async def previous_drill_times(session: AsyncSession, incident_id: int) -> DrillTimes | None:
    """The last drill before this one that reached its summary."""
    previous = await session.scalar(
        select(Incident.id)
        .where(
            Incident.drill.is_(True),
            Incident.id < incident_id,
            Incident.summary_posted_at.is_not(None),
        )
        .order_by(Incident.id.desc())
        .limit(1)
    )
    return None if previous is None else await drill_times(session, previous)


# --- scheduled drills ----------------------------------------------------------------------------


def next_drill_at(now: datetime, spec: DrillSpec, protocol: Protocol) -> datetime | None:
    """The next scheduled drill after `now` ([drills]), or None if none is scheduled."""
    if not spec.months:
        return None
    tz = protocol.support.tz
    local = now.astimezone(tz)
    weekday = DAY_NAMES.index(spec.weekday)
    for offset in range(0, 25):
        year, month = divmod(local.month - 1 + offset, 12)
        year, month = local.year + year, month + 1
        if month not in spec.months:
            continue
        day = _nth_weekday(year, month, weekday, spec.week)
        at = datetime.combine(day, spec.time_of_day(), tzinfo=tz)
        if at > now:
            return at
    return None


def _nth_weekday(year: int, month: int, weekday: int, week: int) -> date:
    days = [
        date(year, month, d)
        for d in range(1, calendar.monthrange(year, month)[1] + 1)
        if date(year, month, d).weekday() == weekday
    ]
    return days[-1] if week == -1 else days[week - 1]
