"""The incident's core: report, vote, classify, escalate or dismiss; shared lifecycle helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot import timers
from bot.classify import Tally, classify_at_deadline, is_general
from bot.config import Protocol
from bot.people import Person, touch_member
from bot.support_window import support_status_at
from models import Event, Incident, IncidentMessage, Member, Report, Vote
from models.incident import (
    CLOSED,
    CONFIRMING,
    DISMISSED,
    FAILS,
    GENERAL,
    IN_PROGRESS,
    OPEN_STATUSES,
    PROBABLY_LOCAL,
    RESOLVED,
    UNCONFIRMED,
    VALIDATING,
    WORKS,
)

CONFIRMATION_TIMER = "confirmation"
NUDGE_TIMER = "nudge"  # "FLEXUS sigue caído hace 35 min. ¿Novedades?"
SUPPORT_OPENS_TIMER = "support_opens"
EXPIRY_TIMER = "expiry"  # an unconfirmed or probably-local incident nobody followed up
LOCAL_CAUSES = ("pc", "internet", "power", "works")  # "works": it works again, a false alarm
EXPIRED = "expired"
UNCLASSIFIED = (CONFIRMING, PROBABLY_LOCAL, UNCONFIRMED)
ACTIVE = (GENERAL, IN_PROGRESS, VALIDATING)  # a confirmed outage being handled


class Refused(Exception):
    """The person may not do this now; `reason` is a key of texts.REFUSALS, `who` names a person."""

    def __init__(self, reason: str, who: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.who = who


@dataclass(frozen=True)
class ReportResult:
    incident_id: int
    opened: bool
    already_affected: bool
    became_general: bool
    needs_sector: bool
    affected_people: int


@dataclass(frozen=True)
class VoteResult:
    incident_id: int
    changed: bool
    first_vote: bool
    became_general: bool
    needs_sector: bool


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def add_event(
    session: AsyncSession,
    incident_id: int,
    kind: str,
    actor: int | None,
    now: datetime,
    detail: str | None = None,
) -> None:
    session.add(
        Event(incident_id=incident_id, kind=kind, actor_id=actor, detail=detail, created_at=now)
    )


async def open_incident_id(session: AsyncSession) -> int | None:
    return await session.scalar(select(Incident.id).where(Incident.open_slot == 1))


async def get_incident(session: AsyncSession, incident_id: int, *, open_only: bool) -> Incident:
    """The incident, refreshed; Refused if unknown (or closed, when `open_only`)."""
    incident = await session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise Refused("unknown_incident")
    if open_only and incident.status not in OPEN_STATUSES:
        raise Refused("closed")
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
        raise Refused("claim_first")
    raise Refused("coordinator_or_admin", await member_name(session, incident.coordinator_id))


async def touch_progress(
    session: AsyncSession, incident_id: int, now: datetime, protocol: Protocol
) -> None:
    """Something moved: the next "¿Novedades?" reminder is a full interval away again.

    While support is closed nobody can move the case on, so the reminder waits for it to open.
    """
    await timers.cancel(session, incident_id=incident_id, kinds=(NUDGE_TIMER,))
    interval = timedelta(minutes=protocol.deadlines.coordinator_reminder_minutes)
    due_at = now + interval
    support = support_status_at(now, protocol.support)
    if not support.is_open and support.next_opening is not None:
        due_at = max(due_at, support.next_opening.start + interval)
    timers.schedule(session, kind=NUDGE_TIMER, incident_id=incident_id, due_at=due_at, now=now)


async def ensure_support_opens_reminder(
    session: AsyncSession, incident: Incident, now: datetime, protocol: Protocol
) -> None:
    """Support is closed and nobody has called yet: remind at the moment it opens (once)."""
    support = support_status_at(now, protocol.support)
    if (
        support.is_open
        or support.next_opening is None
        or incident.support_contacted_at is not None
        or await timers.has_pending(session, incident_id=incident.id, kind=SUPPORT_OPENS_TIMER)
    ):
        return
    timers.schedule(
        session,
        kind=SUPPORT_OPENS_TIMER,
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
    kind: str,
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
    await timers.cancel(session, incident_id=incident_id, kinds=(CONFIRMATION_TIMER, EXPIRY_TIMER))
    await touch_progress(session, incident_id, now, protocol)
    incident = await get_incident(session, incident_id, open_only=False)
    await ensure_support_opens_reminder(session, incident, now, protocol)


async def open_or_join_incident(
    session: AsyncSession,
    *,
    person: Person,
    chat_id: int,
    chat_sector: str | None,
    message_id: int | None,
    text: str,
    photo_file_id: str | None,
    now: datetime,
    protocol: Protocol,
) -> ReportResult:
    """Open the incident, or join the open one; the database decides who opened it."""
    member = await touch_member(session, person=person, now=now, chat_sector=chat_sector)
    opened_id = await session.scalar(
        dialect_insert(session, Incident)
        .values(
            status=CONFIRMING,
            open_slot=1,
            reporter_id=person.user_id,
            origin_chat_id=chat_id,
            description=text,
            photo_file_id=photo_file_id,
            opened_at=now,
            validation_round=0,
        )
        .on_conflict_do_nothing(index_elements=["open_slot"])
        .returning(Incident.id)
    )
    incident_id = opened_id if opened_id is not None else await open_incident_id(session)
    if incident_id is None:  # closed between our insert and our read: open a fresh one
        await session.rollback()
        return await open_or_join_incident(
            session,
            person=person,
            chat_id=chat_id,
            chat_sector=chat_sector,
            message_id=message_id,
            text=text,
            photo_file_id=photo_file_id,
            now=now,
            protocol=protocol,
        )
    session.add(
        Report(
            incident_id=incident_id,
            user_id=person.user_id,
            chat_id=chat_id,
            message_id=message_id,
            text=text,
            photo_file_id=photo_file_id,
            created_at=now,
        )
    )
    previous = await _upsert_vote(session, incident_id, person.user_id, FAILS, now)
    if opened_id is not None:
        add_event(session, incident_id, "opened", person.user_id, now, text or None)
        timers.schedule(
            session,
            kind=CONFIRMATION_TIMER,
            incident_id=incident_id,
            due_at=now + timedelta(minutes=protocol.deadlines.confirmation_minutes),
            now=now,
        )
    else:
        add_event(session, incident_id, "joined", person.user_id, now, text or None)
    became_general = await _promote_if_general(session, incident_id, now, protocol)
    tally = await _tally(session, incident_id)
    await session.commit()
    return ReportResult(
        incident_id=incident_id,
        opened=opened_id is not None,
        already_affected=previous == FAILS,
        became_general=became_general,
        needs_sector=member.sector is None,
        affected_people=tally.affected_people,
    )


async def _upsert_vote(
    session: AsyncSession, incident_id: int, user_id: int, choice: str, now: datetime
) -> str | None:
    """Record a person's answer; returns what they had answered before (None if nothing)."""
    previous = await session.scalar(
        select(Vote.choice).where(Vote.incident_id == incident_id, Vote.user_id == user_id)
    )
    stmt = dialect_insert(session, Vote).values(
        incident_id=incident_id, user_id=user_id, choice=choice, updated_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["incident_id", "user_id"],
            set_={"choice": stmt.excluded.choice, "updated_at": stmt.excluded.updated_at},
        )
    )
    return previous


async def votes_with_sectors(
    session: AsyncSession, incident_id: int
) -> list[tuple[str, str | None]]:
    """Every answer to the poll as (choice, the voter's sector)."""
    rows = await session.execute(
        select(Vote.choice, Member.sector)
        .join(Member, Member.user_id == Vote.user_id)
        .where(Vote.incident_id == incident_id)
    )
    return [(choice, sector) for choice, sector in rows.all()]


async def _tally(session: AsyncSession, incident_id: int) -> Tally:
    rows = await votes_with_sectors(session, incident_id)
    fails = [sector for choice, sector in rows if choice == FAILS]
    return Tally(
        affected_people=len(fails),
        affected_sectors=len({s for s in fails if s is not None}),
        works_people=sum(1 for choice, _ in rows if choice == WORKS),
    )


async def _promote_if_general(
    session: AsyncSession, incident_id: int, now: datetime, protocol: Protocol
) -> bool:
    """Make the incident general once the thresholds are met; True if this call did it."""
    await session.flush()
    if not is_general(await _tally(session, incident_id), protocol.classification):
        return False
    return await transition(
        session,
        incident_id,
        UNCLASSIFIED,
        GENERAL,
        now,
        actor=None,
        kind="general",
        protocol=protocol,
    )


async def cast_vote(
    session: AsyncSession,
    *,
    incident_id: int,
    person: Person,
    chat_sector: str | None,
    choice: str,
    now: datetime,
    protocol: Protocol,
) -> VoteResult:
    """Record "me falla" / "me funciona" on an open incident; raises Refused("closed") otherwise."""
    await get_incident(session, incident_id, open_only=True)
    member = await touch_member(session, person=person, now=now, chat_sector=chat_sector)
    previous = await _upsert_vote(session, incident_id, person.user_id, choice, now)
    if previous != choice:
        add_event(session, incident_id, "vote", person.user_id, now, choice)
    became_general = await _promote_if_general(session, incident_id, now, protocol)
    await session.commit()
    return VoteResult(
        incident_id=incident_id,
        changed=previous != choice,
        first_vote=previous is None,
        became_general=became_general,
        needs_sector=member.sector is None,
    )


async def confirmation_deadline(
    session: AsyncSession, *, incident_id: int, now: datetime, protocol: Protocol
) -> str | None:
    """Classify an incident still confirming when its deadline passes; returns the new status."""
    outcome = classify_at_deadline(await _tally(session, incident_id), protocol.classification)
    moved = await transition(
        session,
        incident_id,
        (CONFIRMING,),
        outcome,
        now,
        actor=None,
        kind=outcome,
        protocol=protocol,
    )
    if moved and outcome != GENERAL:
        # Nobody may leave it hanging: unless someone follows up, it closes by itself.
        timers.schedule(
            session,
            kind=EXPIRY_TIMER,
            incident_id=incident_id,
            due_at=now + timedelta(minutes=protocol.deadlines.unconfirmed_close_minutes),
            now=now,
        )
    await session.commit()
    return outcome if moved else None


async def expire_unconfirmed(session: AsyncSession, *, incident_id: int, now: datetime) -> bool:
    """Close an incident nobody confirmed nor followed up; False if something happened meanwhile."""
    moved = await transition(
        session,
        incident_id,
        (PROBABLY_LOCAL, UNCONFIRMED),
        DISMISSED,
        now,
        actor=None,
        kind="expired",
        values={"local_cause": EXPIRED},
    )
    await session.commit()
    return moved


async def _check_reporter(
    session: AsyncSession, incident_id: int, user_id: int, is_admin: bool
) -> Incident:
    incident = await get_incident(session, incident_id, open_only=True)
    if not is_admin and incident.reporter_id != user_id:
        raise Refused("reporter_or_admin", await member_name(session, incident.reporter_id))
    if incident.status not in UNCLASSIFIED:
        raise Refused("already_general")
    return incident


async def escalate(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    now: datetime,
    protocol: Protocol,
) -> bool:
    """ "Revisé todo y sigue fallando" / "Escalar igual": treat the incident as general."""
    await _check_reporter(session, incident_id, user_id, is_admin)
    moved = await transition(
        session,
        incident_id,
        UNCLASSIFIED,
        GENERAL,
        now,
        actor=user_id,
        kind="escalated",
        protocol=protocol,
    )
    await session.commit()
    return moved


async def dismiss_as_local(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    cause: str,
    now: datetime,
) -> None:
    """The reporter found a local cause (PC, internet, power): close the incident as local."""
    if cause not in LOCAL_CAUSES:
        raise Refused("unknown_incident")
    await _check_reporter(session, incident_id, user_id, is_admin)
    if not await transition(
        session,
        incident_id,
        UNCLASSIFIED,
        DISMISSED,
        now,
        actor=user_id,
        kind="dismissed",
        detail=cause,
        values={"local_cause": cause},
    ):
        raise Refused("closed")
    await session.commit()


async def record_messages(
    session: AsyncSession,
    *,
    incident_id: int,
    kind: str,
    sent: list[tuple[int, int]],
    now: datetime,
) -> None:
    """Remember messages posted about an incident (chat id, message id) to edit them later."""
    for chat_id, message_id in sent:
        session.add(
            IncidentMessage(
                incident_id=incident_id,
                kind=kind,
                chat_id=chat_id,
                message_id=message_id,
                created_at=now,
            )
        )
    await session.commit()


async def messages_of(
    session: AsyncSession, *, incident_id: int, kind: str
) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(IncidentMessage.chat_id, IncidentMessage.message_id)
        .where(IncidentMessage.incident_id == incident_id, IncidentMessage.kind == kind)
        .order_by(IncidentMessage.id)
    )
    return [(chat_id, message_id) for chat_id, message_id in rows.all()]


async def prompt_of(
    session: AsyncSession, *, chat_id: int, message_id: int
) -> IncidentMessage | None:
    """The bot message a person replied to, if it was one of the bot's questions."""
    return await session.scalar(
        select(IncidentMessage).where(
            IncidentMessage.chat_id == chat_id, IncidentMessage.message_id == message_id
        )
    )
