"""What a person sees about an incident, read in one go for the status card and /estado."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol
from bot.protocol import status_updates
from bot.protocol.allclear import AckState, ack_state
from bot.protocol.incidents import (
    votes_with_sectors,
)
from bot.protocol.lifecycle import (
    get_incident,
    member_name,
)
from bot.protocol.validation import ValidationState, validation_state
from models import CheckStatus, Incident, Member, Timer
from models.incident import (
    CLOSED,
    IN_PROGRESS,
    OPEN_STATUSES,
    RESOLVED,
    VALIDATING,
)
from models.vocab import CheckHealth, TimerKind, VoteChoice


@dataclass(frozen=True)
class SectorCount:
    sector: str | None
    people: int


@dataclass(frozen=True)
class Relapse:
    """The incident this one is a relapse of: FLEXUS failed again soon after its all-clear."""

    incident_id: int
    resolved_at: datetime | None
    coordinator_id: int | None
    coordinator_name: str | None


@dataclass(frozen=True)
class CheckHints:
    """What the bot's own checks say while an incident is open."""

    flexus_down: list[tuple[str, datetime]]  # (check, down since)
    flexus_up: bool  # every FLEXUS check answers
    office_down: datetime | None  # the office's push stopped at


@dataclass(frozen=True)
class IncidentView:
    id: int
    status: str
    reporter_id: int
    reporter_name: str
    reporter_sector: str | None
    opened_at: datetime
    received_at: datetime | None  # the opening report was read late (the bot was down)
    confirm_until: datetime
    description: str
    has_photo: bool
    affected: list[SectorCount]
    works: list[SectorCount]
    local_cause: str | None
    instruction: str | None
    closed_at: datetime | None
    coordinator_id: int | None = None
    coordinator_name: str | None = None
    support_contacted_at: datetime | None = None
    support_contacted_by: str | None = None
    support_ref: str | None = None
    support_message_left_at: datetime | None = None  # support was closed: a message was left
    support_note: str | None = None  # the answer to "¿te dieron número?" that held none
    access_requested_at: datetime | None = None
    access_granted_at: datetime | None = None
    access_granted_by: str | None = None
    access_tool: str | None = None
    validation: ValidationState | None = None
    acks: AckState | None = None
    restart_session: bool | None = None
    relapse: Relapse | None = None
    during_maintenance: bool = False  # reported during planned maintenance ("es otra cosa")
    last_update: status_updates.Update | None = None  # what the team was told last
    checks: CheckHints | None = None  # None: no checks configured
    drill: bool = False  # a drill (/simulacro): every message of it is marked

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def asks_for_votes(self) -> bool:
        """Until support works on it: then the card shows the step, and votes are over."""
        return self.is_open and self.status not in (IN_PROGRESS, VALIDATING)

    @property
    def affected_people(self) -> int:
        return sum(c.people for c in self.affected)

    @property
    def affected_sectors(self) -> int:
        return len([c for c in self.affected if c.sector is not None])


async def incident_view(
    session: AsyncSession, incident_id: int, protocol: Protocol
) -> IncidentView:
    incident = await get_incident(session, incident_id, open_only=False)
    reporter = await session.get(Member, incident.reporter_id)
    # The deadline as stored when the incident opened (the protocol file may change since).
    confirm_until = await session.scalar(
        select(Timer.due_at)
        .where(Timer.incident_id == incident_id, Timer.kind == TimerKind.CONFIRMATION)
        .order_by(Timer.id)
        .limit(1)
    )
    rows = await votes_with_sectors(session, incident_id)
    counts: dict[str, Counter[str | None]] = {c: Counter() for c in VoteChoice}
    for choice, sector in rows:
        counts[choice][sector] += 1
    order = {name: i for i, name in enumerate(protocol.team.sectors)}

    def by_sector(counter: Counter[str | None]) -> list[SectorCount]:
        ranked = sorted(counter.items(), key=lambda kv: order.get(kv[0] or "", len(order)))
        return [SectorCount(sector=s, people=n) for s, n in ranked]

    validation = None
    if incident.validation_round > 0 and incident.status in OPEN_STATUSES:
        validation = await validation_state(session, incident, protocol)
    acks = None
    if incident.status in (RESOLVED, CLOSED):
        acks = await ack_state(session, incident_id, protocol)
    return IncidentView(
        id=incident.id,
        drill=incident.drill,
        status=incident.status,
        reporter_id=incident.reporter_id,
        reporter_name=reporter.full_name if reporter else str(incident.reporter_id),
        reporter_sector=reporter.sector if reporter else None,
        opened_at=incident.opened_at,
        received_at=incident.received_at,
        confirm_until=confirm_until
        or incident.opened_at + timedelta(minutes=protocol.deadlines.confirmation_minutes),
        description=incident.description,
        has_photo=incident.photo_file_id is not None,
        affected=by_sector(counts[VoteChoice.FAILS]),
        works=by_sector(counts[VoteChoice.WORKS]),
        local_cause=incident.local_cause,
        instruction=incident.instruction,
        closed_at=incident.closed_at,
        coordinator_id=incident.coordinator_id,
        coordinator_name=await member_name(session, incident.coordinator_id),
        support_contacted_at=incident.support_contacted_at,
        support_contacted_by=await member_name(session, incident.support_contacted_by),
        support_ref=incident.support_ref,
        support_message_left_at=incident.support_message_left_at,
        support_note=incident.support_note,
        access_requested_at=incident.access_requested_at,
        access_granted_at=incident.access_granted_at,
        access_granted_by=await member_name(session, incident.access_granted_by),
        access_tool=incident.access_tool,
        validation=validation,
        acks=acks,
        restart_session=incident.restart_session,
        relapse=await _relapse(session, incident.relapse_of),
        during_maintenance=incident.maintenance_id is not None,
        last_update=await status_updates.latest(session, incident.id),
        checks=await check_hints(session, protocol) if incident.status in OPEN_STATUSES else None,
    )


async def check_hints(session: AsyncSession, protocol: Protocol) -> CheckHints | None:
    """The stored states of the protocol file's checks, as hints for the card."""
    if not protocol.check:
        return None
    rows = {r.name: r for r in (await session.scalars(select(CheckStatus))).all()}
    flexus = [c for c in protocol.check if c.role == "flexus"]
    down = [
        (c.name, rows[c.name].since)
        for c in flexus
        if c.name in rows and rows[c.name].state == CheckHealth.DOWN
    ]
    up = bool(flexus) and all(
        c.name in rows and rows[c.name].state == CheckHealth.UP for c in flexus
    )
    office = [
        rows[c.name].since
        for c in protocol.check
        if c.role == "office" and c.name in rows and rows[c.name].state == CheckHealth.DOWN
    ]
    return CheckHints(down, up, min(office) if office else None)


async def _relapse(session: AsyncSession, previous_id: int | None) -> Relapse | None:
    if previous_id is None:
        return None
    previous = await session.get(Incident, previous_id)
    if previous is None:
        return None
    return Relapse(
        previous.id,
        previous.closed_at,
        previous.coordinator_id,
        await member_name(session, previous.coordinator_id),
    )
