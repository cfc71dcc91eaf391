"""The incident lifecycle shared by every protocol stage: transitions, timeline, timers, roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol
from bot.storage import direct
from bot.storage.unit_of_work import add_row, current_step
from bot.support.hours import support_status_at
from bot.support.workday import working_or_next_opening
from bot.timers import store as timers
from models import Event, Incident, Member
from models.incident import (
    CLOSED,
    CONFIRMING,
    DISMISSED,
    GENERAL,
    IN_PROGRESS,
    OPEN_STATUSES,
    PROBABLY_LOCAL,
    RESOLVED,
    UNCONFIRMED,
    VALIDATING,
)
from models.vocab import EventKind, Refusal, TimerKind

UNCLASSIFIED = (CONFIRMING, PROBABLY_LOCAL, UNCONFIRMED)
ACTIVE = (GENERAL, IN_PROGRESS, VALIDATING)  # a confirmed outage being handled
_INCIDENTS = cast(Table, Incident.__table__)
_STATUS = select(_INCIDENTS.c.status, _INCIDENTS.c.drill).where(
    _INCIDENTS.c.id == bindparam("incident_id")
)
_OPEN = select(_INCIDENTS.c.id, _INCIDENTS.c.status).where(_INCIDENTS.c.open_slot == 1)


class Refused(Exception):
    """The person may not do this now; `reason` has a text in texts.REFUSALS, which shows
    `named`: who may (a person, Gerencia's names) or what is missing (sectors)."""

    def __init__(self, reason: Refusal, named: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.named = named


F = TypeVar("F", bound=Callable[..., Any])


def refuses_before_writing(service: F) -> F:
    """Marks a service that refuses (raises Refused) only before its first write: it needs no
    savepoint to take its writes back (two statements and a flush fewer on the hot path).
    `handlers.kit.replies.run_in_transaction` fails the whole step if one writes and then
    refuses all the same."""
    service.refuses_before_writing = True  # type: ignore[attr-defined]
    return service


def add_event(
    session: AsyncSession,
    incident_id: int,
    kind: EventKind,
    actor: int | None,
    now: datetime,
    detail: str | None = None,
) -> None:
    row = {"incident_id": incident_id, "kind": kind, "actor_id": actor, "detail": detail}
    add_row(session, Event, {**row, "created_at": now})


async def open_incident_id(session: AsyncSession) -> int | None:
    found = await open_incident(session)
    return None if found is None else found[0]


async def open_incident(session: AsyncSession) -> tuple[int, str] | None:
    """(id, status) of the open incident, if there is one."""
    row = (await direct.execute(session, _OPEN)).first()
    return None if row is None else (row.id, row.status)


def mark_drill_step() -> None:
    step = current_step()
    if step is not None:
        step.drill = True


async def incident_status(session: AsyncSession, incident_id: int) -> str:
    """`get_incident(...).status` without an ORM object, for a step that reads nothing else of
    the incident (a vote). A drill's marks the step too."""
    row = (await direct.execute(session, _STATUS, {"incident_id": incident_id})).first()
    if row is None:
        raise Refused(Refusal.UNKNOWN_INCIDENT)
    if row.drill:
        mark_drill_step()
    return cast(str, row.status)


async def get_incident(session: AsyncSession, incident_id: int, *, open_only: bool) -> Incident:
    """The incident, refreshed; Refused if unknown (or closed, when `open_only`). A drill's
    marks the step: what it writes is marked as a drill."""
    incident = await session.get(Incident, incident_id, populate_existing=True)
    if incident is not None and incident.drill:
        mark_drill_step()
    if incident is None:
        raise Refused(Refusal.UNKNOWN_INCIDENT)
    if open_only and incident.status not in OPEN_STATUSES:
        raise Refused(Refusal.CLOSED)
    return incident


async def member_name(session: AsyncSession, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    member = await session.get(Member, user_id)
    return member.full_name if member else str(user_id)


async def require_coordinator(
    session: AsyncSession, incident: Incident, user_id: int, is_admin: bool
) -> None:
    """Only the coordinator (or an admin) may drive the incident; the refusal says who may."""
    if is_admin or incident.coordinator_id == user_id:
        return
    if incident.coordinator_id is None:
        raise Refused(Refusal.CLAIM_FIRST)
    raise Refused(Refusal.COORDINATOR_OR_ADMIN, await member_name(session, incident.coordinator_id))


async def touch_progress(
    session: AsyncSession, incident_id: int, now: datetime, protocol: Protocol
) -> None:
    """Something moved: the next "¿Novedades?" reminder is a full interval away again.

    While support is closed nobody can move the case on, so the reminder waits for it to open.
    """
    await timers.cancel(session, incident_id=incident_id, kinds=(TimerKind.NUDGE,))
    interval = timedelta(minutes=protocol.deadlines.coordinator_reminder_minutes)
    due_at = now + interval
    support = support_status_at(now, protocol.support)
    if not support.is_open and support.next_opening is not None:
        due_at = max(due_at, support.next_opening.start + interval)
    timers.schedule(session, kind=TimerKind.NUDGE, incident_id=incident_id, due_at=due_at, now=now)


async def ensure_support_opens_reminder(
    session: AsyncSession, incident: Incident, now: datetime, protocol: Protocol
) -> None:
    """Support is closed and nobody has called yet: remind at the moment it opens (once)."""
    support = support_status_at(now, protocol.support)
    if (
        support.is_open
        or support.next_opening is None
        or incident.support_contacted_at is not None
        or await timers.has_pending(session, incident_id=incident.id, kind=TimerKind.SUPPORT_OPENS)
    ):
        return
    timers.schedule(
        session,
        kind=TimerKind.SUPPORT_OPENS,
        incident_id=incident.id,
        due_at=support.next_opening.start,
        now=now,
    )


async def transition(
    session: AsyncSession,
    incident_id: int,
    allowed: tuple[str, ...],
    target: str,
    now: datetime,
    *,
    actor: int | None,
    kind: EventKind,
    detail: str | None = None,
    protocol: Protocol | None = None,
    values: dict[str, Any] | None = None,
) -> bool:
    """Move the incident from one of `allowed` to `target` atomically; False if it was elsewhere."""
    changes: dict[str, Any] = {"status": target, **(values or {})}
    if target in (GENERAL, PROBABLY_LOCAL, UNCONFIRMED):
        changes["classified_at"] = now
    if target in (RESOLVED, DISMISSED):
        changes.update(open_slot=None, closed_at=now, closed_by=actor)
    result: Any = await session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status.in_(allowed))
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    add_event(session, incident_id, kind, actor, now, detail)
    if target == GENERAL and protocol is not None:
        await _became_general(session, incident_id, now, protocol)
    if target in (RESOLVED, DISMISSED, CLOSED):
        await timers.cancel(session, incident_id=incident_id)
    return True


async def _became_general(
    session: AsyncSession, incident_id: int, now: datetime, protocol: Protocol
) -> None:
    """A confirmed outage: stop waiting for votes, start reminding, and wait for support to open."""
    await timers.cancel(
        session, incident_id=incident_id, kinds=(TimerKind.CONFIRMATION, TimerKind.EXPIRY)
    )
    await touch_progress(session, incident_id, now, protocol)
    incident = await get_incident(session, incident_id, open_only=False)
    await ensure_support_opens_reminder(session, incident, now, protocol)
    if protocol.deadlines.escalation_minutes > 0 and incident.coordinator_id is None:
        schedule_escalation(session, incident_id, 0, now, protocol)


def schedule_escalation(
    session: AsyncSession, incident_id: int, step: int, now: datetime, protocol: Protocol
) -> None:
    """The next escalation step, `escalation_minutes` from now; outside the office's working
    hours it waits for the opening (nobody is there to take the case)."""
    due = now + timedelta(minutes=protocol.deadlines.escalation_minutes)
    timers.schedule(
        session,
        kind=TimerKind.ESCALATION,
        incident_id=incident_id,
        due_at=working_or_next_opening(due, protocol),
        now=now,
        payload={"step": step},
    )
