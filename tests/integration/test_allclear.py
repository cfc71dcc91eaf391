"""Protocol step 8 on a real database: the all-clear, its acknowledgements and reminders, the summary."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from bot import texts
from bot.core.config import Protocol
from bot.protocol import access, allclear, coordination, incidents, validation
from bot.protocol.lifecycle import (
    Refused,
)
from bot.storage.db import make_engine
from bot.team.members import mark_private_chat
from bot.timers import store as timers
from models.incident import (
    CLOSED,
    RESOLVED,
)
from models.vocab import TimerKind, VoteChoice
from tests.support.sessions import committing_sessions
from tests.support.steps import (
    CHAT,
    T0,
    Sessions,
    acknowledge,
    answer,
    at,
    call,
    claim,
    claim_timer,
    contact_support,
    events,
    general_incident,
    load,
    pending_timers,
    person,
    refusal,
    report,
    start_validation,
    timer_rows,
    validated_incident,
)


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
    assert (not_coordinator.reason, not_coordinator.named) == ("coordinator_or_admin", "Persona 3")
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
    assert sorted(
        (t.kind, t.due_at) for t in await pending_timers(sessions, incident_id)
    ) == sorted(
        [
            (TimerKind.ACK_REMINDER, at(33 + deadlines.ack_reminder_minutes)),
            (TimerKind.ACK_DEADLINE, at(33 + deadlines.ack_max_minutes)),
        ]
    )

    # The slot is free: a new failure is a new incident, and the resolved one is not open.
    fresh = await report(sessions, protocol, 8, sector="Caja", when=at(33.5))
    assert fresh.opened and fresh.incident_id != incident_id
    # Half a minute after the all-clear: FLEXUS failed again, a relapse of the first.
    assert fresh.relapse_of == incident_id
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
        ("failed_again", None),
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


async def all_clear_by_the_coordinator(
    sessions: Sessions, protocol: Protocol, incident_id: int, now: datetime
) -> allclear.AllClear:
    """Luis (user 3, the coordinator of `validated_incident`) sends the all-clear, no restart."""
    result: allclear.AllClear = await call(
        sessions,
        allclear.send_all_clear,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        restart_session=False,
        now=now,
        protocol=protocol,
    )
    return result


async def test_ack_timers_are_stored_fire_once_and_are_cancelled_by_the_summary(
    sessions: Sessions, protocol: Protocol, database_url: str
) -> None:
    incident_id = await validated_incident(sessions, protocol)
    await all_clear_by_the_coordinator(sessions, protocol, incident_id, at(20))

    # A restarted process (a new engine on the same file) finds both timers.
    restarted = make_engine(database_url)
    try:
        async with committing_sessions(restarted)() as session:
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
    assert sorted(reminded.people) == [(1, "Persona 1", "Caja"), (2, "Persona 2", "Administración")]
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
    assert await pending_timers(sessions, incident_id) == []
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


async def test_all_clear_once_and_summary_does_not_lock_the_database(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await validated_incident(sessions, protocol)

    async def send(when: datetime) -> allclear.AllClear:
        return await all_clear_by_the_coordinator(sessions, protocol, incident_id, when)

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

    # The summary's unit of work has ended: another one writes at once (nothing held a lock).
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


async def test_what_support_said_is_the_cause_in_the_summary_history_and_export(
    sessions: Sessions, protocol: Protocol
) -> None:
    from bot.reports import export
    from bot.reports.records import incident_records

    incident_id = await validated_incident(sessions, protocol)
    await all_clear_by_the_coordinator(sessions, protocol, incident_id, at(13))
    # Only the coordinator (or an admin) says what support said.
    stranger = await refusal(
        sessions,
        allclear.record_cause,
        incident_id=incident_id,
        user_id=1,
        is_admin=False,
        text="se llenó el disco",
        now=at(14),
    )
    assert stranger.reason == "coordinator_or_admin"
    told = await call(
        sessions,
        allclear.record_cause,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        text="  Se llenó el disco\n del servidor  ",
        now=at(14),
    )
    assert (told.cause, told.first) == ("Se llenó el disco del servidor", True)
    again = await call(
        sessions,
        allclear.record_cause,
        incident_id=incident_id,
        user_id=5,
        is_admin=True,
        text="Disco lleno por los backups",
        now=at(15),
    )
    assert not again.first
    assert ("cause_told", 3, "Se llenó el disco del servidor") in await events(
        sessions, incident_id
    )
    async with sessions() as session:
        summary = await allclear.summary(session, incident_id, protocol)
        [record] = await incident_records(session)
    assert summary.cause == "Disco lleno por los backups" == record.cause
    row = export.row_of(record, now=at(20), spec=protocol.support)
    assert row["causa"] == "Disco lleno por los backups"
    short = texts.summary_short(summary, protocol.support.tz)
    assert "🔎 Según soporte: “Disco lleno por los backups”" in short
