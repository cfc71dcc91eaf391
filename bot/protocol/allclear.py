"""Protocol step 8: the all-clear that reaches everyone, its acknowledgements, and the summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol
from bot.protocol.lifecycle import (
    Refused,
    add_event,
    get_incident,
    member_name,
    open_incident_id,
    require_coordinator,
    transition,
)
from bot.protocol.validation import required_sectors, validation_state
from bot.storage.db import dialect_insert
from bot.team.members import Person, note_member
from bot.timers import store as timers
from models import Acknowledgement, Event, Member, Vote
from models.incident import CLOSED, OPEN_STATUSES, RESOLVED, VALIDATING
from models.vocab import CONFIRMING_EVENTS, EventKind, Refusal, TimerKind, VoteChoice

CAUSE_LIMIT = 500  # characters of what support said caused it

# Timeline events left out of the summary: they are counted elsewhere in it.
NOT_IN_TIMELINE = frozenset(
    {EventKind.VOTE, EventKind.ACKNOWLEDGED, EventKind.ACCESS_REMINDER, EventKind.IN_PROGRESS}
)


@dataclass(frozen=True)
class AllClear:
    incident_id: int
    opened_at: datetime
    closed_at: datetime
    instruction: str | None
    restart_session: bool
    privately: list[int]  # members who started the bot: the all-clear reaches them there too


@dataclass(frozen=True)
class SectorAcks:
    sector: str | None
    names: list[str]
    members: int


@dataclass(frozen=True)
class AckState:
    sectors: list[SectorAcks]  # required sectors first, in order; then people with no sector
    missing: list[str]  # required sectors nobody in which acknowledged yet

    @property
    def complete(self) -> bool:
        return bool(self.sectors) and not self.missing


@dataclass(frozen=True)
class AckResult:
    incident_id: int
    new: bool
    complete: bool  # every required sector has acknowledged: time for the summary


@dataclass(frozen=True)
class AckReminder:
    """The sectors that have not acknowledged the all-clear, and their members to mention."""

    incident_id: int
    missing: list[str]
    people: list[tuple[int, str, str | None]]  # (user id, name, sector)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    actor: str | None
    detail: str | None


@dataclass(frozen=True)
class Summary:
    incident_id: int
    opened_at: datetime
    confirmed_at: datetime | None
    support_contacted_at: datetime | None
    restored_at: datetime | None
    coordinator: str | None
    support_ref: str | None
    access_by: str | None
    access_tool: str | None
    affected_people: int
    timeline: list[TimelineEntry]
    acks: AckState
    coordinator_id: int | None = None
    cause: str | None = None  # what support said caused it
    instruction: str | None = None  # what the all-clear said to do
    restart_session: bool | None = None


async def prepare_all_clear(
    session: AsyncSession,
    *,
    user_id: int,
    is_admin: bool,
    instruction: str | None,
    protocol: Protocol,
) -> int:
    """/resuelto: check who and when, keep the instruction; the bot then asks about logging in."""
    incident_id = await open_incident_id(session)
    if incident_id is None:
        raise Refused(Refusal.NO_OPEN_INCIDENT)
    incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, user_id, is_admin)
    if incident.status == VALIDATING and incident.validated_at is None:
        # A round is under way: say who is missing and how to go on without them.
        state = await validation_state(session, incident, protocol)
        raise Refused(Refusal.VALIDATION_RUNNING, ", ".join(state.missing))
    if incident.status != VALIDATING or incident.validated_at is None:
        raise Refused(Refusal.NOT_VALIDATED)
    incident.instruction = (instruction or "").strip() or None
    await session.flush()
    return incident_id


async def send_all_clear(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    restart_session: bool,
    now: datetime,
    protocol: Protocol,
) -> AllClear:
    """FLEXUS works again: close the outage and start collecting "Entendido"."""
    incident = await get_incident(session, incident_id, open_only=False)
    if incident.status in (RESOLVED, CLOSED):
        raise Refused(Refusal.ALREADY_ANNOUNCED)
    if incident.status not in OPEN_STATUSES:
        raise Refused(Refusal.CLOSED)
    await require_coordinator(session, incident, user_id, is_admin)
    if incident.validated_at is None:
        raise Refused(Refusal.NOT_VALIDATED)
    if not await transition(
        session,
        incident_id,
        (VALIDATING,),
        RESOLVED,
        now,
        actor=user_id,
        kind=EventKind.RESOLVED,
        detail=incident.instruction,
        values={"restart_session": restart_session},
    ):
        raise Refused(Refusal.NOT_VALIDATED)
    deadlines = protocol.deadlines
    timers.schedule(
        session,
        kind=TimerKind.ACK_REMINDER,
        incident_id=incident_id,
        due_at=now + timedelta(minutes=deadlines.ack_reminder_minutes),
        now=now,
    )
    timers.schedule(
        session,
        kind=TimerKind.ACK_DEADLINE,
        incident_id=incident_id,
        due_at=now + timedelta(minutes=deadlines.ack_max_minutes),
        now=now,
    )
    privately = await private_recipients(session)
    await session.flush()
    return AllClear(
        incident_id=incident_id,
        opened_at=incident.opened_at,
        closed_at=now,
        instruction=incident.instruction,
        restart_session=restart_session,
        privately=privately,
    )


async def private_recipients(session: AsyncSession) -> list[int]:
    """Members who started the bot privately, so the all-clear reaches them there too."""
    return list((await session.scalars(select(Member.user_id).where(Member.private_chat))).all())


async def ack_state(session: AsyncSession, incident_id: int, protocol: Protocol) -> AckState:
    required = await required_sectors(session, protocol)
    acked = (
        await session.execute(
            select(Member.sector, Member.full_name)
            .join(Acknowledgement, Acknowledgement.user_id == Member.user_id)
            .where(Acknowledgement.incident_id == incident_id)
            .order_by(Acknowledgement.acknowledged_at)
        )
    ).all()
    members = (await session.execute(select(Member.sector))).scalars().all()
    sectors = [
        SectorAcks(
            sector=sector,
            names=[n for s, n in acked if s == sector],
            members=sum(1 for m in members if m == sector),
        )
        for sector in required
    ]
    others = [n for s, n in acked if s not in required]
    if others:
        sectors.append(SectorAcks(sector=None, names=others, members=len(others)))
    missing = [s.sector for s in sectors if s.sector is not None and not s.names]
    return AckState(sectors=sectors, missing=missing)


async def acknowledge(
    session: AsyncSession,
    *,
    incident_id: int,
    person: Person,
    chat_sector: str | None,
    now: datetime,
    protocol: Protocol,
) -> AckResult:
    """ "Entendido" on the all-clear: counted once per person."""
    incident = await get_incident(session, incident_id, open_only=False)
    if incident.status not in (RESOLVED, CLOSED):
        raise Refused(Refusal.UNKNOWN_INCIDENT)
    await note_member(session, person=person, now=now, chat_sector=chat_sector)
    inserted = await session.scalar(
        dialect_insert(session, Acknowledgement)
        .values(incident_id=incident_id, user_id=person.user_id, acknowledged_at=now)
        .on_conflict_do_nothing(index_elements=["incident_id", "user_id"])
        .returning(Acknowledgement.id)
    )
    if inserted is not None:
        add_event(session, incident_id, EventKind.ACKNOWLEDGED, person.user_id, now)
    state = await ack_state(session, incident_id, protocol)
    await session.flush()
    return AckResult(
        incident_id=incident_id,
        new=inserted is not None,
        complete=incident.status == RESOLVED and state.complete,
    )


async def ack_reminder_due(
    session: AsyncSession,
    *,
    incident_id: int,
    now: datetime,
    protocol: Protocol,
) -> AckReminder | None:
    """Sectors still silent and their members, to remind them; None when no reminder is needed."""
    incident = await get_incident(session, incident_id, open_only=False)
    if incident.status != RESOLVED:
        await session.flush()
        return None
    state = await ack_state(session, incident_id, protocol)
    if not state.missing:
        await session.flush()
        return None
    add_event(session, incident_id, EventKind.ACK_REMINDER, None, now, ", ".join(state.missing))
    timers.schedule(
        session,
        kind=TimerKind.ACK_REMINDER,
        incident_id=incident_id,
        due_at=now + timedelta(minutes=protocol.deadlines.ack_reminder_minutes),
        now=now,
    )
    people = (
        await session.execute(
            select(Member.user_id, Member.full_name, Member.sector).where(
                Member.sector.in_(state.missing)
            )
        )
    ).all()
    await session.flush()
    return AckReminder(
        incident_id=incident_id,
        missing=state.missing,
        people=[(user_id, name, sector) for user_id, name, sector in people],
    )


async def close_with_summary(
    session: AsyncSession, *, incident_id: int, now: datetime, protocol: Protocol
) -> Summary | None:
    """Every sector acknowledged, or time is up: close the incident; None if it was closed already."""
    moved = await transition(
        session,
        incident_id,
        (RESOLVED,),
        CLOSED,
        now,
        actor=None,
        kind=EventKind.CLOSED,
        values={"summary_posted_at": now},
    )
    # Read before committing: on SQLite a read after the commit would start a new write
    # transaction and hold the lock while the caller talks to Telegram.
    data = await summary(session, incident_id, protocol) if moved else None
    await session.flush()
    return data


async def summary(session: AsyncSession, incident_id: int, protocol: Protocol) -> Summary:
    incident = await get_incident(session, incident_id, open_only=False)
    rows = (
        await session.execute(
            select(Event, Member.full_name)
            .outerjoin(Member, Member.user_id == Event.actor_id)
            .where(Event.incident_id == incident_id)
            .order_by(Event.created_at, Event.id)
        )
    ).all()
    events = [(event, name) for event, name in rows]
    confirmed = next((e.created_at for e, _ in events if e.kind in CONFIRMING_EVENTS), None)
    affected = await session.scalar(
        select(func.count())
        .select_from(Vote)
        .where(Vote.incident_id == incident_id, Vote.choice == VoteChoice.FAILS)
    )
    return Summary(
        incident_id=incident_id,
        opened_at=incident.opened_at,
        confirmed_at=confirmed,
        support_contacted_at=incident.support_contacted_at,
        restored_at=incident.closed_at,
        coordinator=await member_name(session, incident.coordinator_id),
        support_ref=incident.support_ref,
        access_by=await member_name(session, incident.access_granted_by),
        access_tool=incident.access_tool,
        affected_people=affected or 0,
        timeline=[
            TimelineEntry(at=e.created_at, kind=e.kind, actor=n, detail=e.detail)
            for e, n in events
            if e.kind not in NOT_IN_TIMELINE
        ],
        acks=await ack_state(session, incident_id, protocol),
        coordinator_id=incident.coordinator_id,
        cause=incident.cause,
        instruction=incident.instruction,
        restart_session=incident.restart_session,
    )


@dataclass(frozen=True)
class CauseTold:
    incident_id: int
    cause: str
    first: bool  # False: it replaced what was said before


async def record_cause(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    text: str,
    now: datetime,
) -> CauseTold:
    """What support said caused the failure, as the coordinator (or an admin) tells it after
    the all-clear: the incident's cause in its summary, report, history and export."""
    incident = await get_incident(session, incident_id, open_only=False)
    await require_coordinator(session, incident, user_id, is_admin)
    cause = " ".join(text.split())[:CAUSE_LIMIT]
    first = incident.cause is None
    incident.cause = cause
    add_event(session, incident_id, EventKind.CAUSE_TOLD, user_id, now, cause)
    await session.flush()
    return CauseTold(incident_id=incident_id, cause=cause, first=first)
