"""Follow-ups on the protocol services: expiry, support-hours timers, hand-over, access, all-clear."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from bot import access, allclear, coordination, incidents, timers, validation
from bot.config import ConfigError, Protocol, load_protocol
from bot.lifecycle import (
    Refused,
)
from bot.vocab import CHECKLIST_CAUSES, LocalCause, TimerKind, VoteChoice
from models import Timer
from models.incident import (
    CLOSED,
    DISMISSED,
    GENERAL,
    IN_PROGRESS,
    PROBABLY_LOCAL,
    RESOLVED,
    UNCONFIRMED,
    VALIDATING,
)
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


async def contact_support(
    sessions: Sessions,
    protocol: Protocol,
    incident_id: int,
    who: int,
    reference: str | None,
    when: datetime,
) -> coordination.ContactResult:
    return await call(
        sessions,
        coordination.contact_support,
        incident_id=incident_id,
        person=person(who),
        is_admin=False,
        chat_id=CHAT,
        reference=reference,
        now=when,
        protocol=protocol,
    )


async def deadline(
    sessions: Sessions, protocol: Protocol, incident_id: int, when: datetime
) -> str | None:
    """The confirmation timer fires: the runner claims it, then the deadline is decided."""
    async with sessions() as session:
        (timer,) = [
            t
            for t in await timers.pending(session)
            if t.incident_id == incident_id and t.kind == TimerKind.CONFIRMATION
        ]
        assert await timers.claim(session, timer_id=timer.id, now=when) is not None
        await session.commit()
    return await call(
        sessions,
        incidents.confirmation_deadline,
        incident_id=incident_id,
        now=when,
        protocol=protocol,
    )


async def expire(sessions: Sessions, incident_id: int, when: datetime) -> bool:
    return await call(sessions, incidents.expire_unconfirmed, incident_id=incident_id, now=when)


async def grant_access(
    sessions: Sessions, protocol: Protocol, incident_id: int, who: int, when: datetime
) -> str:
    return await call(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(who),
        is_admin=False,
        tool="AnyDesk",
        now=when,
        protocol=protocol,
    )


async def timer_rows(
    sessions: Sessions, incident_id: int, kind: str
) -> list[tuple[str, datetime, dict[str, Any]]]:
    """Every timer of one kind for an incident: (status, due_at, payload), in creation order."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Timer)
            .where(Timer.incident_id == incident_id, Timer.kind == kind)
            .order_by(Timer.id)
        )
        return [
            (t.status, t.due_at, json.loads(t.payload) if t.payload else {}) for t in rows.all()
        ]


async def pending_of(sessions: Sessions, incident_id: int) -> list[tuple[str, datetime]]:
    async with sessions() as session:
        return sorted(
            (t.kind, t.due_at)
            for t in await timers.pending(session)
            if t.incident_id == incident_id
        )


async def validated_incident(sessions: Sessions, protocol: Protocol) -> int:
    """A general incident coordinated by 3, validated by Caja (1) and Administración (2)."""
    incident_id = await general_incident(sessions, protocol)
    await contact_support(sessions, protocol, incident_id, 3, None, at(2))
    await start_validation(sessions, protocol, incident_id, 3, at(10))
    assert not (await answer(sessions, protocol, incident_id, 1, 1, True, at(11))).complete
    assert (await answer(sessions, protocol, incident_id, 1, 2, True, at(12))).complete
    return incident_id


# --- 1. unconfirmed incidents expire -----------------------------------------------------------


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
    assert [row[0] for row in await timer_rows(sessions, incident_id, TimerKind.EXPIRY)] == [
        "cancelled"
    ]
    assert [k for k, _ in await pending_of(sessions, incident_id)] == [TimerKind.NUDGE]

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
    assert [row[0] for row in await timer_rows(sessions, incident_id, TimerKind.EXPIRY)] == [
        "cancelled"
    ]
    assert await expire(sessions, incident_id, at(65)) is False
    assert (await load(sessions, incident_id)).local_cause == "works"


# --- 2. the "¿Novedades?" reminder waits for support -------------------------------------------


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
    nudges = await timer_rows(sessions, incident_id, TimerKind.NUDGE)
    assert [(status, due) for status, due, _ in nudges] == [("pending", nudge_due)]

    # A claim while still closed keeps the reminder at the opening, not 20 minutes later.
    await claim(sessions, protocol, incident_id, 3, when + timedelta(minutes=5))
    pending_nudges = [
        due for kind, due in await pending_of(sessions, incident_id) if kind == TimerKind.NUDGE
    ]
    expected = max(nudge_due, when + timedelta(minutes=25))
    assert pending_nudges == [expected]


# --- 3. claiming at night schedules the support-opening reminder -------------------------------


async def test_claim_while_closed_schedules_the_opening_reminder_once(
    sessions: Sessions, protocol: Protocol
) -> None:
    open_instant = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # Tuesday 17:00 local: open
    closed_instant = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Tuesday 23:00 local: closed
    opening = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # Wednesday 08:00 local

    incident_id = await general_incident(sessions, protocol, when=open_instant)
    assert await timer_rows(sessions, incident_id, TimerKind.SUPPORT_OPENS) == []

    result = await claim(sessions, protocol, incident_id, 3, closed_instant)
    assert (result.coordinator_id, result.already_yours) == (3, False)
    assert await timer_rows(sessions, incident_id, TimerKind.SUPPORT_OPENS) == [
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
    assert (taken.reason, taken.who) == ("already_claimed", "Persona 3")
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
    assert await timer_rows(sessions, incident_id, TimerKind.SUPPORT_OPENS) == [
        ("pending", opening, {})
    ]

    # Support is reached (a guardia number, say): no reminder at the opening any more.
    contacted = await contact_support(
        sessions, protocol, incident_id, 1, None, at(10, closed_instant)
    )
    assert contacted.first and (await load(sessions, incident_id)).status == IN_PROGRESS
    assert [k for k, _ in await pending_of(sessions, incident_id)] == [TimerKind.NUDGE]
    assert [row[0] for row in await timer_rows(sessions, incident_id, TimerKind.SUPPORT_OPENS)] == [
        "cancelled"
    ]


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


# --- 4. contact_support's result --------------------------------------------------------------


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
    assert [row[0] for row in await timer_rows(sessions, incident_id, TimerKind.CONFIRMATION)] == [
        "cancelled"
    ]
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


# --- 5. Gerencia without Telegram ids ----------------------------------------------------------


async def test_coordinator_confirms_access_when_gerencia_has_no_telegram_id(
    sessions: Sessions, protocol: Protocol
) -> None:
    assert [(c.name, c.telegram_id) for c in protocol.gerencia] == [("Diego Alvarado", 0)]
    assert not access.gerencia_identified(protocol)
    incident_id = await general_incident(sessions, protocol)
    await claim(sessions, protocol, incident_id, 3, at(1))
    await call(
        sessions,
        access.request_access,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(2),
        protocol=protocol,
    )

    other = await refusal(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(4),
        is_admin=False,
        tool="AnyDesk",
        now=at(3),
        protocol=protocol,
    )
    assert (other.reason, other.who) == ("coordinator_or_admin", "Persona 3")
    assert (await load(sessions, incident_id)).access_granted_at is None

    assert await grant_access(sessions, protocol, incident_id, 3, at(4)) == "Persona 3"
    incident = await load(sessions, incident_id)
    assert (incident.access_granted_by, incident.access_granted_at, incident.access_tool) == (
        3,
        at(4),
        "AnyDesk",
    )
    assert [row[0] for row in await timer_rows(sessions, incident_id, TimerKind.ACCESS_REPEAT)] == [
        "cancelled"
    ]
    twice = await refusal(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(3),
        is_admin=False,
        tool="AnyDesk",
        now=at(5),
        protocol=protocol,
    )
    assert twice.reason == "access_already_granted"


async def test_coordinator_is_refused_when_gerencia_has_a_telegram_id(
    sessions: Sessions,
) -> None:
    protocol = Protocol.model_validate(
        {"gerencia": [{"name": "Diego Alvarado", "telegram_id": 301}]}
    )
    incident_id = await general_incident(sessions, protocol)
    await claim(sessions, protocol, incident_id, 3, at(1))

    refused = await refusal(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(3),
        is_admin=False,
        tool="AnyDesk",
        now=at(2),
        protocol=protocol,
    )
    assert (refused.reason, refused.who) == ("gerencia_only", "Diego Alvarado")
    assert (await load(sessions, incident_id)).access_granted_at is None

    assert await grant_access(sessions, protocol, incident_id, 301, at(3)) == "Persona 301"
    assert (await load(sessions, incident_id)).access_granted_by == 301


# --- 6. hand-over ------------------------------------------------------------------------------


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
    assert (refused.reason, refused.who) == ("coordinator_or_admin", "Persona 3")

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
    assert (former.reason, former.who) == ("coordinator_or_admin", "Persona 4")


# --- 7. access repeats stop once validation starts ---------------------------------------------


async def test_validation_start_stops_the_access_repeats(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    await contact_support(sessions, protocol, incident_id, 3, None, at(1))
    access_round = await call(
        sessions,
        access.request_access,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(2),
        protocol=protocol,
    )
    assert access_round.round == 0
    repeat = protocol.deadlines.access_repeat_minutes
    assert await timer_rows(sessions, incident_id, TimerKind.ACCESS_REPEAT) == [
        ("pending", at(2 + repeat), {"round": 1})
    ]

    state = await start_validation(sessions, protocol, incident_id, 3, at(3))
    assert state.round == 1
    assert await timer_rows(sessions, incident_id, TimerKind.ACCESS_REPEAT) == [
        ("cancelled", at(2 + repeat), {"round": 1})
    ]

    due = await call(
        sessions,
        access.access_repeat_due,
        incident_id=incident_id,
        round_number=1,
        now=at(2 + repeat),
        protocol=protocol,
    )
    assert due is None
    assert "access_reminder" not in [e[0] for e in await events(sessions, incident_id)]
    assert TimerKind.ACCESS_REPEAT not in [k for k, _ in await pending_of(sessions, incident_id)]


# --- 8. validation closes once complete --------------------------------------------------------


async def test_answers_after_validation_completes_are_refused(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await validated_incident(sessions, protocol)
    validated_at = (await load(sessions, incident_id)).validated_at
    assert validated_at == at(12)

    for works in (True, False):
        refused = await refusal(
            sessions,
            validation.answer_validation,
            incident_id=incident_id,
            round_number=1,
            person=person(1),
            chat_sector=None,
            works=works,
            now=at(13),
            protocol=protocol,
        )
        assert refused.reason == "validation_closed"
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.validated_at, incident.validation_round) == (
        VALIDATING,
        at(12),
        1,
    )
    assert [e[0] for e in await events(sessions, incident_id)].count("validation_ok") == 2


# --- 9. all-clear once; the summary leaves the database free ----------------------------------


async def test_all_clear_once_and_summary_does_not_lock_the_database(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await validated_incident(sessions, protocol)

    async def send(when: datetime) -> allclear.AllClear:
        return await call(
            sessions,
            allclear.send_all_clear,
            incident_id=incident_id,
            user_id=3,
            is_admin=False,
            restart_session=False,
            now=when,
            protocol=protocol,
        )

    sent = await send(at(20))
    assert (sent.incident_id, sent.closed_at) == (incident_id, at(20))
    with pytest.raises(Refused) as again:
        await send(at(21))
    assert again.value.reason == "already_announced"
    assert (await load(sessions, incident_id)).status == RESOLVED

    for who, minute in ((1, 22), (2, 23)):
        await call(
            sessions,
            allclear.acknowledge,
            incident_id=incident_id,
            person=person(who),
            chat_sector=None,
            now=at(minute),
            protocol=protocol,
        )

    async with sessions() as session:
        summary = await allclear.close_with_summary(
            session, incident_id=incident_id, now=at(24), protocol=protocol
        )
        assert summary is not None
        assert summary.acks.complete and summary.acks.missing == []
        assert [(s.sector, s.names) for s in summary.acks.sectors] == [
            ("Caja", ["Persona 1"]),
            ("Administración", ["Persona 2"]),
        ]
        assert summary.timeline[0].kind == "opened"
        assert [(e.kind, e.at) for e in summary.timeline[-2:]] == [
            ("resolved", at(20)),
            ("closed", at(24)),
        ]
        assert summary.coordinator == "Persona 3"

        # The first session is still open: another one must be able to write at once.
        async with sessions() as other:
            fresh = await asyncio.wait_for(
                incidents.open_or_join_incident(
                    other,
                    person=person(9),
                    chat_id=CHAT,
                    chat_sector="Caja",
                    message_id=9,
                    text="otra vez",
                    photo_file_id=None,
                    now=at(25),
                    protocol=protocol,
                ),
                timeout=5,
            )
        assert fresh.opened is True and fresh.incident_id != incident_id

    assert (await load(sessions, incident_id)).status == CLOSED


# --- 10. configuration -------------------------------------------------------------------------


def test_remote_tool_names_are_limited_to_forty_characters(tmp_path: Path) -> None:
    assert Protocol.model_validate(
        {"access": {"remote_tools": ["x" * 40]}}
    ).access.remote_tools == ["x" * 40]
    with pytest.raises(ValidationError):
        Protocol.model_validate({"access": {"remote_tools": ["x" * 41]}})

    path = tmp_path / "protocol.toml"
    path.write_text(f'[access]\nremote_tools = ["{"x" * 41}"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_protocol(path)
    assert "access.remote_tools" in str(error.value)


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
