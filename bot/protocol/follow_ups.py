"""After the incident: what was promised (`/seguimiento`), who owns it, by when; its owner is
reminded privately on the due date, `/pendientes` lists what is still open."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol
from bot.protocol.lifecycle import Refused, add_event, get_incident
from bot.support.workday import working_or_next_opening
from bot.timers import store as timers
from bot.timers.store import DueTimer
from models import FollowUp
from models.vocab import EventKind, Refusal, TimerKind

TEXT_LIMIT = 300
# "… para 15/12" or "… para 15/12/2027" at the end of the text: the due date.
DUE = re.compile(r"\s+para\s+(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class FollowUpView:
    id: int
    incident_id: int
    text: str
    owner_id: int
    owner_name: str
    due_on: date | None
    created_by: int
    done_at: datetime | None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def overdue(self, today: date) -> bool:
        return not self.done and self.due_on is not None and self.due_on < today


def view_of(row: FollowUp) -> FollowUpView:
    return FollowUpView(
        id=row.id,
        incident_id=row.incident_id,
        text=row.text,
        owner_id=row.owner_id,
        owner_name=row.owner_name,
        due_on=row.due_on,
        created_by=row.created_by,
        done_at=row.done_at,
    )


def split_due(text: str, today: date) -> tuple[str, date | None] | None:
    """The text and its due date ("… para 15/12": the next 15/12 from today on). None: the
    date does not exist."""
    found = DUE.search(text)
    if found is None:
        return text.strip(), None
    day, month, year = int(found[1]), int(found[2]), found[3]
    try:
        if year is not None:
            due = date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        else:
            due = date(today.year, month, day)
            if due < today:
                due = date(today.year + 1, month, day)
    except ValueError:
        return None
    return text[: found.start()].strip(), due


async def add_follow_up(
    session: AsyncSession,
    *,
    incident_id: int,
    text: str,
    owner_id: int,
    owner_name: str,
    author_id: int,
    due_on: date | None,
    now: datetime,
    protocol: Protocol,
) -> FollowUpView:
    """A follow-up to incident N (any incident, open or closed); with a due date, its owner is
    reminded then (at the workday's opening)."""
    await get_incident(session, incident_id, open_only=False)
    row = FollowUp(
        incident_id=incident_id,
        text=" ".join(text.split())[:TEXT_LIMIT],
        owner_id=owner_id,
        owner_name=owner_name[:120],
        due_on=due_on,
        created_by=author_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    add_event(session, incident_id, EventKind.FOLLOW_UP_ADDED, author_id, now, row.text)
    if due_on is not None:
        start = datetime.combine(due_on, time(0), tzinfo=protocol.support.tz)
        remind_at = max(now, working_or_next_opening(start, protocol))
        timers.schedule(
            session,
            kind=TimerKind.FOLLOW_UP_DUE,
            incident_id=incident_id,
            due_at=remind_at,
            now=now,
            payload={"follow_up": row.id},
        )
    return view_of(row)


@dataclass(frozen=True)
class Closed:
    follow_up: FollowUpView
    already: bool  # it was done before


async def close_follow_up(
    session: AsyncSession, *, follow_up_id: int, user_id: int, is_admin: bool, now: datetime
) -> Closed:
    """Done: by its owner, whoever wrote it, or an admin."""
    row = await session.get(FollowUp, follow_up_id, populate_existing=True)
    if row is None:
        raise Refused(Refusal.UNKNOWN_FOLLOW_UP)
    if user_id not in (row.owner_id, row.created_by) and not is_admin:
        raise Refused(Refusal.FOLLOW_UP_OWNER_OR_ADMIN, row.owner_name)
    if row.done_at is not None:
        return Closed(view_of(row), already=True)
    row.done_at, row.done_by = now, user_id
    add_event(session, row.incident_id, EventKind.FOLLOW_UP_DONE, user_id, now, row.text)
    await session.flush()
    return Closed(view_of(row), already=False)


async def open_follow_ups(session: AsyncSession) -> list[FollowUpView]:
    """What is still to do, the soonest due first (those without a date last)."""
    rows = await session.scalars(
        select(FollowUp)
        .where(FollowUp.done_at.is_(None))
        .order_by(FollowUp.due_on.is_(None), FollowUp.due_on, FollowUp.id)
    )
    return [view_of(r) for r in rows.all()]


async def follow_ups_of(session: AsyncSession, incident_id: int) -> list[FollowUpView]:
    rows = await session.scalars(
        select(FollowUp).where(FollowUp.incident_id == incident_id).order_by(FollowUp.id)
    )
    return [view_of(r) for r in rows.all()]


async def due_follow_up(session: AsyncSession, timer: DueTimer) -> FollowUpView | None:
    """The follow-up a FOLLOW_UP_DUE timer is about, if it is still to do."""
    row = await session.get(FollowUp, int(timer.payload.get("follow_up") or 0))
    if row is None or row.done_at is not None:
        return None
    return view_of(row)
