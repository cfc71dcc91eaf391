"""Protocol steps 5–8 on a real SQLite database: coordination, access, validation, all-clear."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import access, allclear, coordination, incidents, timers, validation
from bot.config import Protocol
from bot.db import make_engine, make_session_factory
from bot.lifecycle import (
    Refused,
)
from bot.people import Person, mark_private_chat
from bot.support_window import support_status_at
from bot.vocab import CheckState, TimerKind, VoteChoice
from models import Incident, Timer
from models.incident import CLOSED, GENERAL, IN_PROGRESS, RESOLVED, VALIDATING
from tests.integration.steps import (
    CHAT,
    T0,
    Sessions,
    answer,
    at,
    call,
    claim,
    events,
    general_incident,
    load,
    person,
    refusal,
    report,
    start_validation,
)

GERENCIA = {
    "gerencia": [
        {"name": "Diego Alvarado", "telegram_id": 301},
        {"name": "Backup", "telegram_id": 302, "backup": True},
    ],
    "deadlines": {"access_escalate_after": 1},
}


async def contact_support(
    sessions: Sessions,
    protocol: Protocol,
    incident_id: int,
    who: int,
    reference: str | None,
    when: datetime,
    is_admin: bool = False,
) -> Incident:
    result = await call(
        sessions,
        coordination.contact_support,
        incident_id=incident_id,
        person=person(who),
        is_admin=is_admin,
        chat_id=CHAT,
        reference=reference,
        now=when,
        protocol=protocol,
    )
    assert result.incident_id == incident_id
    return await load(sessions, incident_id)


async def acknowledge(
    sessions: Sessions, protocol: Protocol, incident_id: int, who: int, when: datetime
) -> allclear.AckResult:
    return await call(
        sessions,
        allclear.acknowledge,
        incident_id=incident_id,
        person=person(who),
        chat_sector=None,
        now=when,
        protocol=protocol,
    )


async def timer_rows(
    sessions: Sessions, incident_id: int
) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """Every timer of an incident: (kind, status, due_at, payload), in creation order."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Timer).where(Timer.incident_id == incident_id).order_by(Timer.id)
        )
        return [
            (t.kind, t.status, t.due_at, json.loads(t.payload) if t.payload else {})
            for t in rows.all()
        ]


async def pending_of(sessions: Sessions, incident_id: int) -> list[timers.DueTimer]:
    async with sessions() as session:
        return [t for t in await timers.pending(session) if t.incident_id == incident_id]


async def claim_timer(sessions: Sessions, timer_id: int, when: datetime) -> timers.DueTimer | None:
    async with sessions() as session:
        claimed = await timers.claim(session, timer_id=timer_id, now=when)
        await session.commit()
        return claimed


# --- 1. claim ----------------------------------------------------------------------------------


async def test_twenty_simultaneous_claims_have_exactly_one_winner(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)

    async def press(who: int) -> int | Refused:
        try:
            result = await claim(sessions, protocol, incident_id, who, at(1))
        except Refused as refused:
            return refused
        assert not result.already_yours and result.coordinator_id == who
        return who

    outcomes = await asyncio.gather(*(press(n) for n in range(101, 121)))
    winners = [o for o in outcomes if isinstance(o, int)]
    losers = [o for o in outcomes if isinstance(o, Refused)]
    assert len(winners) == 1 and len(losers) == 19
    (winner,) = winners
    assert {(r.reason, r.who) for r in losers} == {("already_claimed", f"Persona {winner}")}

    incident = await load(sessions, incident_id)
    assert incident.coordinator_id == winner
    assert incident.coordinator_chat_id == CHAT - winner
    assert [e for e in await events(sessions, incident_id) if e[0] == "claimed"] == [
        ("claimed", winner, None)
    ]

    again = await claim(sessions, protocol, incident_id, winner, at(2))
    assert again == coordination.ClaimResult(incident_id, winner, already_yours=True)
    assert (await load(sessions, incident_id)).coordinator_id == winner

    contact = await call(sessions, coordination.coordinator_contact, incident_id=incident_id)
    assert contact == coordination.CoordinatorContact(
        user_id=winner,
        name=f"Persona {winner}",
        private_chat=False,
        fallback_chat_id=CHAT - winner,
    )


# --- 2. permissions ----------------------------------------------------------------------------


async def test_only_the_coordinator_or_an_admin_drives_the_incident(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    await report(sessions, protocol, 4, sector="Caja")  # a known member to hand over to

    # Nobody coordinates yet: the refusal says to claim first.
    nobody = await refusal(
        sessions,
        validation.start_validation,
        incident_id=incident_id,
        user_id=4,
        is_admin=False,
        now=at(1),
        protocol=protocol,
    )
    assert (nobody.reason, nobody.who) == ("claim_first", None)

    await claim(sessions, protocol, incident_id, 3, at(2))
    hand = await refusal(
        sessions,
        coordination.hand_over,
        incident_id=incident_id,
        user_id=4,
        is_admin=False,
        to_user_id=4,
        chat_id=CHAT,
        now=at(3),
        protocol=protocol,
    )
    ask = await refusal(
        sessions,
        access.request_access,
        incident_id=incident_id,
        user_id=4,
        is_admin=False,
        now=at(3),
        protocol=protocol,
    )
    validate = await refusal(
        sessions,
        validation.start_validation,
        incident_id=incident_id,
        user_id=4,
        is_admin=False,
        now=at(3),
        protocol=protocol,
    )
    for refused in (hand, ask, validate):
        assert (refused.reason, refused.who) == ("coordinator_or_admin", "Persona 3")
    incident = await load(sessions, incident_id)
    assert (incident.coordinator_id, incident.status, incident.access_requested_at) == (
        3,
        GENERAL,
        None,
    )

    # An admin may do all of it, even hand the case to someone else.
    access_round = await call(
        sessions,
        access.request_access,
        incident_id=incident_id,
        user_id=900,
        is_admin=True,
        now=at(4),
        protocol=protocol,
    )
    assert (access_round.round, access_round.escalated) == (0, False)
    unknown = await refusal(
        sessions,
        coordination.hand_over,
        incident_id=incident_id,
        user_id=900,
        is_admin=True,
        to_user_id=777,
        chat_id=CHAT,
        now=at(5),
        protocol=protocol,
    )
    assert unknown.reason == "unknown_person"
    new_name = await call(
        sessions,
        coordination.hand_over,
        incident_id=incident_id,
        user_id=900,
        is_admin=True,
        to_user_id=4,
        chat_id=CHAT,
        now=at(5),
        protocol=protocol,
    )
    assert new_name == "Persona 4"
    # The former coordinator is now the one refused, and told who coordinates.
    former = await refusal(
        sessions,
        validation.start_validation,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(6),
        protocol=protocol,
    )
    assert (former.reason, former.who) == ("coordinator_or_admin", "Persona 4")
    state = await start_validation(sessions, protocol, incident_id, 900, at(7), is_admin=True)
    assert state.round == 1
    incident = await load(sessions, incident_id)
    assert (incident.coordinator_id, incident.status, incident.access_requested_at) == (
        4,
        VALIDATING,
        at(4),
    )
    assert ("handed_over", 900, "Persona 4") in await events(sessions, incident_id)


# --- 3. contacting support ---------------------------------------------------------------------


async def test_contacting_support_makes_the_caller_coordinator_and_keeps_the_reference(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    long_reference = "  Ticket 4711 " + "x" * 200
    incident = await contact_support(sessions, protocol, incident_id, 5, long_reference, at(3))
    expected_ref = long_reference.strip()[:120]
    assert len(expected_ref) == 120 and expected_ref.startswith("Ticket 4711 x")
    assert incident.status == IN_PROGRESS
    assert incident.coordinator_id == 5
    assert incident.support_contacted_at == at(3) and incident.support_contacted_by == 5
    assert incident.support_ref == expected_ref

    # Later the ticket number arrives: only the reference changes.
    again = await contact_support(sessions, protocol, incident_id, 5, " TK-99 ", at(8))
    assert again.support_ref == "TK-99"
    assert again.support_contacted_at == at(3) and again.status == IN_PROGRESS
    # Nothing to add: nothing recorded.
    await contact_support(sessions, protocol, incident_id, 5, "   ", at(9))
    # Someone else cannot, now that 5 coordinates.
    other = await refusal(
        sessions,
        coordination.contact_support,
        incident_id=incident_id,
        person=person(6),
        is_admin=False,
        chat_id=CHAT,
        reference="TK-100",
        now=at(10),
        protocol=protocol,
    )
    assert (other.reason, other.who) == ("coordinator_or_admin", "Persona 5")

    recorded = [
        e
        for e in await events(sessions, incident_id)
        if e[0] in ("claimed", "support_contacted", "in_progress", "support_reference")
    ]
    assert recorded == [
        ("claimed", 5, None),
        ("support_contacted", 5, expected_ref),
        ("in_progress", 5, None),
        ("support_reference", 5, "TK-99"),
    ]
    incident = await load(sessions, incident_id)
    assert (incident.support_ref, incident.status) == ("TK-99", IN_PROGRESS)
    # Each step pushed the "¿Novedades?" reminder a full interval away: one pending, from the last.
    reminder = protocol.deadlines.coordinator_reminder_minutes
    assert [(t.kind, t.due_at) for t in await pending_of(sessions, incident_id)] == [
        (TimerKind.NUDGE, at(9 + reminder))
    ]


# --- 4. outside support hours ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closed_instant", "opening"),
    [
        # Monday 23 Nov 2026 (a national holiday) 22:00 local: closed; Tuesday opens at 08:00.
        (
            datetime(2026, 11, 24, 1, 0, tzinfo=UTC),
            datetime(2026, 11, 24, 11, 0, tzinfo=UTC),
        ),
        # The same holiday at 09:00 local: holiday windows open at 10:00.
        (
            datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
            datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
        ),
    ],
)
async def test_general_while_support_is_closed_waits_for_the_opening(
    sessions: Sessions, protocol: Protocol, closed_instant: datetime, opening: datetime
) -> None:
    status = support_status_at(closed_instant, protocol.support)
    assert not status.is_open and status.next_opening is not None
    assert status.next_opening.start == opening

    incident_id = await general_incident(sessions, protocol, when=closed_instant)
    reminder = timedelta(minutes=protocol.deadlines.coordinator_reminder_minutes)
    pending = await pending_of(sessions, incident_id)
    # Nobody can act while support is closed: "¿Novedades?" waits until it has been open a while.
    assert sorted((t.kind, t.due_at) for t in pending) == sorted(
        [(TimerKind.NUDGE, opening + reminder), (TimerKind.SUPPORT_OPENS, opening)]
    )

    # Someone calls at the opening: no more waiting for it.
    await contact_support(sessions, protocol, incident_id, 7, None, opening)
    assert [(t.kind, t.due_at) for t in await pending_of(sessions, incident_id)] == [
        (TimerKind.NUDGE, opening + reminder)
    ]
    support_timers = [
        row[1]
        for row in await timer_rows(sessions, incident_id)
        if row[0] == TimerKind.SUPPORT_OPENS
    ]
    assert support_timers == ["cancelled"]


async def test_general_while_support_is_open_does_not_wait(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    assert [t.kind for t in await pending_of(sessions, incident_id)] == [TimerKind.NUDGE]


# --- 5. server access --------------------------------------------------------------------------


async def test_access_request_repeats_escalates_and_stops_when_granted(
    sessions: Sessions,
) -> None:
    protocol = Protocol.model_validate(GERENCIA)
    repeat = timedelta(minutes=protocol.deadlines.access_repeat_minutes)
    incident_id = await general_incident(sessions, protocol)
    await claim(sessions, protocol, incident_id, 3, at(1))

    async def access_timers() -> list[timers.DueTimer]:
        return [
            t for t in await pending_of(sessions, incident_id) if t.kind == TimerKind.ACCESS_REPEAT
        ]

    async def due(round_number: int, when: datetime) -> access.AccessRound | None:
        return await call(
            sessions,
            access.access_repeat_due,
            incident_id=incident_id,
            round_number=round_number,
            now=when,
            protocol=protocol,
        )

    first = await call(
        sessions,
        access.request_access,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(2),
        protocol=protocol,
    )
    assert (first.round, [c.name for c in first.contacts], first.escalated, first.gave_up) == (
        0,
        ["Diego Alvarado"],
        False,
        False,
    )
    (timer,) = await access_timers()
    assert (timer.due_at, timer.payload) == (at(2) + repeat, {"round": 1})

    # Round 1: nobody answered yet, ask the main contact again.
    assert await claim_timer(sessions, timer.id, timer.due_at) is not None
    round_one = await due(1, timer.due_at)
    assert round_one is not None
    assert [c.name for c in round_one.contacts] == ["Diego Alvarado"]
    assert (round_one.round, round_one.escalated, round_one.gave_up) == (1, False, False)
    (timer,) = await access_timers()
    assert (timer.due_at, timer.payload) == (at(2) + 2 * repeat, {"round": 2})

    # Round 2 (> escalate_after = 1): the backup too, and it is the last repeat.
    assert await claim_timer(sessions, timer.id, timer.due_at) is not None
    round_two = await due(2, timer.due_at)
    assert round_two is not None
    assert [(c.name, c.backup) for c in round_two.contacts] == [
        ("Diego Alvarado", False),
        ("Backup", True),
    ]
    assert (round_two.round, round_two.escalated, round_two.gave_up) == (2, True, False)
    (timer,) = await access_timers()
    assert (timer.due_at, timer.payload) == (at(2) + 3 * repeat, {"round": 3})

    # Round 3: still unanswered after every repeat: nobody is asked again, nothing more is due.
    assert await claim_timer(sessions, timer.id, timer.due_at) is not None
    round_three = await due(3, timer.due_at)
    assert round_three is not None
    assert (round_three.contacts, round_three.gave_up) == ([], True)
    assert await access_timers() == []

    # The coordinator asks again: the repeats start over.
    await call(
        sessions,
        access.request_access,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(30),
        protocol=protocol,
    )
    assert [t.payload for t in await access_timers()] == [{"round": 1}]

    outsider = await refusal(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(3),
        is_admin=False,
        tool="AnyDesk",
        now=at(31),
        protocol=protocol,
    )
    assert (outsider.reason, outsider.who) == ("gerencia_only", "Diego Alvarado, Backup")

    granted_by = await call(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=Person(user_id=301, full_name="Diego Alvarado"),
        is_admin=False,
        tool="AnyDesk",
        now=at(32),
        protocol=protocol,
    )
    assert granted_by == "Diego Alvarado"
    assert await access_timers() == []
    access_states = [
        status
        for kind, status, _, _ in await timer_rows(sessions, incident_id)
        if kind == TimerKind.ACCESS_REPEAT
    ]
    assert access_states == ["fired", "fired", "fired", "cancelled"]
    incident = await load(sessions, incident_id)
    assert (incident.access_granted_at, incident.access_granted_by, incident.access_tool) == (
        at(32),
        301,
        "AnyDesk",
    )

    twice = await refusal(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=Person(user_id=302, full_name="Backup"),
        is_admin=False,
        tool="TeamViewer",
        now=at(33),
        protocol=protocol,
    )
    assert twice.reason == "access_already_granted"
    asked_again = await refusal(
        sessions,
        access.request_access,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(34),
        protocol=protocol,
    )
    assert asked_again.reason == "access_already_granted"
    # A repeat that was already on its way finds access granted: nothing to send.
    assert await due(1, at(35)) is None

    kinds = [e[0] for e in await events(sessions, incident_id) if e[0].startswith("access")]
    assert kinds == [
        "access_requested",
        "access_reminder",
        "access_reminder",
        "access_unanswered",
        "access_requested_again",
        "access_granted",
    ]


async def test_an_admin_may_grant_access(sessions: Sessions) -> None:
    protocol = Protocol.model_validate(GERENCIA)
    incident_id = await general_incident(sessions, protocol)
    granted_by = await call(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(900),
        is_admin=True,
        tool="TeamViewer",
        now=at(1),
        protocol=protocol,
    )
    assert granted_by == "Persona 900"
    incident = await load(sessions, incident_id)
    assert (incident.access_granted_by, incident.access_tool) == (900, "TeamViewer")


# --- 6. validation -----------------------------------------------------------------------------


async def test_validation_rounds_until_every_sector_confirms(
    sessions: Sessions, protocol: Protocol
) -> None:
    # Administración reports first: the required order is still the protocol's sector order.
    opened = await report(sessions, protocol, 2, sector="Administración")
    await report(sessions, protocol, 1, sector="Caja")
    incident_id = opened.incident_id
    async with sessions() as session:
        assert await validation.required_sectors(session, protocol) == ["Caja", "Administración"]

    await contact_support(sessions, protocol, incident_id, 3, "TK-1", at(2))
    state = await start_validation(sessions, protocol, incident_id, 3, at(10))
    assert state.round == 1 and not state.validated
    assert [(c.sector, c.state, c.by) for c in state.checks] == [
        ("Caja", CheckState.PENDING, None),
        ("Administración", CheckState.PENDING, None),
    ]
    assert state.missing == ["Caja", "Administración"]
    assert (await load(sessions, incident_id)).status == VALIDATING

    caja = await answer(sessions, protocol, incident_id, 1, 1, True, at(11))
    assert (caja.sector, caja.works, caja.complete) == ("Caja", True, False)
    admin = await answer(sessions, protocol, incident_id, 1, 2, False, at(12))
    assert (admin.sector, admin.works, admin.complete) == ("Administración", False, False)
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.validated_at) == (IN_PROGRESS, None)

    # The round is over: a late answer is refused, and so is going on without the sectors.
    late = await refusal(
        sessions,
        validation.answer_validation,
        incident_id=incident_id,
        round_number=1,
        person=person(1),
        chat_sector=None,
        works=True,
        now=at(13),
        protocol=protocol,
    )
    assert late.reason == "validation_closed"
    no_override = await refusal(
        sessions,
        validation.sectors_to_override,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        protocol=protocol,
    )
    assert no_override.reason == "validation_closed"

    # Support fixes it again; a new round starts from scratch.
    state = await start_validation(sessions, protocol, incident_id, 3, at(20))
    assert state.round == 2
    assert [c.state for c in state.checks] == [CheckState.PENDING, CheckState.PENDING]
    stale = await refusal(
        sessions,
        validation.answer_validation,
        incident_id=incident_id,
        round_number=1,
        person=person(1),
        chat_sector=None,
        works=True,
        now=at(21),
        protocol=protocol,
    )
    assert stale.reason == "validation_closed"
    no_sector = await refusal(
        sessions,
        validation.answer_validation,
        incident_id=incident_id,
        round_number=2,
        person=person(9),
        chat_sector=None,
        works=True,
        now=at(21),
        protocol=protocol,
    )
    assert no_sector.reason == "no_sector"

    first = await answer(sessions, protocol, incident_id, 2, 2, True, at(22))
    assert (first.sector, first.complete) == ("Administración", False)
    second = await answer(sessions, protocol, incident_id, 2, 1, True, at(23))
    assert (second.sector, second.complete) == ("Caja", True)
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.validated_at, incident.validation_round) == (
        VALIDATING,
        at(23),
        2,
    )
    async with sessions() as session:
        state = await validation.validation_state(session, incident, protocol)
    assert state.validated and state.missing == []
    assert [(c.sector, c.state, c.by) for c in state.checks] == [
        ("Caja", CheckState.WORKS, "Persona 1"),
        ("Administración", CheckState.WORKS, "Persona 2"),
    ]
    kinds = [
        (kind, detail)
        for kind, _, detail in await events(sessions, incident_id)
        if kind.startswith("validat")
    ]
    assert kinds == [
        ("validation_started", "1"),
        ("validation_ok", "Caja"),
        ("validation_failed", "Administración"),
        ("validation_started", "2"),
        ("validation_ok", "Administración"),
        ("validation_ok", "Caja"),
        ("validated", None),
    ]

    # Checking again (say, support touched something more) starts over: not validated any more.
    state = await start_validation(sessions, protocol, incident_id, 3, at(30))
    assert (state.round, state.validated) == (3, False)
    assert (await load(sessions, incident_id)).validated_at is None
    again = await refusal(
        sessions,
        allclear.prepare_all_clear,
        protocol=protocol,
        user_id=3,
        is_admin=False,
        instruction=None,
    )
    # The round under way is named, with the sectors still missing.
    assert again.reason == "validation_running"
    assert again.who and "Caja" in again.who


async def test_configured_required_sectors_win_over_membership(sessions: Sessions) -> None:
    protocol = Protocol.model_validate({"validation": {"required_sectors": ["Gerencia", "Caja"]}})
    await general_incident(sessions, protocol)  # members in Caja and Administración
    async with sessions() as session:
        assert await validation.required_sectors(session, protocol) == ["Gerencia", "Caja"]


async def test_coordinator_may_go_on_without_a_silent_sector(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    await claim(sessions, protocol, incident_id, 3, at(1))
    await start_validation(sessions, protocol, incident_id, 3, at(10))
    await answer(sessions, protocol, incident_id, 1, 1, True, at(11))

    someone = await refusal(
        sessions,
        validation.override_missing,
        incident_id=incident_id,
        user_id=1,
        is_admin=False,
        reason="apuro",
        now=at(12),
        protocol=protocol,
    )
    assert (someone.reason, someone.who) == ("coordinator_or_admin", "Persona 3")
    missing = await call(
        sessions,
        validation.sectors_to_override,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        protocol=protocol,
    )
    assert missing == ["Administración"]

    reason = "Administración no atiende, confirmó Caja"
    overridden = await call(
        sessions,
        validation.override_missing,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        reason=reason,
        now=at(15),
        protocol=protocol,
    )
    assert overridden.missing == ["Administración"]
    assert overridden.state.validated
    assert [(c.sector, c.state) for c in overridden.state.checks] == [
        ("Caja", CheckState.WORKS),
        ("Administración", CheckState.PENDING),
    ]
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.validated_at) == (VALIDATING, at(15))
    overrides = [e for e in await events(sessions, incident_id) if e[0] == "validation_override"]
    assert overrides == [("validation_override", 3, f"Administración: {reason}")]
    assert reason in (overrides[0][2] or "")

    # Validated already: nothing left to override.
    again = await refusal(
        sessions,
        validation.sectors_to_override,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        protocol=protocol,
    )
    assert again.reason == "validation_closed"


# --- 7. all-clear, acknowledgements, summary ---------------------------------------------------


async def test_all_clear_acknowledgements_and_summary(
    sessions: Sessions, protocol: Protocol
) -> None:
    async def prepare(who: int, is_admin: bool = False) -> int:
        return await call(
            sessions,
            allclear.prepare_all_clear,
            protocol=protocol,
            user_id=who,
            is_admin=is_admin,
            instruction="  Cierren FLEXUS y vuelvan a entrar  ",
        )

    none_open = await refusal(
        sessions,
        allclear.prepare_all_clear,
        protocol=protocol,
        user_id=3,
        is_admin=False,
        instruction=None,
    )
    assert none_open.reason == "no_open_incident"

    opened = await report(sessions, protocol, 1, sector="Caja")
    incident_id = opened.incident_id
    became = await call(
        sessions,
        incidents.cast_vote,
        incident_id=incident_id,
        person=person(2),
        chat_sector="Administración",
        choice=VoteChoice.FAILS,
        now=at(1),
        protocol=protocol,
    )
    assert became.became_general
    await claim(sessions, protocol, incident_id, 3, at(2))
    await contact_support(sessions, protocol, incident_id, 3, "TK-77", at(3))
    await call(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(5),
        is_admin=True,
        tool="AnyDesk",
        now=at(4),
        protocol=protocol,
    )

    too_early = await refusal(
        sessions,
        allclear.prepare_all_clear,
        protocol=protocol,
        user_id=3,
        is_admin=False,
        instruction=None,
    )
    assert too_early.reason == "not_validated"

    await start_validation(sessions, protocol, incident_id, 3, at(30))
    await answer(sessions, protocol, incident_id, 1, 1, True, at(31))
    still_early = await refusal(
        sessions,
        allclear.send_all_clear,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        restart_session=True,
        now=at(31),
        protocol=protocol,
    )
    assert still_early.reason == "not_validated"
    assert (await answer(sessions, protocol, incident_id, 1, 2, True, at(32))).complete

    not_coordinator = await refusal(
        sessions,
        allclear.prepare_all_clear,
        protocol=protocol,
        user_id=1,
        is_admin=False,
        instruction=None,
    )
    assert (not_coordinator.reason, not_coordinator.who) == ("coordinator_or_admin", "Persona 3")
    assert await prepare(3) == incident_id
    assert (await load(sessions, incident_id)).instruction == "Cierren FLEXUS y vuelvan a entrar"

    sent = await call(
        sessions,
        allclear.send_all_clear,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        restart_session=True,
        now=at(33),
        protocol=protocol,
    )
    assert sent == allclear.AllClear(
        incident_id=incident_id,
        opened_at=T0,
        closed_at=at(33),
        instruction="Cierren FLEXUS y vuelvan a entrar",
        restart_session=True,
        privately=[],
    )
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.open_slot, incident.closed_at, incident.closed_by) == (
        RESOLVED,
        None,
        at(33),
        3,
    )
    assert incident.restart_session is True
    deadlines = protocol.deadlines
    assert sorted((t.kind, t.due_at) for t in await pending_of(sessions, incident_id)) == sorted(
        [
            (TimerKind.ACK_REMINDER, at(33 + deadlines.ack_reminder_minutes)),
            (TimerKind.ACK_DEADLINE, at(33 + deadlines.ack_max_minutes)),
        ]
    )

    # The slot is free: a new failure is a new incident, and the resolved one is not open.
    fresh = await report(sessions, protocol, 8, sector="Caja", when=at(33.5))
    assert fresh.opened and fresh.incident_id != incident_id
    # /resuelto now means the new incident, which nobody coordinates yet.
    assert (
        await refusal(
            sessions,
            allclear.prepare_all_clear,
            protocol=protocol,
            user_id=3,
            is_admin=False,
            instruction=None,
        )
    ).reason == "claim_first"

    first = await acknowledge(sessions, protocol, incident_id, 1, at(34))
    assert (first.new, first.complete) == (True, False)
    twice = await acknowledge(sessions, protocol, incident_id, 1, at(35))
    assert (twice.new, twice.complete) == (False, False)
    coordinator_ack = await acknowledge(sessions, protocol, incident_id, 3, at(36))
    assert (coordinator_ack.new, coordinator_ack.complete) == (True, False)
    last = await acknowledge(sessions, protocol, incident_id, 2, at(37))
    assert (last.new, last.complete) == (True, True)

    summary = await call(
        sessions,
        allclear.close_with_summary,
        incident_id=incident_id,
        now=at(38),
        protocol=protocol,
    )
    assert summary is not None
    assert (
        await call(
            sessions,
            allclear.close_with_summary,
            incident_id=incident_id,
            now=at(39),
            protocol=protocol,
        )
        is None
    )
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.summary_posted_at, incident.closed_at) == (
        CLOSED,
        at(38),
        at(33),
    )

    assert summary.incident_id == incident_id
    assert summary.opened_at == T0
    assert summary.confirmed_at == at(1)
    assert summary.support_contacted_at == at(3)
    assert summary.restored_at == at(33)
    assert summary.coordinator == "Persona 3"
    assert summary.support_ref == "TK-77"
    assert (summary.access_by, summary.access_tool) == ("Persona 5", "AnyDesk")
    assert summary.affected_people == 2
    assert [(e.kind, e.actor) for e in summary.timeline] == [
        ("opened", "Persona 1"),
        ("general", None),
        ("claimed", "Persona 3"),
        ("support_contacted", "Persona 3"),
        ("access_granted", "Persona 5"),
        ("validation_started", "Persona 3"),
        ("validation_ok", "Persona 1"),
        ("validation_ok", "Persona 2"),
        ("validated", None),
        ("resolved", "Persona 3"),
        ("closed", None),
    ]
    recorded = {e[0] for e in await events(sessions, incident_id)}
    assert {"vote", "acknowledged", "in_progress"} <= recorded  # recorded, not in the timeline
    assert summary.timeline[0].at == T0 and summary.timeline[-1].at == at(38)
    assert summary.acks.missing == [] and summary.acks.complete
    assert summary.acks.sectors == [
        allclear.SectorAcks(sector="Caja", names=["Persona 1"], members=2),
        allclear.SectorAcks(sector="Administración", names=["Persona 2"], members=1),
        allclear.SectorAcks(sector=None, names=["Persona 3"], members=1),
    ]

    # Acknowledging after the summary is still counted, but never "complete" again.
    late = await acknowledge(sessions, protocol, incident_id, 8, at(45))
    assert (late.new, late.complete) == (True, False)


# --- 8. timers survive a restart ---------------------------------------------------------------


async def validated_incident(sessions: Sessions, protocol: Protocol) -> int:
    """A general incident coordinated by 3, validated by Caja (1) and Administración (2)."""
    incident_id = await general_incident(sessions, protocol)
    await contact_support(sessions, protocol, incident_id, 3, None, at(2))
    await start_validation(sessions, protocol, incident_id, 3, at(10))
    await answer(sessions, protocol, incident_id, 1, 1, True, at(11))
    assert (await answer(sessions, protocol, incident_id, 1, 2, True, at(12))).complete
    return incident_id


async def test_ack_timers_are_stored_fire_once_and_are_cancelled_by_the_summary(
    sessions: Sessions, protocol: Protocol, database_url: str
) -> None:
    incident_id = await validated_incident(sessions, protocol)
    await call(
        sessions,
        allclear.send_all_clear,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        restart_session=False,
        now=at(20),
        protocol=protocol,
    )

    # A restarted process (a new engine on the same file) finds both timers.
    restarted = make_engine(database_url)
    try:
        async with make_session_factory(restarted)() as session:
            pending = {t.kind: t for t in await timers.pending(session)}
    finally:
        await restarted.dispose()
    assert sorted(pending) == [TimerKind.ACK_DEADLINE, TimerKind.ACK_REMINDER]
    reminder, deadline = pending[TimerKind.ACK_REMINDER], pending[TimerKind.ACK_DEADLINE]
    assert reminder.due_at == at(20 + protocol.deadlines.ack_reminder_minutes)
    assert deadline.due_at == at(20 + protocol.deadlines.ack_max_minutes)

    # Nobody acknowledged yet: the reminder names both sectors' members and comes back later.
    reminded = await call(
        sessions, allclear.ack_reminder_due, incident_id=incident_id, now=at(30), protocol=protocol
    )
    assert reminded is not None and reminded.missing == ["Caja", "Administración"]
    assert sorted(reminded.people) == [(1, "Persona 1"), (2, "Persona 2")]
    assert ("ack_reminder", None, "Caja, Administración") in await events(sessions, incident_id)

    fired = await claim_timer(sessions, deadline.id, deadline.due_at)
    assert fired == timers.DueTimer(
        id=deadline.id,
        kind=TimerKind.ACK_DEADLINE,
        incident_id=incident_id,
        due_at=deadline.due_at,
        payload={},
    )
    assert await claim_timer(sessions, deadline.id, deadline.due_at) is None

    summary = await call(
        sessions,
        allclear.close_with_summary,
        incident_id=incident_id,
        now=deadline.due_at,
        protocol=protocol,
    )
    assert summary is not None and summary.acks.missing == ["Caja", "Administración"]
    assert await pending_of(sessions, incident_id) == []
    ack_timers = [
        (kind, status)
        for kind, status, _, _ in await timer_rows(sessions, incident_id)
        if kind.startswith("ack")
    ]
    assert ack_timers == [
        (TimerKind.ACK_REMINDER, "cancelled"),
        (TimerKind.ACK_DEADLINE, "fired"),
        (TimerKind.ACK_REMINDER, "cancelled"),
    ]
    # The cancelled reminder can no longer be claimed, and would find nothing to do anyway.
    assert await claim_timer(sessions, reminder.id, reminder.due_at) is None
    assert (
        await call(
            sessions,
            allclear.ack_reminder_due,
            incident_id=incident_id,
            now=reminder.due_at,
            protocol=protocol,
        )
        is None
    )


# --- summary after a hand-over -----------------------------------------------------------------


async def test_summary_names_a_coordinator_who_took_over_and_left_no_event(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    # Persona 6 is known to the bot (pressed Start privately) but has no step in this incident.
    async with sessions() as session:
        await mark_private_chat(session, person=person(6), now=at(0))
    await claim(sessions, protocol, incident_id, 3, at(1))
    await call(
        sessions,
        coordination.hand_over,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        to_user_id=6,
        chat_id=CHAT,
        now=at(2),
        protocol=protocol,
    )
    # An admin finishes the case for them.
    await contact_support(sessions, protocol, incident_id, 900, "TK-5", at(3), is_admin=True)
    await start_validation(sessions, protocol, incident_id, 900, at(10), is_admin=True)
    await call(
        sessions,
        validation.override_missing,
        incident_id=incident_id,
        user_id=900,
        is_admin=True,
        reason="prueba",
        now=at(11),
        protocol=protocol,
    )
    await call(
        sessions,
        allclear.send_all_clear,
        incident_id=incident_id,
        user_id=900,
        is_admin=True,
        restart_session=False,
        now=at(12),
        protocol=protocol,
    )
    summary = await call(
        sessions,
        allclear.close_with_summary,
        incident_id=incident_id,
        now=at(13),
        protocol=protocol,
    )
    assert summary is not None
    assert (await load(sessions, incident_id)).coordinator_id == 6
    assert summary.coordinator == "Persona 6"
