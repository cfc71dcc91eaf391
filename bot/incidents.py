"""The incident's life in the core loop: report, vote, classify, escalate or dismiss, resolve."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot import timers
from bot.classify import Tally, classify_at_deadline, is_general
from bot.config import Protocol
from bot.people import Person, touch_member
from models import Event, Incident, IncidentMessage, Member, Report, Vote
from models.incident import (
    CONFIRMING,
    DISMISSED,
    FAILS,
    GENERAL,
    OPEN_STATUSES,
    PROBABLY_LOCAL,
    RESOLVED,
    UNCONFIRMED,
    WORKS,
)

CONFIRMATION_TIMER = "confirmation"
LOCAL_CAUSES = ("pc", "internet", "power")
ESCALATABLE = (CONFIRMING, PROBABLY_LOCAL, UNCONFIRMED)


class Refused(Exception):
    """The person may not do this now; `reason` is a key of texts.REFUSALS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


@dataclass(frozen=True)
class SectorCount:
    sector: str | None
    people: int


@dataclass(frozen=True)
class IncidentView:
    """What a person sees about an incident, read in one go for rendering."""

    id: int
    status: str
    reporter_id: int
    reporter_name: str
    reporter_sector: str | None
    opened_at: datetime
    confirm_until: datetime
    description: str
    has_photo: bool
    affected: list[SectorCount]
    works: list[SectorCount]
    local_cause: str | None
    instruction: str | None
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def affected_people(self) -> int:
        return sum(c.people for c in self.affected)

    @property
    def affected_sectors(self) -> int:
        return len([c for c in self.affected if c.sector is not None])


@dataclass(frozen=True)
class AllClear:
    incident_id: int
    opened_at: datetime
    closed_at: datetime
    instruction: str | None


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _event(
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
        _insert(session, Incident)
        .values(
            status=CONFIRMING,
            open_slot=1,
            reporter_id=person.user_id,
            origin_chat_id=chat_id,
            description=text,
            photo_file_id=photo_file_id,
            opened_at=now,
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
        _event(session, incident_id, "opened", person.user_id, now, text or None)
        confirm_at = now + timedelta(minutes=protocol.deadlines.confirmation_minutes)
        timers.schedule(
            session, kind=CONFIRMATION_TIMER, incident_id=incident_id, due_at=confirm_at, now=now
        )
    else:
        _event(session, incident_id, "joined", person.user_id, now, text or None)
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
    stmt = _insert(session, Vote).values(
        incident_id=incident_id, user_id=user_id, choice=choice, updated_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["incident_id", "user_id"],
            set_={"choice": stmt.excluded.choice, "updated_at": stmt.excluded.updated_at},
        )
    )
    return previous


async def _tally(session: AsyncSession, incident_id: int) -> Tally:
    rows = (
        await session.execute(
            select(Vote.choice, Member.sector)
            .join(Member, Member.user_id == Vote.user_id)
            .where(Vote.incident_id == incident_id)
        )
    ).all()
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
    return await _transition(
        session, incident_id, ESCALATABLE, GENERAL, now, actor=None, kind="general"
    )


async def _transition(
    session: AsyncSession,
    incident_id: int,
    allowed: tuple[str, ...],
    target: str,
    now: datetime,
    *,
    actor: int | None,
    kind: str,
    detail: str | None = None,
) -> bool:
    """Move the incident from one of `allowed` to `target` atomically; False if it was elsewhere."""
    values: dict[str, Any] = {"status": target}
    if target in (GENERAL, PROBABLY_LOCAL, UNCONFIRMED):
        values["classified_at"] = now
    if target in (RESOLVED, DISMISSED):
        values.update(open_slot=None, closed_at=now, closed_by=actor)
    result: Any = await session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    _event(session, incident_id, kind, actor, now, detail)
    if target == GENERAL:
        await timers.cancel(session, incident_id=incident_id, kinds=(CONFIRMATION_TIMER,))
    if target in (RESOLVED, DISMISSED):
        await timers.cancel(session, incident_id=incident_id)
    return True


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
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise Refused("unknown_incident")
    if incident.status not in OPEN_STATUSES:
        raise Refused("closed")
    member = await touch_member(session, person=person, now=now, chat_sector=chat_sector)
    previous = await _upsert_vote(session, incident_id, person.user_id, choice, now)
    if previous != choice:
        _event(session, incident_id, "vote", person.user_id, now, choice)
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
    moved = await _transition(
        session, incident_id, (CONFIRMING,), outcome, now, actor=None, kind=outcome
    )
    await session.commit()
    return outcome if moved else None


async def _check_owner(
    session: AsyncSession,
    incident_id: int,
    user_id: int,
    is_admin: bool,
) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise Refused("unknown_incident")
    if incident.status not in OPEN_STATUSES:
        raise Refused("closed")
    if not is_admin and incident.reporter_id != user_id:
        raise Refused("reporter_or_admin")
    return incident


async def escalate(
    session: AsyncSession, *, incident_id: int, user_id: int, is_admin: bool, now: datetime
) -> bool:
    """ "Revisé todo y sigue fallando" / "Escalar igual": treat the incident as general."""
    incident = await _check_owner(session, incident_id, user_id, is_admin)
    if incident.status == GENERAL:
        raise Refused("already_general")
    moved = await _transition(
        session, incident_id, ESCALATABLE, GENERAL, now, actor=user_id, kind="escalated"
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
    incident = await _check_owner(session, incident_id, user_id, is_admin)
    if incident.status == GENERAL:
        raise Refused("already_general")
    await session.execute(
        update(Incident).where(Incident.id == incident_id).values(local_cause=cause)
    )
    if not await _transition(
        session,
        incident_id,
        ESCALATABLE,
        DISMISSED,
        now,
        actor=user_id,
        kind="dismissed",
        detail=cause,
    ):
        raise Refused("closed")
    await session.commit()


async def resolve(
    session: AsyncSession,
    *,
    user_id: int,
    is_admin: bool,
    instruction: str | None,
    now: datetime,
) -> AllClear:
    """Declare FLEXUS operational again: closes the open incident (reporter or admin)."""
    incident_id = await open_incident_id(session)
    if incident_id is None:
        raise Refused("no_open_incident")
    incident = await _check_owner(session, incident_id, user_id, is_admin)
    incident.instruction = instruction or None
    if not await _transition(
        session,
        incident_id,
        OPEN_STATUSES,
        RESOLVED,
        now,
        actor=user_id,
        kind="resolved",
        detail=instruction or None,
    ):
        raise Refused("closed")
    await session.commit()
    return AllClear(
        incident_id=incident_id,
        opened_at=incident.opened_at,
        closed_at=now,
        instruction=incident.instruction,
    )


async def incident_view(
    session: AsyncSession, incident_id: int, protocol: Protocol
) -> IncidentView:
    incident = await session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise Refused("unknown_incident")
    reporter = await session.get(Member, incident.reporter_id)
    rows = (
        await session.execute(
            select(Vote.choice, Member.sector)
            .join(Member, Member.user_id == Vote.user_id)
            .where(Vote.incident_id == incident_id)
        )
    ).all()
    counts: dict[str, Counter[str | None]] = {FAILS: Counter(), WORKS: Counter()}
    for choice, sector in rows:
        counts[choice][sector] += 1
    order = {name: i for i, name in enumerate(protocol.team.sectors)}

    def by_sector(counter: Counter[str | None]) -> list[SectorCount]:
        ranked = sorted(counter.items(), key=lambda kv: order.get(kv[0] or "", len(order)))
        return [SectorCount(sector=s, people=n) for s, n in ranked]

    return IncidentView(
        id=incident.id,
        status=incident.status,
        reporter_id=incident.reporter_id,
        reporter_name=reporter.full_name if reporter else str(incident.reporter_id),
        reporter_sector=reporter.sector if reporter else None,
        opened_at=incident.opened_at,
        confirm_until=incident.opened_at
        + timedelta(minutes=protocol.deadlines.confirmation_minutes),
        description=incident.description,
        has_photo=incident.photo_file_id is not None,
        affected=by_sector(counts[FAILS]),
        works=by_sector(counts[WORKS]),
        local_cause=incident.local_cause,
        instruction=incident.instruction,
        closed_at=incident.closed_at,
    )


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


async def latest_incident_id(session: AsyncSession) -> int | None:
    return await session.scalar(select(func.max(Incident.id)))
