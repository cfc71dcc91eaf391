"""Protocol step 7: every required sector confirms FLEXUS works before going back to work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol
from bot.protocol.lifecycle import (
    ACTIVE,
    Refused,
    add_event,
    get_incident,
    require_coordinator,
    touch_progress,
    transition,
)
from bot.storage.db import dialect_insert
from bot.team.members import Person, note_member
from bot.timers import store as timers
from models import Incident, Member, ValidationAnswer
from models.incident import IN_PROGRESS, VALIDATING
from models.vocab import CheckState, EventKind, Refusal, TimerKind


@dataclass(frozen=True)
class SectorCheck:
    sector: str
    state: CheckState
    by: str | None


@dataclass(frozen=True)
class ValidationState:
    incident_id: int
    round: int
    checks: list[SectorCheck]
    validated: bool

    @property
    def missing(self) -> list[str]:
        return [c.sector for c in self.checks if c.state != CheckState.WORKS]


@dataclass(frozen=True)
class ValidationAnswerResult:
    incident_id: int
    sector: str
    works: bool
    complete: bool  # every required sector said it works
    state: ValidationState  # the round as it stands after this answer


@dataclass(frozen=True)
class OverrideResult:
    missing: list[str]  # the sectors the team goes on without
    state: ValidationState


async def required_sectors(session: AsyncSession, protocol: Protocol) -> list[str]:
    """The protocol file's list, or else every sector with at least one member, in sector order."""
    if protocol.validation.required_sectors:
        return list(protocol.validation.required_sectors)
    with_members = set(
        (
            await session.scalars(
                select(Member.sector).where(Member.sector.is_not(None)).distinct()
            )
        ).all()
    )
    return [s for s in protocol.team.sectors if s in with_members]


async def validation_state(
    session: AsyncSession, incident: Incident, protocol: Protocol
) -> ValidationState:
    rows = (
        await session.execute(
            select(ValidationAnswer.sector, ValidationAnswer.works, Member.full_name)
            .join(Member, Member.user_id == ValidationAnswer.user_id)
            .where(
                ValidationAnswer.incident_id == incident.id,
                ValidationAnswer.round == incident.validation_round,
            )
        )
    ).all()
    answers = {sector: (works, name) for sector, works, name in rows}
    checks = []
    for sector in await required_sectors(session, protocol):
        works, name = answers.get(sector, (None, None))
        state = (
            CheckState.PENDING
            if works is None
            else (CheckState.WORKS if works else CheckState.FAILS)
        )
        checks.append(SectorCheck(sector=sector, state=state, by=name))
    return ValidationState(
        incident_id=incident.id,
        round=incident.validation_round,
        checks=checks,
        validated=incident.validated_at is not None,
    )


async def start_validation(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    now: datetime,
    protocol: Protocol,
) -> ValidationState:
    """ "Soporte terminó, validar": a new round of "¿FLEXUS funciona en tu sector?"."""
    incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, user_id, is_admin)
    if incident.status not in ACTIVE:
        raise Refused(Refusal.NOT_GENERAL_YET)
    next_round = incident.validation_round + 1
    await transition(
        session,
        incident_id,
        ACTIVE,
        VALIDATING,
        now,
        actor=user_id,
        kind=EventKind.VALIDATION_STARTED,
        detail=str(next_round),
        values={"validation_round": next_round, "validated_at": None},
    )
    # Support finished: Gerencia need not be asked for access any more.
    await timers.cancel(session, incident_id=incident_id, kinds=(TimerKind.ACCESS_REPEAT,))
    await touch_progress(session, incident_id, now, protocol)
    await session.flush()
    incident = await get_incident(session, incident_id, open_only=True)
    return await validation_state(session, incident, protocol)


async def answer_validation(
    session: AsyncSession,
    *,
    incident_id: int,
    round_number: int,
    person: Person,
    chat_sector: str | None,
    works: bool,
    now: datetime,
    protocol: Protocol,
) -> ValidationAnswerResult:
    """A person answers for their sector; ❌ sends the incident back to "in progress"."""
    incident = await get_incident(session, incident_id, open_only=True)
    if (
        incident.status != VALIDATING
        or incident.validation_round != round_number
        or incident.validated_at
        is not None  # complete (or overridden): answers are no longer needed
    ):
        raise Refused(Refusal.VALIDATION_CLOSED)
    sector = await note_member(session, person=person, now=now, chat_sector=chat_sector)
    if sector is None:
        raise Refused(Refusal.NO_SECTOR)
    stmt = dialect_insert(session, ValidationAnswer).values(
        incident_id=incident_id,
        round=round_number,
        sector=sector,
        user_id=person.user_id,
        works=works,
        answered_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["incident_id", "round", "sector"],
            set_={"works": works, "user_id": person.user_id, "answered_at": now},
        )
    )
    complete = False
    if not works:
        await transition(
            session,
            incident_id,
            (VALIDATING,),
            IN_PROGRESS,
            now,
            actor=person.user_id,
            kind=EventKind.VALIDATION_FAILED,
            detail=sector,
        )
    else:
        add_event(session, incident_id, EventKind.VALIDATION_OK, person.user_id, now, sector)
        await session.flush()
        state = await validation_state(session, incident, protocol)
        if state.checks and not state.missing:
            incident.validated_at = now
            add_event(session, incident_id, EventKind.VALIDATED, None, now)
            complete = True
    await touch_progress(session, incident_id, now, protocol)
    incident = await get_incident(session, incident_id, open_only=False)
    state = await validation_state(session, incident, protocol)
    await session.flush()
    return ValidationAnswerResult(
        incident_id=incident_id, sector=sector, works=works, complete=complete, state=state
    )


async def sectors_to_override(
    session: AsyncSession, *, incident_id: int, user_id: int, is_admin: bool, protocol: Protocol
) -> list[str]:
    """Check the coordinator (or an admin) may go on without the silent sectors; returns them."""
    incident = await get_incident(session, incident_id, open_only=True)
    await require_coordinator(session, incident, user_id, is_admin)
    if incident.status != VALIDATING or incident.validated_at is not None:
        raise Refused(Refusal.VALIDATION_CLOSED)
    # A ❌ already sent the incident back to "in progress", so only silent sectors remain here.
    return (await validation_state(session, incident, protocol)).missing


async def override_missing(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    reason: str,
    now: datetime,
    protocol: Protocol,
) -> OverrideResult:
    """Go on without the sectors that have not answered, recording why."""
    missing = await sectors_to_override(
        session, incident_id=incident_id, user_id=user_id, is_admin=is_admin, protocol=protocol
    )
    incident = await get_incident(session, incident_id, open_only=True)
    add_event(
        session,
        incident_id,
        EventKind.VALIDATION_OVERRIDE,
        user_id,
        now,
        f"{', '.join(missing) or '—'}: {reason}",
    )
    incident.validated_at = now
    await session.flush()
    state = await validation_state(session, incident, protocol)
    await session.flush()
    return OverrideResult(missing=missing, state=state)
