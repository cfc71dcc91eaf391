"""Protocol steps 5–6: a coordinator claims the case, calls support, gets server access from Gerencia."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import timers
from bot.config import GerenciaContact, Protocol
from bot.lifecycle import (
    UNCLASSIFIED,
    Refused,
    add_event,
    ensure_support_opens_reminder,
    get_incident,
    member_name,
    require_coordinator,
    touch_progress,
    transition,
)
from bot.people import Person, touch_member
from bot.vocab import EventKind, Refusal, TimerKind
from models import Incident, Member
from models.incident import GENERAL, IN_PROGRESS, OPEN_STATUSES

REFERENCE_LIMIT = 120


@dataclass(frozen=True)
class ClaimResult:
    incident_id: int
    coordinator_id: int
    already_yours: bool


@dataclass(frozen=True)
class ContactResult:
    incident: Incident
    first: bool  # the first call recorded (later ones only add a ticket number)


@dataclass(frozen=True)
class AccessRound:
    """Who to ask for server access now: the main Gerencia contacts, plus backups once escalated."""

    incident_id: int
    round: int
    contacts: list[GerenciaContact]
    escalated: bool
    gave_up: bool  # every repeat went unanswered: nobody is asked again, people must phone


async def claim(
    session: AsyncSession,
    *,
    incident_id: int,
    person: Person,
    chat_id: int,
    chat_sector: str | None,
    now: datetime,
    protocol: Protocol,
) -> ClaimResult:
    """ "Yo gestiono el reclamo": the first press wins, decided by the database."""
    await touch_member(session, person=person, now=now, chat_sector=chat_sector)
    result: Any = await session.execute(
        update(Incident)
        .where(
            Incident.id == incident_id,
            Incident.coordinator_id.is_(None),
            Incident.status.in_(OPEN_STATUSES),
        )
        .values(coordinator_id=person.user_id, coordinator_chat_id=chat_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        incident = await get_incident(session, incident_id, open_only=True)
        await session.commit()
        if incident.coordinator_id == person.user_id:
            return ClaimResult(incident_id, person.user_id, already_yours=True)
        raise Refused(Refusal.ALREADY_CLAIMED, await member_name(session, incident.coordinator_id))
    add_event(session, incident_id, EventKind.CLAIMED, person.user_id, now)
    await touch_progress(session, incident_id, now, protocol)
    incident = await get_incident(session, incident_id, open_only=False)
    await ensure_support_opens_reminder(session, incident, now, protocol)
    await session.commit()
    return ClaimResult(incident_id, person.user_id, already_yours=False)


async def handover_candidates(
    session: AsyncSession, *, incident_id: int, user_id: int, is_admin: bool, limit: int = 12
) -> list[tuple[int, str]]:
    """People the coordination can be passed to: members, most recently active first."""
    incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, user_id, is_admin)
    rows = await session.execute(
        select(Member.user_id, Member.full_name)
        .where(Member.user_id != incident.coordinator_id)
        .order_by(Member.updated_at.desc())
        .limit(limit)
    )
    return [(user_id, name) for user_id, name in rows.all()]


async def hand_over(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    to_user_id: int,
    chat_id: int | None,
    now: datetime,
    protocol: Protocol,
) -> str:
    """ "Pasar coordinación": the coordinator (or an admin) hands the case to another member."""
    incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, user_id, is_admin)
    target = await session.get(Member, to_user_id)
    if target is None:
        raise Refused(Refusal.UNKNOWN_PERSON)
    incident.coordinator_id = to_user_id
    if chat_id is not None:  # a group where the hand-over happened: both are there
        incident.coordinator_chat_id = chat_id
    add_event(session, incident_id, EventKind.HANDED_OVER, user_id, now, target.full_name)
    await touch_progress(session, incident_id, now, protocol)
    await session.commit()
    return target.full_name


async def contact_support(
    session: AsyncSession,
    *,
    incident_id: int,
    person: Person,
    is_admin: bool,
    chat_id: int,
    reference: str | None,
    now: datetime,
    protocol: Protocol,
) -> ContactResult:
    """ "Soporte contactado": who called and when, with the ticket if there is one.

    Whoever calls with nobody coordinating becomes the coordinator: they are managing the case.
    """
    incident = await get_incident(session, incident_id, open_only=True)
    if incident.coordinator_id is None:
        await claim(
            session,
            incident_id=incident_id,
            person=person,
            chat_id=chat_id,
            chat_sector=None,
            now=now,
            protocol=protocol,
        )
        incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, person.user_id, is_admin)
    reference = (reference or "").strip()[:REFERENCE_LIMIT] or None
    first = incident.support_contacted_at is None
    if first:
        incident.support_contacted_at = now
        incident.support_contacted_by = person.user_id
        add_event(session, incident_id, EventKind.SUPPORT_CONTACTED, person.user_id, now, reference)
        await transition(
            session,
            incident_id,
            (*UNCLASSIFIED, GENERAL),
            IN_PROGRESS,
            now,
            actor=person.user_id,
            kind=EventKind.IN_PROGRESS,
        )
    elif reference:
        add_event(session, incident_id, EventKind.SUPPORT_REFERENCE, person.user_id, now, reference)
    if reference:
        incident.support_ref = reference
    # Calling support settles it: no more waiting for votes, for the opening, or to expire.
    await timers.cancel(
        session,
        incident_id=incident_id,
        kinds=(TimerKind.SUPPORT_OPENS, TimerKind.CONFIRMATION, TimerKind.EXPIRY),
    )
    await touch_progress(session, incident_id, now, protocol)
    await session.commit()
    return ContactResult(
        incident=await get_incident(session, incident_id, open_only=False), first=first
    )


def gerencia_contacts(protocol: Protocol, *, backups: bool) -> list[GerenciaContact]:
    return [c for c in protocol.gerencia if c.backup == backups]


def gerencia_identified(protocol: Protocol) -> bool:
    """True when the bot can tell Gerencia's people by their Telegram id."""
    return any(c.telegram_id for c in protocol.gerencia)


def is_gerencia(protocol: Protocol, user_id: int) -> bool:
    return any(c.telegram_id == user_id for c in protocol.gerencia if c.telegram_id)


async def request_access(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    now: datetime,
    protocol: Protocol,
) -> AccessRound:
    """ "Soporte necesita acceso al servidor": ask Gerencia, and keep asking until they answer."""
    incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, user_id, is_admin)
    if incident.access_granted_at is not None:
        raise Refused(Refusal.ACCESS_ALREADY_GRANTED)
    first = incident.access_requested_at is None
    incident.access_requested_at = now
    add_event(
        session,
        incident_id,
        EventKind.ACCESS_REQUESTED if first else EventKind.ACCESS_REQUESTED_AGAIN,
        user_id,
        now,
    )
    await timers.cancel(session, incident_id=incident_id, kinds=(TimerKind.ACCESS_REPEAT,))
    access_round = _access_round(incident_id, 0, protocol)
    _schedule_repeat(session, access_round, now, protocol)
    await touch_progress(session, incident_id, now, protocol)
    await session.commit()
    return access_round


def _access_round(incident_id: int, number: int, protocol: Protocol) -> AccessRound:
    # The first request is round 0; after `escalate_after` unanswered repeats, backups are asked too.
    # Keep asking for as long again after the backups are in; one interval after the last
    # repeat, if still nobody answered, the coordinator is told to phone.
    escalate_after = protocol.deadlines.access_escalate_after
    escalated = number > escalate_after
    gave_up = number > 2 * escalate_after
    contacts = [] if gave_up else gerencia_contacts(protocol, backups=False)
    if escalated and not gave_up:
        contacts += gerencia_contacts(protocol, backups=True)
    return AccessRound(
        incident_id=incident_id,
        round=number,
        contacts=contacts,
        escalated=escalated,
        gave_up=gave_up,
    )


def _schedule_repeat(
    session: AsyncSession, current: AccessRound, now: datetime, protocol: Protocol
) -> None:
    if not current.gave_up:
        timers.schedule(
            session,
            kind=TimerKind.ACCESS_REPEAT,
            incident_id=current.incident_id,
            due_at=now + timedelta(minutes=protocol.deadlines.access_repeat_minutes),
            now=now,
            payload={"round": current.round + 1},
        )


async def access_repeat_due(
    session: AsyncSession,
    *,
    incident_id: int,
    round_number: int,
    now: datetime,
    protocol: Protocol,
) -> AccessRound | None:
    """A repeat fell due: who to ask again now, or None when access came or the incident ended."""
    incident = await get_incident(session, incident_id, open_only=False)
    if incident.status not in (GENERAL, IN_PROGRESS) or incident.access_granted_at is not None:
        await session.commit()
        return None
    access_round = _access_round(incident_id, round_number, protocol)
    kind = EventKind.ACCESS_UNANSWERED if access_round.gave_up else EventKind.ACCESS_REMINDER
    add_event(session, incident_id, kind, None, now, str(round_number))
    _schedule_repeat(session, access_round, now, protocol)
    await session.commit()
    return access_round


async def grant_access(
    session: AsyncSession,
    *,
    incident_id: int,
    person: Person,
    is_admin: bool,
    tool: str,
    now: datetime,
    protocol: Protocol,
) -> str:
    """Gerencia gave support remote access (AnyDesk or TeamViewer); returns who did it."""
    incident = await get_incident(session, incident_id, open_only=True)
    user_id = person.user_id
    if not (is_admin or is_gerencia(protocol, user_id)):
        if gerencia_identified(protocol):
            raise Refused(Refusal.GERENCIA_ONLY, ", ".join(c.name for c in protocol.gerencia))
        # Nobody in Gerencia has a telegram_id: the coordinator confirms what Gerencia did.
        await require_coordinator(session, incident, user_id, is_admin)
    if incident.access_granted_at is not None:
        raise Refused(Refusal.ACCESS_ALREADY_GRANTED)
    await touch_member(session, person=person, now=now)
    incident.access_granted_at = now
    incident.access_granted_by = user_id
    incident.access_tool = tool
    add_event(session, incident_id, EventKind.ACCESS_GRANTED, user_id, now, tool)
    await timers.cancel(session, incident_id=incident_id, kinds=(TimerKind.ACCESS_REPEAT,))
    await touch_progress(session, incident_id, now, protocol)
    await session.commit()
    return person.full_name


@dataclass(frozen=True)
class CoordinatorContact:
    user_id: int
    name: str
    private_chat: bool
    fallback_chat_id: int  # where they claimed the case (or where it was reported)


async def coordinator_contact(session: AsyncSession, incident_id: int) -> CoordinatorContact | None:
    incident = await get_incident(session, incident_id, open_only=False)
    if incident.coordinator_id is None:
        return None
    member = await session.get(Member, incident.coordinator_id)
    return CoordinatorContact(
        user_id=incident.coordinator_id,
        name=member.full_name if member else str(incident.coordinator_id),
        private_chat=bool(member and member.private_chat),
        fallback_chat_id=incident.coordinator_chat_id or incident.origin_chat_id,
    )
