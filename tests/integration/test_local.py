"""Protocol step 4 on a real database: a local cause closes the incident; one nobody follows up expires."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.config import Protocol
from bot.protocol import incidents
from bot.protocol.lifecycle import (
    Refused,
)
from bot.timers import store as timers
from models import Timer
from models.incident import (
    DISMISSED,
    GENERAL,
    PROBABLY_LOCAL,
    UNCONFIRMED,
)
from models.vocab import CHECKLIST_CAUSES, LocalCause, Refusal, TimerKind, VoteChoice
from tests.support.steps import (
    T0,
    Sessions,
    at,
    call,
    deadline,
    events,
    expire,
    load,
    pending_of,
    person,
    report,
    status,
    timers_of_kind,
    vote,
)


async def test_local_cause_dismisses_and_frees_the_slot(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    async with sessions() as session:
        await incidents.dismiss_as_local(
            session,
            incident_id=first.incident_id,
            user_id=1,
            is_admin=False,
            cause="internet",
            now=T0,
        )
    assert await status(sessions, first.incident_id) == DISMISSED
    async with sessions() as session:
        assert await timers.pending(session) == []
        timer_states = (await session.scalars(select(Timer.status))).all()
    assert timer_states == ["cancelled"]
    with pytest.raises(Refused) as refused:
        await vote(sessions, protocol, 3, VoteChoice.FAILS, first.incident_id)
    assert refused.value.reason == Refusal.VOTE_CLOSED
    second = await report(sessions, protocol, 4)
    assert second.opened and second.incident_id != first.incident_id


async def test_general_incident_cannot_be_dismissed_as_local(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await report(sessions, protocol, 1)
    await report(sessions, protocol, 2)
    async with sessions() as session:
        with pytest.raises(Refused) as refused:
            await incidents.dismiss_as_local(
                session,
                incident_id=first.incident_id,
                user_id=1,
                is_admin=False,
                cause="pc",
                now=T0,
            )
    assert refused.value.reason == "already_general"


@pytest.mark.parametrize("close_minutes", [None, 15])
async def test_unconfirmed_incident_expires_and_frees_the_slot(
    sessions: Sessions, close_minutes: float | None
) -> None:
    protocol = Protocol.model_validate(
        {"deadlines": {"unconfirmed_close_minutes": close_minutes}} if close_minutes else {}
    )
    expected_minutes = close_minutes or 60
    assert protocol.deadlines.unconfirmed_close_minutes == expected_minutes

    opened = await report(sessions, protocol, 1)
    incident_id = opened.incident_id
    assert await deadline(sessions, protocol, incident_id, at(5)) == UNCONFIRMED
    assert await pending_of(sessions, incident_id) == [(TimerKind.EXPIRY, at(5 + expected_minutes))]

    # Still open: somebody else reporting now joins it.
    assert (await load(sessions, incident_id)).open_slot == 1

    assert await expire(sessions, incident_id, at(5 + expected_minutes)) is True
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.local_cause, incident.open_slot) == (
        DISMISSED,
        LocalCause.EXPIRED,
        None,
    )
    assert LocalCause.EXPIRED == "expired"
    assert (incident.closed_at, incident.closed_by) == (at(5 + expected_minutes), None)
    assert await pending_of(sessions, incident_id) == []
    assert ("expired", None, None) in await events(sessions, incident_id)

    # Once only.
    assert await expire(sessions, incident_id, at(6 + expected_minutes)) is False
    assert (await load(sessions, incident_id)).closed_at == at(5 + expected_minutes)

    # The slot is free: someone else's report opens a new incident.
    fresh = await report(sessions, protocol, 2, when=at(7 + expected_minutes))
    assert fresh.opened is True
    assert fresh.incident_id != incident_id
    assert (await load(sessions, fresh.incident_id)).status == "confirming"


async def test_probably_local_incident_expires_too(sessions: Sessions, protocol: Protocol) -> None:
    incident_id = (await report(sessions, protocol, 1)).incident_id
    await call(
        sessions,
        incidents.cast_vote,
        incident_id=incident_id,
        person=person(2),
        chat_sector="Administración",
        choice=VoteChoice.WORKS,
        now=at(1),
        protocol=protocol,
    )
    assert await deadline(sessions, protocol, incident_id, at(5)) == PROBABLY_LOCAL
    assert await pending_of(sessions, incident_id) == [(TimerKind.EXPIRY, at(65))]

    assert await expire(sessions, incident_id, at(65)) is True
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.local_cause) == (DISMISSED, LocalCause.EXPIRED)
    assert await expire(sessions, incident_id, at(66)) is False


async def test_escalating_first_cancels_the_expiry(sessions: Sessions, protocol: Protocol) -> None:
    incident_id = (await report(sessions, protocol, 1)).incident_id
    assert await deadline(sessions, protocol, incident_id, at(5)) == UNCONFIRMED
    assert await call(
        sessions,
        incidents.escalate,
        incident_id=incident_id,
        user_id=1,
        is_admin=False,
        now=at(10),
        protocol=protocol,
    )
    assert [row[0] for row in await timers_of_kind(sessions, incident_id, TimerKind.EXPIRY)] == [
        "cancelled"
    ]
    kinds = {k for k, _ in await pending_of(sessions, incident_id)}
    assert kinds == {TimerKind.NUDGE, TimerKind.ESCALATION}  # nobody took it yet

    assert await expire(sessions, incident_id, at(65)) is False
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.local_cause, incident.open_slot) == (GENERAL, None, 1)
    assert "expired" not in [e[0] for e in await events(sessions, incident_id)]


async def test_reporter_dismisses_as_works_before_expiry(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = (await report(sessions, protocol, 1)).incident_id
    assert await deadline(sessions, protocol, incident_id, at(5)) == UNCONFIRMED
    assert "works" in CHECKLIST_CAUSES
    await call(
        sessions,
        incidents.dismiss_as_local,
        incident_id=incident_id,
        user_id=1,
        is_admin=False,
        cause="works",
        now=at(8),
    )
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.local_cause, incident.closed_by, incident.open_slot) == (
        DISMISSED,
        "works",
        1,
        None,
    )
    assert await pending_of(sessions, incident_id) == []
    assert [row[0] for row in await timers_of_kind(sessions, incident_id, TimerKind.EXPIRY)] == [
        "cancelled"
    ]
    assert await expire(sessions, incident_id, at(65)) is False
    assert (await load(sessions, incident_id)).local_cause == "works"
