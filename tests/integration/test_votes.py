"""Protocol step 3 on a real database: the confirmation poll, and its deadline classifying the incident."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.config import Protocol
from bot.protocol import incidents
from bot.protocol.incident_view import incident_view
from bot.protocol.lifecycle import (
    Refused,
)
from bot.timers import store as timers
from models import Report
from models.incident import (
    GENERAL,
    PROBABLY_LOCAL,
    UNCONFIRMED,
)
from models.vocab import VoteChoice
from tests.support.steps import (
    T0,
    Sessions,
    report,
    status,
    vote,
)


async def test_second_reporter_joins_and_makes_it_general(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    second = await report(sessions, protocol, 2)
    again = await report(sessions, protocol, 2)
    assert not second.opened and second.incident_id == first.incident_id
    assert second.became_general and second.affected_people == 2
    assert again.already_affected and not again.became_general
    assert await status(sessions, first.incident_id) == GENERAL
    async with sessions() as session:
        # The vote deadline no longer matters; the coordinator reminder starts counting.
        assert sorted(t.kind for t in await timers.pending(session)) == ["escalation", "nudge"]
        assert await session.scalar(select(func.count()).select_from(Report)) == 3


async def test_two_sectors_make_it_general_even_with_one_person_each(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1, sector="Caja")
    result = await vote(
        sessions, protocol, 2, VoteChoice.FAILS, first.incident_id, sector="Presupuestos"
    )
    assert result.became_general


async def test_votes_are_one_per_person_and_changeable(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    assert (await vote(sessions, protocol, 2, VoteChoice.WORKS, first.incident_id)).changed
    assert not (await vote(sessions, protocol, 2, VoteChoice.WORKS, first.incident_id)).changed
    changed = await vote(sessions, protocol, 2, VoteChoice.FAILS, first.incident_id)
    assert changed.changed and changed.became_general
    async with sessions() as session:
        view = await incident_view(session, first.incident_id, protocol)
    assert [(c.sector, c.people) for c in view.affected] == [("Caja", 2)]
    assert view.works == []


async def test_a_vote_after_general_does_not_reclassify(
    sessions: Sessions, protocol: Protocol, engine: AsyncEngine
) -> None:
    first = await report(sessions, protocol, 1, sector="Caja")
    assert (
        await vote(sessions, protocol, 2, VoteChoice.FAILS, first.incident_id, "Presupuestos")
    ).became_general
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.split()[0].upper() + " " + statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        result = await vote(
            sessions, protocol, 3, VoteChoice.FAILS, first.incident_id, "Atención al cliente"
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert not result.became_general
    # No recount of the poll and no UPDATE of the incident: only the vote and its event.
    assert not [s for s in statements if s.startswith("UPDATE") and "incidents" in s]
    assert not [s for s in statements if "JOIN members" in s and "votes" in s]
    assert await status(sessions, first.incident_id) == GENERAL


async def test_deadline_probably_local_when_others_say_it_works(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    await vote(sessions, protocol, 2, VoteChoice.WORKS, first.incident_id, sector="Administración")
    async with sessions() as session:
        outcome = await incidents.confirmation_deadline(
            session, incident_id=first.incident_id, now=T0 + timedelta(minutes=5), protocol=protocol
        )
    assert outcome == PROBABLY_LOCAL
    async with sessions() as session:
        again = await incidents.confirmation_deadline(
            session, incident_id=first.incident_id, now=T0 + timedelta(minutes=6), protocol=protocol
        )
    assert again is None  # decided once


async def test_deadline_unconfirmed_when_nobody_answers_then_escalate(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    async with sessions() as session:
        outcome = await incidents.confirmation_deadline(
            session, incident_id=first.incident_id, now=T0 + timedelta(minutes=5), protocol=protocol
        )
    assert outcome == UNCONFIRMED
    async with sessions() as session:
        with pytest.raises(Refused) as refused:
            await incidents.escalate(
                session,
                incident_id=first.incident_id,
                user_id=2,
                is_admin=False,
                now=T0,
                protocol=protocol,
            )
    assert refused.value.reason == "reporter_or_admin"
    async with sessions() as session:
        assert await incidents.escalate(
            session,
            incident_id=first.incident_id,
            user_id=1,
            is_admin=False,
            now=T0,
            protocol=protocol,
        )
    assert await status(sessions, first.incident_id) == GENERAL


async def test_the_tally_counts_people_their_sectors_and_who_it_works_for(
    sessions: Sessions, protocol: Protocol
) -> None:
    """Counted by the database: a sector once however many fail in it, nobody's missing
    sector as none, a changed vote only as it is now."""
    first = await report(sessions, protocol, 1, sector="Caja")
    for who, choice, sector in (
        (2, VoteChoice.FAILS, "Caja"),
        (3, VoteChoice.FAILS, None),
        (4, VoteChoice.WORKS, "Depósito"),
        (5, VoteChoice.WORKS, "Presupuestos"),
        (5, VoteChoice.FAILS, "Presupuestos"),
        (6, VoteChoice.WORKS, None),
    ):
        await vote(sessions, protocol, who, choice, first.incident_id, sector)
    async with sessions() as session:
        tally = await incidents._tally(session, first.incident_id)
        empty = await incidents._tally(session, first.incident_id + 1)
    assert (tally.affected_people, tally.affected_sectors, tally.works_people) == (4, 2, 2)
    assert (empty.affected_people, empty.affected_sectors, empty.works_people) == (0, 0, 0)
