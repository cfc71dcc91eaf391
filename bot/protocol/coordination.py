"""Protocol step 5: a coordinator claims the case, calls support, and can hand the case over."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol
from bot.protocol.lifecycle import (
    UNCLASSIFIED,
    Refused,
    add_event,
    ensure_support_opens_reminder,
    get_incident,
    member_name,
    require_coordinator,
    schedule_escalation,
    touch_progress,
    transition,
)
from bot.team.members import Person, note_member
from bot.timers import store as timers
from models import Incident, Member
from models.incident import GENERAL, IN_PROGRESS, OPEN_STATUSES, VALIDATING
from models.vocab import EventKind, Refusal, TimerKind

REFERENCE_LIMIT = 120
NOTE_LIMIT = 500
# A word with letters, digits, "-" or "/" inside: "R-45871", "2026/0012", "45871".
_TOKEN = re.compile(r"[^\W_](?:[\w/-]*[^\W_])?")


def parse_reference(text: str) -> str | None:
    """The claim number in what the coordinator wrote: the first word with three digits, or a
    code that starts with letters ("R-45871", "TK-9", "Nro. 45871" -> "45871"); None when
    there is none ("no me dieron número", "llaman en 15 minutos", "el 2do intento")."""
    for token in _TOKEN.findall(text):
        digits = sum(c.isdigit() for c in token)
        # "45871", or a code starting with letters ("TK-77"); not "15" (minutes) nor "2do".
        if digits >= 3 or (digits >= 1 and token[0].isalpha()):
            return token[:REFERENCE_LIMIT]
    return None


@dataclass(frozen=True)
class ClaimResult:
    incident_id: int
    coordinator_id: int
    already_yours: bool


@dataclass(frozen=True)
class Nudge:
    """ "FLEXUS sigue caído hace 35 min. ¿Novedades?": to the coordinator, or to the group."""

    incident_id: int
    down_for: timedelta
    coordinated: bool
    validated: bool


@dataclass(frozen=True)
class SupportOpening:
    """Support just opened and nobody has called yet."""

    incident_id: int
    coordinated: bool
    message_left: bool = False  # a message was left while support was closed


@dataclass(frozen=True)
class ContactResult:
    incident_id: int
    first: bool  # the first call recorded (later ones only add a ticket number)
    contacted_at: datetime  # when support was first called
    reference: str | None  # the ticket number, as it stands now
    note: str | None = None  # what was written, when it held no number


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
    await note_member(session, person=person, now=now, chat_sector=chat_sector)
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
        await session.flush()
        if incident.coordinator_id == person.user_id:
            return ClaimResult(incident_id, person.user_id, already_yours=True)
        raise Refused(Refusal.ALREADY_CLAIMED, await member_name(session, incident.coordinator_id))
    add_event(session, incident_id, EventKind.CLAIMED, person.user_id, now)
    await timers.cancel(session, incident_id=incident_id, kinds=(TimerKind.ESCALATION,))
    await touch_progress(session, incident_id, now, protocol)
    incident = await get_incident(session, incident_id, open_only=False)
    await ensure_support_opens_reminder(session, incident, now, protocol)
    await session.flush()
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
    await session.flush()
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
    written = (reference or "").strip()
    reference = parse_reference(written)
    # Words around the number, or with no number ("no me dieron número"), are kept as a note:
    # never as the claim number.
    note = written[:NOTE_LIMIT] if written and written != reference else None
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
    if note:
        incident.support_note = note
        add_event(session, incident_id, EventKind.SUPPORT_NOTE, person.user_id, now, note)
    # Calling support settles it: no more waiting for votes, for the opening, or to expire.
    await timers.cancel(
        session,
        incident_id=incident_id,
        kinds=(TimerKind.SUPPORT_OPENS, TimerKind.CONFIRMATION, TimerKind.EXPIRY),
    )
    await touch_progress(session, incident_id, now, protocol)
    await session.flush()
    return ContactResult(
        incident_id=incident_id,
        first=first,
        contacted_at=incident.support_contacted_at or now,
        reference=incident.support_ref,
        note=note,
    )


async def may_drive(
    session: AsyncSession, *, incident_id: int, user_id: int, is_admin: bool
) -> bool:
    """The coordinator (or an admin) may take the incident's next step; else Refused, saying
    who may. Asked before a question whose answer only they may give."""
    incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, user_id, is_admin)
    return True


async def leave_message(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    now: datetime,
    protocol: Protocol,
) -> bool:
    """ "Dejé mensaje a soporte" while support is closed: noted for the card and the timeline,
    but support has not answered yet: the call is recorded when someone really talks to
    support (the coordinator is asked again when it opens). False if it was noted already."""
    incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, user_id, is_admin)
    if incident.support_message_left_at is not None or incident.support_contacted_at is not None:
        await session.flush()
        return False
    incident.support_message_left_at = now
    add_event(session, incident_id, EventKind.SUPPORT_MESSAGE_LEFT, user_id, now)
    # A general failure with a message left is in hand: it does not close by itself.
    await timers.cancel(session, incident_id=incident_id, kinds=(TimerKind.EXPIRY,))
    await touch_progress(session, incident_id, now, protocol)
    await session.flush()
    return True


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


@dataclass(frozen=True)
class ReporterContact:
    user_id: int
    private_chat: bool
    origin_chat_id: int  # where they reported


async def reporter_contact(session: AsyncSession, incident_id: int) -> ReporterContact:
    incident = await get_incident(session, incident_id, open_only=False)
    member = await session.get(Member, incident.reporter_id)
    return ReporterContact(
        user_id=incident.reporter_id,
        private_chat=bool(member and member.private_chat),
        origin_chat_id=incident.origin_chat_id,
    )


async def nudge_due(
    session: AsyncSession, *, incident_id: int, now: datetime, protocol: Protocol
) -> Nudge | None:
    """The "¿Novedades?" reminder fell due: set the next one; None once the incident is over."""
    incident = await get_incident(session, incident_id, open_only=False)
    if incident.status not in OPEN_STATUSES:
        await session.flush()
        return None
    await touch_progress(session, incident_id, now, protocol)
    await session.flush()
    return Nudge(
        incident_id=incident_id,
        down_for=now - incident.opened_at,
        coordinated=incident.coordinator_id is not None,
        validated=incident.validated_at is not None,
    )


async def support_opens_due(session: AsyncSession, *, incident_id: int) -> SupportOpening | None:
    """Support opened: someone must call now, unless the incident is over or they called."""
    incident = await get_incident(session, incident_id, open_only=False)
    await session.flush()
    if incident.status not in OPEN_STATUSES or incident.support_contacted_at is not None:
        return None
    return SupportOpening(
        incident_id,
        coordinated=incident.coordinator_id is not None,
        message_left=incident.support_message_left_at is not None,
    )


@dataclass(frozen=True)
class EscalationStep:
    incident_id: int
    user_id: int
    name: str
    waiting: timedelta  # since the failure was confirmed
    first_round: bool  # the first time this contact is written for this incident


async def escalation_due(
    session: AsyncSession,
    *,
    incident_id: int,
    step: int,
    contacts: list[tuple[int, str]],
    now: datetime,
    protocol: Protocol,
) -> EscalationStep | None:
    """Nobody took a general failure: the next contact in order (round again after the last)
    is written, the timeline says so, and the next step is set. None once someone took it,
    the incident is over, or there is nobody to write to."""
    incident = await get_incident(session, incident_id, open_only=False)
    if incident.status not in (GENERAL, IN_PROGRESS, VALIDATING) or not contacts:
        return None
    if incident.coordinator_id is not None:
        return None
    user_id, name = contacts[step % len(contacts)]
    add_event(session, incident_id, EventKind.ESCALATED_TO, None, now, name)
    schedule_escalation(session, incident_id, step + 1, now, protocol)
    await session.flush()
    since = incident.classified_at or incident.opened_at
    return EscalationStep(incident_id, user_id, name, now - since, step < len(contacts))
