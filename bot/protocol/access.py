"""Protocol step 6: support needs the server, and only Gerencia's PC reaches it.

The coordinator asks; Gerencia is asked privately and again until someone answers, the backup
contacts join after a few unanswered rounds, and whoever gives access records the tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import GerenciaContact, Protocol
from bot.protocol.lifecycle import (
    Refused,
    add_event,
    get_incident,
    member_name,
    require_coordinator,
    touch_progress,
)
from bot.team.members import Person, note_member
from bot.timers import store as timers
from models import Incident
from models.incident import GENERAL, IN_PROGRESS
from models.vocab import EventKind, Refusal, TimerKind


@dataclass(frozen=True)
class AccessRound:
    """Who to ask for server access now: the main Gerencia contacts, plus backups once escalated."""

    incident_id: int
    round: int
    contacts: list[GerenciaContact]
    escalated: bool
    gave_up: bool  # every repeat went unanswered: nobody is asked again, people must phone
    coordinator: str | None = None  # who asks, named in the request


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
    access_round = _access_round(incident_id, 0, protocol, await coordinator_of(session, incident))
    _schedule_repeat(session, access_round, now, protocol)
    await touch_progress(session, incident_id, now, protocol)
    await session.flush()
    return access_round


async def coordinator_of(session: AsyncSession, incident: Incident) -> str | None:
    return await member_name(session, incident.coordinator_id)


def _access_round(
    incident_id: int, number: int, protocol: Protocol, coordinator: str | None
) -> AccessRound:
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
        coordinator=coordinator,
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
        await session.flush()
        return None
    coordinator = await coordinator_of(session, incident)
    access_round = _access_round(incident_id, round_number, protocol, coordinator)
    kind = EventKind.ACCESS_UNANSWERED if access_round.gave_up else EventKind.ACCESS_REMINDER
    add_event(session, incident_id, kind, None, now, str(round_number))
    _schedule_repeat(session, access_round, now, protocol)
    await session.flush()
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
    await note_member(session, person=person, now=now)
    incident.access_granted_at = now
    incident.access_granted_by = user_id
    incident.access_tool = tool
    add_event(session, incident_id, EventKind.ACCESS_GRANTED, user_id, now, tool)
    await timers.cancel(session, incident_id=incident_id, kinds=(TimerKind.ACCESS_REPEAT,))
    await touch_progress(session, incident_id, now, protocol)
    await session.flush()
    return person.full_name
