"""Stored timers: every deadline and reminder is a row, so a restart loses none of them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.unit_of_work import current_step
from models import Timer
from models.timer import CANCELLED, FIRED, PENDING


@dataclass(frozen=True)
class DueTimer:
    id: int
    kind: str
    incident_id: int | None
    due_at: datetime
    payload: dict[str, Any]

    @property
    def incident(self) -> int:
        """The incident a deadline or reminder belongs to (every protocol timer has one)."""
        if self.incident_id is None:
            raise ValueError(f"timer {self.id} ({self.kind}) belongs to no incident")
        return self.incident_id


def schedule(
    session: AsyncSession,
    *,
    kind: str,
    incident_id: int | None,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> None:
    """Add a pending timer to the session (the calling use case commits)."""
    step = current_step()
    if step is not None:
        step.added_timers = True  # armed on the JobQueue once the step commits
    session.add(
        Timer(
            kind=kind,
            incident_id=incident_id,
            due_at=due_at,
            status=PENDING,
            payload=json.dumps(payload) if payload else None,
            created_at=now,
        )
    )


async def cancel(
    session: AsyncSession, *, incident_id: int, kinds: Iterable[str] | None = None
) -> None:
    """Cancel an incident's pending timers (all, or only some kinds)."""
    stmt = update(Timer).where(Timer.incident_id == incident_id, Timer.status == PENDING)
    if kinds is not None:
        stmt = stmt.where(Timer.kind.in_(list(kinds)))
    await session.execute(
        stmt.values(status=CANCELLED).execution_options(synchronize_session=False)
    )


async def keep_one(
    session: AsyncSession,
    *,
    kind: str,
    wanted: bool,
    due_at: Callable[[], datetime],
    now: datetime,
) -> bool:
    """A recurring timer (not tied to an incident): exactly one pending while `wanted`, none
    otherwise. Returns True when one was added (the caller commits)."""
    pending = await session.scalar(
        select(Timer.id).where(Timer.kind == kind, Timer.status == PENDING).limit(1)
    )
    if not wanted:
        if pending is not None:
            await session.execute(
                update(Timer)
                .where(Timer.kind == kind, Timer.status == PENDING)
                .values(status=CANCELLED)
                .execution_options(synchronize_session=False)
            )
        return False
    if pending is not None:
        return False
    schedule(session, kind=kind, incident_id=None, due_at=due_at(), now=now)
    return True


async def has_pending(session: AsyncSession, *, incident_id: int, kind: str) -> bool:
    found = await session.scalar(
        select(Timer.id)
        .where(Timer.incident_id == incident_id, Timer.kind == kind, Timer.status == PENDING)
        .limit(1)
    )
    return found is not None


async def pending(session: AsyncSession) -> list[DueTimer]:
    rows = await session.scalars(
        select(Timer).where(Timer.status == PENDING).order_by(Timer.due_at)
    )
    return [_due(t) for t in rows.all()]


async def claim(session: AsyncSession, *, timer_id: int, now: datetime) -> DueTimer | None:
    """Mark a pending timer fired; only one caller ever gets it back (the others get None)."""
    result: Any = await session.execute(
        update(Timer)
        .where(Timer.id == timer_id, Timer.status == PENDING)
        .values(status=FIRED, fired_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    timer = await session.get(Timer, timer_id)
    return _due(timer) if timer else None


def _due(timer: Timer) -> DueTimer:
    return DueTimer(
        id=timer.id,
        kind=timer.kind,
        incident_id=timer.incident_id,
        due_at=timer.due_at,
        payload=json.loads(timer.payload) if timer.payload else {},
    )
