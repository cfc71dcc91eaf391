"""Protocol step 5 on a real database: claiming the case, who may drive it, calling support, its hours, handing over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.config import Protocol
from bot.protocol import access, coordination, incidents, validation
from bot.protocol.lifecycle import (
    Refused,
)
from bot.support.hours import support_status_at
from models.incident import (
    GENERAL,
    IN_PROGRESS,
    VALIDATING,
)
from models.vocab import TimerKind
from tests.support.steps import (
    CHAT,
    T0,
    Sessions,
    at,
    call,
    claim,
    contact_support,
    events,
    general_incident,
    load,
    pending_of,
    pending_timers,
    person,
    refusal,
    report,
    start_validation,
    timer_rows,
    timers_of_kind,
)


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
    assert {(r.reason, r.named) for r in losers} == {("already_claimed", f"Persona {winner}")}

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
    assert (nobody.reason, nobody.named) == ("claim_first", None)

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
        assert (refused.reason, refused.named) == ("coordinator_or_admin", "Persona 3")
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
    assert (former.reason, former.named) == ("coordinator_or_admin", "Persona 4")
    state = await start_validation(sessions, protocol, incident_id, 900, at(7), is_admin=True)
    assert state.round == 1
    incident = await load(sessions, incident_id)
    assert (incident.coordinator_id, incident.status, incident.access_requested_at) == (
        4,
        VALIDATING,
        at(4),
    )
    assert ("handed_over", 900, "Persona 4") in await events(sessions, incident_id)


async def test_contacting_support_makes_the_caller_coordinator_and_keeps_the_reference(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    long_reference = "  Ticket 4711 " + "x" * 200
    await contact_support(sessions, protocol, incident_id, 5, long_reference, at(3))
    incident = await load(sessions, incident_id)
    assert incident.status == IN_PROGRESS
    assert incident.coordinator_id == 5
    assert incident.support_contacted_at == at(3) and incident.support_contacted_by == 5
    # The number is the claim; the words around it are kept as a note.
    assert incident.support_ref == "4711"
    assert incident.support_note == long_reference.strip()

    # Later the ticket number arrives: only the reference changes.
    await contact_support(sessions, protocol, incident_id, 5, " TK-99 ", at(8))
    again = await load(sessions, incident_id)
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
    assert (other.reason, other.named) == ("coordinator_or_admin", "Persona 5")

    recorded = [
        e
        for e in await events(sessions, incident_id)
        if e[0] in ("claimed", "support_contacted", "in_progress", "support_reference")
    ]
    assert recorded == [
        ("claimed", 5, None),
        ("support_contacted", 5, "4711"),
        ("in_progress", 5, None),
        ("support_reference", 5, "TK-99"),
    ]
    incident = await load(sessions, incident_id)
    assert (incident.support_ref, incident.status) == ("TK-99", IN_PROGRESS)
    # Each step pushed the "¿Novedades?" reminder a full interval away: one pending, from the last.
    reminder = protocol.deadlines.coordinator_reminder_minutes
    assert [(t.kind, t.due_at) for t in await pending_timers(sessions, incident_id)] == [
        (TimerKind.NUDGE, at(9 + reminder))
    ]


async def test_contact_support_reports_whether_it_was_the_first_call(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    first = await contact_support(sessions, protocol, incident_id, 3, None, at(1))
    assert isinstance(first, coordination.ContactResult)
    assert first.first is True
    assert (first.incident_id, first.contacted_at, first.reference) == (incident_id, at(1), None)
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.support_ref) == (IN_PROGRESS, None)
    assert incident.support_contacted_at == at(1)

    later = await contact_support(sessions, protocol, incident_id, 3, " TK-9 ", at(4))
    assert later.first is False
    assert (later.reference, later.contacted_at) == ("TK-9", at(1))
    incident = await load(sessions, incident_id)
    assert incident.support_ref == "TK-9"
    assert (incident.support_contacted_at, incident.support_contacted_by) == (at(1), 3)

    bare = await contact_support(sessions, protocol, incident_id, 3, None, at(5))
    assert bare.first is False and bare.reference == "TK-9"

    kinds = [e[0] for e in await events(sessions, incident_id)]
    assert kinds.count("support_contacted") == 1
    assert ("support_reference", 3, "TK-9") in await events(sessions, incident_id)


async def test_contacting_support_while_confirming_cancels_the_confirmation_timer(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = (await report(sessions, protocol, 1)).incident_id
    assert await pending_of(sessions, incident_id) == [(TimerKind.CONFIRMATION, at(5))]

    contacted = await contact_support(sessions, protocol, incident_id, 1, None, at(2))
    assert contacted.first is True
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.coordinator_id) == (IN_PROGRESS, 1)
    assert [
        row[0] for row in await timers_of_kind(sessions, incident_id, TimerKind.CONFIRMATION)
    ] == ["cancelled"]
    assert await pending_of(sessions, incident_id) == [(TimerKind.NUDGE, at(22))]
    # The deadline, had it fired anyway, changes nothing.
    assert (
        await call(
            sessions,
            incidents.confirmation_deadline,
            incident_id=incident_id,
            now=at(5),
            protocol=protocol,
        )
        is None
    )
    assert (await load(sessions, incident_id)).status == IN_PROGRESS


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
    pending = await pending_timers(sessions, incident_id)
    # Nobody took it yet: the escalation is set (tests/integration/test_escalation.py).
    assert [t.kind for t in pending].count(TimerKind.ESCALATION) == 1
    pending = [t for t in pending if t.kind != TimerKind.ESCALATION]
    # Nobody can act while support is closed: "¿Novedades?" waits until it has been open a while.
    assert sorted((t.kind, t.due_at) for t in pending) == sorted(
        [(TimerKind.NUDGE, opening + reminder), (TimerKind.SUPPORT_OPENS, opening)]
    )

    # Someone calls at the opening: no more waiting for it.
    await contact_support(sessions, protocol, incident_id, 7, None, opening)
    assert [(t.kind, t.due_at) for t in await pending_timers(sessions, incident_id)] == [
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
    kinds = {t.kind for t in await pending_timers(sessions, incident_id)}
    assert kinds == {TimerKind.NUDGE, TimerKind.ESCALATION}  # nobody took it yet


@pytest.mark.parametrize(
    ("when", "nudge_due"),
    [
        # Monday 23 Nov 2026 (a holiday) 22:00 local: closed until Tuesday 08:00 local.
        (datetime(2026, 11, 24, 1, 0, tzinfo=UTC), datetime(2026, 11, 24, 11, 20, tzinfo=UTC)),
        # Tuesday 07:50 local, ten minutes before opening: still opening + 20 min.
        (datetime(2026, 11, 24, 10, 50, tzinfo=UTC), datetime(2026, 11, 24, 11, 20, tzinfo=UTC)),
        # Tuesday 08:42 local: open, so 20 minutes from now.
        (T0, at(20)),
    ],
)
async def test_nudge_waits_for_support_to_open(
    sessions: Sessions, protocol: Protocol, when: datetime, nudge_due: datetime
) -> None:
    assert protocol.deadlines.coordinator_reminder_minutes == 20
    incident_id = await general_incident(sessions, protocol, when=when)
    nudges = await timers_of_kind(sessions, incident_id, TimerKind.NUDGE)
    assert [(status, due) for status, due, _ in nudges] == [("pending", nudge_due)]

    # A claim while still closed keeps the reminder at the opening, not 20 minutes later.
    await claim(sessions, protocol, incident_id, 3, when + timedelta(minutes=5))
    pending_nudges = [
        due for kind, due in await pending_of(sessions, incident_id) if kind == TimerKind.NUDGE
    ]
    expected = max(nudge_due, when + timedelta(minutes=25))
    assert pending_nudges == [expected]


async def test_claim_while_closed_schedules_the_opening_reminder_once(
    sessions: Sessions, protocol: Protocol
) -> None:
    open_instant = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # Tuesday 17:00 local: open
    closed_instant = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Tuesday 23:00 local: closed
    opening = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # Wednesday 08:00 local

    incident_id = await general_incident(sessions, protocol, when=open_instant)
    assert await timers_of_kind(sessions, incident_id, TimerKind.SUPPORT_OPENS) == []

    result = await claim(sessions, protocol, incident_id, 3, closed_instant)
    assert (result.coordinator_id, result.already_yours) == (3, False)
    assert await timers_of_kind(sessions, incident_id, TimerKind.SUPPORT_OPENS) == [
        ("pending", opening, {})
    ]

    again = await claim(sessions, protocol, incident_id, 3, at(5, closed_instant))
    assert again.already_yours
    taken = await refusal(
        sessions,
        coordination.claim,
        incident_id=incident_id,
        person=person(4),
        chat_id=CHAT,
        chat_sector=None,
        now=at(6, closed_instant),
        protocol=protocol,
    )
    assert (taken.reason, taken.named) == ("already_claimed", "Persona 3")
    assert (
        await call(
            sessions,
            coordination.hand_over,
            incident_id=incident_id,
            user_id=3,
            is_admin=False,
            to_user_id=1,
            chat_id=CHAT,
            now=at(7, closed_instant),
            protocol=protocol,
        )
        == "Persona 1"
    )
    assert await timers_of_kind(sessions, incident_id, TimerKind.SUPPORT_OPENS) == [
        ("pending", opening, {})
    ]

    # Support is reached (a guardia number, say): no reminder at the opening any more.
    contacted = await contact_support(
        sessions, protocol, incident_id, 1, None, at(10, closed_instant)
    )
    assert contacted.first and (await load(sessions, incident_id)).status == IN_PROGRESS
    assert [k for k, _ in await pending_of(sessions, incident_id)] == [TimerKind.NUDGE]
    assert [
        row[0] for row in await timers_of_kind(sessions, incident_id, TimerKind.SUPPORT_OPENS)
    ] == ["cancelled"]


async def test_contacting_support_at_night_without_a_claim_leaves_no_opening_reminder(
    sessions: Sessions, protocol: Protocol
) -> None:
    open_instant = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    closed_instant = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    incident_id = await general_incident(sessions, protocol, when=open_instant)

    # Calling support with nobody coordinating claims the case first; the call settles it.
    contacted = await contact_support(sessions, protocol, incident_id, 3, "G-1", closed_instant)
    assert contacted.first
    assert (await load(sessions, incident_id)).coordinator_id == 3
    assert TimerKind.SUPPORT_OPENS not in [k for k, _ in await pending_of(sessions, incident_id)]


async def test_handover_candidates_and_the_new_coordinators_chat(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = (await report(sessions, protocol, 1, sector="Caja")).incident_id
    assert (await report(sessions, protocol, 2, sector="Administración", when=at(1))).became_general
    await report(sessions, protocol, 4, sector="Caja", when=at(2))
    await claim(sessions, protocol, incident_id, 3, at(3))

    async def candidates(user_id: int, is_admin: bool = False) -> list[tuple[int, str]]:
        return await call(
            sessions,
            coordination.handover_candidates,
            incident_id=incident_id,
            user_id=user_id,
            is_admin=is_admin,
        )

    refused = await refusal(
        sessions,
        coordination.handover_candidates,
        incident_id=incident_id,
        user_id=4,
        is_admin=False,
    )
    assert (refused.reason, refused.named) == ("coordinator_or_admin", "Persona 3")

    expected = [(4, "Persona 4"), (2, "Persona 2"), (1, "Persona 1")]  # most recent first
    assert await candidates(3) == expected
    assert await candidates(900, is_admin=True) == expected

    assert (
        await call(
            sessions,
            coordination.hand_over,
            incident_id=incident_id,
            user_id=3,
            is_admin=False,
            to_user_id=4,
            chat_id=-555,
            now=at(4),
            protocol=protocol,
        )
        == "Persona 4"
    )
    contact = await call(sessions, coordination.coordinator_contact, incident_id=incident_id)
    assert contact is not None
    assert (contact.user_id, contact.name, contact.fallback_chat_id) == (4, "Persona 4", -555)
    assert (await load(sessions, incident_id)).coordinator_chat_id == -555

    assert [uid for uid, _ in await candidates(4)] == [3, 2, 1]
    former = await refusal(
        sessions,
        coordination.handover_candidates,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
    )
    assert (former.reason, former.named) == ("coordinator_or_admin", "Persona 4")


async def test_hand_over_from_a_private_chat_keeps_the_group(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    await claim(sessions, protocol, incident_id, 3, at(1))  # claimed in chat CHAT - 3
    await report(sessions, protocol, 4)
    await call(
        sessions,
        coordination.hand_over,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        to_user_id=4,
        chat_id=None,  # pressed in the old coordinator's private chat
        now=at(2),
        protocol=protocol,
    )
    contact = await call(sessions, coordination.coordinator_contact, incident_id=incident_id)
    assert (contact.user_id, contact.fallback_chat_id) == (4, CHAT - 3)


@pytest.mark.parametrize(
    ("written", "reference"),
    [
        ("R-45871", "R-45871"),
        ("45871", "45871"),
        ("Nro. 45871, me dijeron que en 1 hora", "45871"),
        ("#45871", "45871"),
        ("TK-9", "TK-9"),
        ("ticket 2026/0012", "2026/0012"),
        ("no me dieron número", None),
        ("llaman en 15 minutos", None),
        ("es el 2do intento", None),
        ("", None),
    ],
)
def test_the_claim_number_is_taken_from_what_was_written(
    written: str, reference: str | None
) -> None:
    assert coordination.parse_reference(written) == reference


async def test_a_reply_without_a_number_is_a_note_and_the_claim_stays_empty(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    result = await contact_support(
        sessions, protocol, incident_id, 3, "no me dieron número, llaman ellos", at(1)
    )
    assert (result.reference, result.note) == (None, "no me dieron número, llaman ellos")
    incident = await load(sessions, incident_id)
    assert incident.support_ref is None
    assert incident.support_note == "no me dieron número, llaman ellos"
    assert ("support_note", 3, "no me dieron número, llaman ellos") in await events(
        sessions, incident_id
    )


async def test_a_message_left_while_support_is_closed_is_not_a_call(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    await call(
        sessions,
        coordination.claim,
        incident_id=incident_id,
        person=person(3),
        chat_id=CHAT,
        chat_sector=None,
        now=at(1),
        protocol=protocol,
    )
    left = await call(
        sessions,
        coordination.leave_message,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(2),
        protocol=protocol,
    )
    again = await call(
        sessions,
        coordination.leave_message,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(3),
        protocol=protocol,
    )
    assert (left, again) == (True, False)
    incident = await load(sessions, incident_id)
    # Noted, but support has not answered: no contact time, still a general failure.
    assert incident.support_message_left_at == at(2)
    assert (incident.support_contacted_at, incident.status) == (None, GENERAL)
    opening = await call(sessions, coordination.support_opens_due, incident_id=incident_id)
    assert opening == coordination.SupportOpening(incident_id, coordinated=True, message_left=True)
    # The call counts when support really answers.
    await contact_support(sessions, protocol, incident_id, 3, None, at(40))
    assert (await load(sessions, incident_id)).support_contacted_at == at(40)
    # Someone who does not coordinate cannot note it.
    refused = await refusal(
        sessions,
        coordination.leave_message,
        incident_id=incident_id,
        user_id=9,
        is_admin=False,
        now=at(41),
        protocol=protocol,
    )
    assert refused.reason == "coordinator_or_admin"
