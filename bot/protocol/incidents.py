"""Protocol steps 1–4: report, vote, classify, escalate or dismiss."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol
from bot.protocol.classify import Tally, classify_at_deadline, is_general
from bot.protocol.lifecycle import (
    UNCLASSIFIED,
    Refused,
    add_event,
    get_incident,
    incident_status,
    member_name,
    open_incident,
    refuses_before_writing,
    transition,
)
from bot.storage import direct
from bot.storage.db import dialect_insert, insert_for
from bot.storage.unit_of_work import add_row
from bot.team.members import Person, note_member
from bot.timers import store as timers
from models import Incident, Member, Report, Vote
from models.incident import (
    CLOSED,
    CONFIRMING,
    DISMISSED,
    GENERAL,
    OPEN_STATUSES,
    PROBABLY_LOCAL,
    RESOLVED,
    UNCONFIRMED,
)
from models.vocab import CHECKLIST_CAUSES, EventKind, LocalCause, Refusal, TimerKind, VoteChoice

OPEN_TRIES = 5  # the open incident closing under a report, again and again: not in real life


@dataclass(frozen=True)
class ReportResult:
    incident_id: int
    opened: bool
    already_affected: bool
    became_general: bool
    needs_sector: bool
    affected_people: int
    relapse_of: int | None = None  # opened soon after that incident's all-clear


async def already_reported(session: AsyncSession, *, chat_id: int, message_id: int) -> bool:
    """Whether this /caido is already a report (a late one confirmed twice, say)."""
    found = await session.scalar(
        select(Report.id).where(Report.chat_id == chat_id, Report.message_id == message_id).limit(1)
    )
    return found is not None


@dataclass(frozen=True)
class VoteResult:
    incident_id: int
    changed: bool
    first_vote: bool
    became_general: bool
    needs_sector: bool


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
    received_at: datetime | None = None,
    maintenance_id: int | None = None,
    check_down: str | None = None,
) -> ReportResult:
    """Open the incident, or join the open one; the database decides who opened it.

    `now` is when the person wrote the report. A report read late (`received_at`, the bot was
    down) keeps that time for the incident and its timeline; the others get the usual time
    to answer from the moment the bot read it."""
    sector = await note_member(session, person=person, now=now, chat_sector=chat_sector)
    # The database decides who opens the incident: an INSERT into the one open slot. On SQLite
    # (one writer at a time: nothing closes the incident before this step commits) the open
    # incident is read first, so joining it, what nearly every report does, needs no INSERT.
    # On PostgreSQL the INSERT goes first: it waits for a close under way to commit, then
    # opens a fresh incident, where a first read would still see the closing one open. The
    # open incident may close between an insert that found the slot taken and the read that
    # then finds none: try again. Nothing was written by a try that found nothing, so nothing
    # is undone: the step keeps what it did before (a rollback here would throw that away,
    # and break the step's savepoint).
    read_first = session.get_bind().dialect.name == "sqlite"
    opened_id: int | None = None
    for _ in range(OPEN_TRIES):
        found = await open_incident(session) if read_first else None
        if found is not None:
            incident_id, status = found
            break
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
                received_at=received_at,
                validation_round=0,
                maintenance_id=maintenance_id,
            )
            .on_conflict_do_nothing(index_elements=["open_slot"])
            .returning(Incident.id)
        )
        if opened_id is not None:
            incident_id, status = opened_id, CONFIRMING
            break
        found = await open_incident(session)
        if found is not None:
            incident_id, status = found
            break
    else:
        raise RuntimeError(f"no incident to open or join after {OPEN_TRIES} tries")
    report = {
        "incident_id": incident_id,
        "user_id": person.user_id,
        "chat_id": chat_id,
        "message_id": message_id,
        "text": text,
        "photo_file_id": photo_file_id,
        "created_at": now,
    }
    add_row(session, Report, report)
    previous = await _upsert_vote(session, incident_id, person.user_id, VoteChoice.FAILS, now)
    relapse_of = None
    if opened_id is not None:
        add_event(session, incident_id, EventKind.OPENED, person.user_id, now, text or None)
        relapse_of = await _relapse_of(session, incident_id, now, protocol)
        timers.schedule(
            session,
            kind=TimerKind.CONFIRMATION,
            incident_id=incident_id,
            due_at=(received_at or now)
            + timedelta(minutes=protocol.deadlines.confirmation_minutes),
            now=received_at or now,
        )
    else:
        add_event(session, incident_id, EventKind.JOINED, person.user_id, now, text or None)
    await session.flush()
    tally = await _tally(session, incident_id)  # read once: a promotion changes no vote
    # Only an unclassified incident can become general (the UPDATE would change nothing).
    became_general = status in UNCLASSIFIED and await _promote_if_general(
        session, incident_id, now, protocol, check_down=check_down, tally=tally
    )
    await session.flush()
    return ReportResult(
        incident_id=incident_id,
        opened=opened_id is not None,
        already_affected=previous == VoteChoice.FAILS,
        became_general=became_general,
        needs_sector=sector is None,
        affected_people=tally.affected_people,
        relapse_of=relapse_of,
    )


async def _relapse_of(
    session: AsyncSession, incident_id: int, now: datetime, protocol: Protocol
) -> int | None:
    """FLEXUS failed again soon after an all-clear: the new incident is a relapse of that one
    (linked both ways in the timeline)."""
    window = timedelta(minutes=protocol.deadlines.relapse_minutes)
    if window <= timedelta(0):
        return None
    previous: Incident | None = await session.scalar(
        select(Incident)
        .where(
            Incident.id != incident_id,
            Incident.drill.is_(False),  # FLEXUS did not really fail in a drill
            Incident.status.in_((RESOLVED, CLOSED)),
            Incident.closed_at.is_not(None),
            Incident.closed_at >= now - window,
            Incident.closed_at <= now,
        )
        .order_by(Incident.closed_at.desc())
        .limit(1)
    )
    if previous is None:
        return None
    incident = await session.get(Incident, incident_id)
    assert incident is not None
    incident.relapse_of = previous.id
    add_event(session, incident_id, EventKind.RELAPSE, None, now, str(previous.id))
    add_event(session, previous.id, EventKind.FAILED_AGAIN, None, now, str(incident_id))
    return previous.id


async def _upsert_vote(
    session: AsyncSession, incident_id: int, user_id: int, choice: VoteChoice, now: datetime
) -> str | None:
    """Record a person's answer; returns what they had answered before (None if nothing)."""
    key = {"incident_id": incident_id, "user_id": user_id}
    previous = (await direct.execute(session, _PREVIOUS_VOTE, key)).scalar()
    await direct.execute(
        session,
        _vote_upsert(session.get_bind().dialect.name),
        {**key, "choice": choice, "updated_at": now},
    )
    return cast(str | None, previous)


_VOTES = cast(Table, Vote.__table__)
_MEMBERS = cast(Table, Member.__table__)
_PREVIOUS_VOTE = select(_VOTES.c.choice).where(
    _VOTES.c.incident_id == bindparam("incident_id"), _VOTES.c.user_id == bindparam("user_id")
)


@functools.cache
def _vote_upsert(dialect: str) -> Any:
    """Built once: `excluded` makes a new alias each time, costlier than the upsert itself."""
    stmt = insert_for(dialect)(Vote)
    return stmt.on_conflict_do_update(
        index_elements=["incident_id", "user_id"],
        set_={"choice": stmt.excluded.choice, "updated_at": stmt.excluded.updated_at},
    )


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
    """The counts, counted by the database: one row, not a row per voter (a burst of 200
    reports read 20 000 vote rows one by one to count them)."""
    row = (await direct.execute(session, _TALLY, {"incident_id": incident_id})).first()
    return Tally(
        affected_people=int(row.affected_people or 0),
        affected_sectors=int(row.affected_sectors or 0),
        works_people=int(row.works_people or 0),
    )


_FAILS = _VOTES.c.choice == VoteChoice.FAILS
_TALLY = (
    select(
        func.sum(case((_FAILS, 1), else_=0)).label("affected_people"),
        func.count(distinct(case((_FAILS, _MEMBERS.c.sector)))).label("affected_sectors"),
        func.sum(case((_VOTES.c.choice == VoteChoice.WORKS, 1), else_=0)).label("works_people"),
    )
    .select_from(_VOTES.join(_MEMBERS, _MEMBERS.c.user_id == _VOTES.c.user_id))
    .where(_VOTES.c.incident_id == bindparam("incident_id"))
)


async def _promote_if_general(
    session: AsyncSession,
    incident_id: int,
    now: datetime,
    protocol: Protocol,
    *,
    check_down: str | None = None,
    tally: Tally | None = None,
) -> bool:
    """Make the incident general once the thresholds are met, or at once when a FLEXUS check
    is down (`check_down`: its name; the check confirms what the person says); True if this
    call did it. `tally`: the votes as just read (else read here)."""
    confirmed = check_down is not None and protocol.checks.confirm_reports
    if tally is None:
        await session.flush()
    if not confirmed:
        if tally is None:
            tally = await _tally(session, incident_id)
        if not is_general(tally, protocol.classification):
            return False
    return await transition(
        session,
        incident_id,
        UNCLASSIFIED,
        GENERAL,
        now,
        actor=None,
        kind=EventKind.GENERAL,
        protocol=protocol,
        detail=check_down if confirmed else None,  # the check that confirmed it
    )


@refuses_before_writing
async def cast_vote(
    session: AsyncSession,
    *,
    incident_id: int,
    person: Person,
    chat_sector: str | None,
    choice: VoteChoice,
    now: datetime,
    protocol: Protocol,
) -> VoteResult:
    """Record "me falla" / "me funciona" on an open incident; the poll is closed otherwise."""
    status = await incident_status(session, incident_id)
    if status not in OPEN_STATUSES:
        raise Refused(Refusal.VOTE_CLOSED)
    sector = await note_member(session, person=person, now=now, chat_sector=chat_sector)
    previous = await _upsert_vote(session, incident_id, person.user_id, choice, now)
    if previous != choice:
        add_event(session, incident_id, EventKind.VOTE, person.user_id, now, choice)
    # Only an unclassified incident can become general: once it is, a vote changes the tally
    # and nothing else (no recount, no UPDATE that changes nothing).
    became_general = (
        choice == VoteChoice.FAILS
        and status in UNCLASSIFIED
        and await _promote_if_general(session, incident_id, now, protocol)
    )
    await session.flush()
    return VoteResult(
        incident_id=incident_id,
        changed=previous != choice,
        first_vote=previous is None,
        became_general=became_general,
        needs_sector=sector is None,
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
        kind=EventKind(outcome),
        protocol=protocol,
    )
    if moved and outcome != GENERAL:
        # Nobody may leave it hanging: unless someone follows up, it closes by itself.
        timers.schedule(
            session,
            kind=TimerKind.EXPIRY,
            incident_id=incident_id,
            due_at=now + timedelta(minutes=protocol.deadlines.unconfirmed_close_minutes),
            now=now,
        )
    await session.flush()
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
        kind=EventKind.EXPIRED,
        values={"local_cause": LocalCause.EXPIRED},
    )
    await session.flush()
    return moved


async def _check_reporter(
    session: AsyncSession, incident_id: int, user_id: int, is_admin: bool
) -> Incident:
    incident = await get_incident(session, incident_id, open_only=True)
    if not is_admin and incident.reporter_id != user_id:
        raise Refused(Refusal.REPORTER_OR_ADMIN, await member_name(session, incident.reporter_id))
    if incident.status not in UNCLASSIFIED:
        raise Refused(Refusal.ALREADY_GENERAL)
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
        kind=EventKind.ESCALATED,
        protocol=protocol,
    )
    await session.flush()
    return moved


async def dismiss_as_local(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    cause: LocalCause,
    now: datetime,
) -> int:
    """The reporter found a local cause (PC, internet, power): close the incident as local."""
    if cause not in CHECKLIST_CAUSES:
        raise Refused(Refusal.UNKNOWN_INCIDENT)
    await _check_reporter(session, incident_id, user_id, is_admin)
    if not await transition(
        session,
        incident_id,
        UNCLASSIFIED,
        DISMISSED,
        now,
        actor=user_id,
        kind=EventKind.DISMISSED,
        detail=cause,
        values={"local_cause": cause},
    ):
        raise Refused(Refusal.CLOSED)
    await session.flush()
    return incident_id
