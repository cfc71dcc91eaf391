"""Protocol step 6 on a real database: server access through Gerencia, repeated, escalated, granted."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.core.config import ConfigError, Protocol, load_protocol
from bot.protocol import access
from bot.team.members import Person
from bot.timers import store as timers
from models.vocab import TimerKind
from tests.support.steps import (
    Sessions,
    at,
    call,
    claim,
    claim_timer,
    contact_support,
    events,
    general_incident,
    grant_access,
    load,
    pending_of,
    pending_timers,
    person,
    refusal,
    start_validation,
    timer_rows,
    timers_of_kind,
)

GERENCIA = {
    "gerencia": [
        {"name": "Diego Alvarado", "telegram_id": 301},
        {"name": "Backup", "telegram_id": 302, "backup": True},
    ],
    "deadlines": {"access_escalate_after": 1},
}


async def test_access_request_repeats_escalates_and_stops_when_granted(
    sessions: Sessions,
) -> None:
    protocol = Protocol.model_validate(GERENCIA)
    repeat = timedelta(minutes=protocol.deadlines.access_repeat_minutes)
    incident_id = await general_incident(sessions, protocol)
    await claim(sessions, protocol, incident_id, 3, at(1))

    async def access_timers() -> list[timers.DueTimer]:
        return [
            t
            for t in await pending_timers(sessions, incident_id)
            if t.kind == TimerKind.ACCESS_REPEAT
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
    assert (outsider.reason, outsider.named) == ("gerencia_only", "Diego Alvarado, Backup")

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
    assert (other.reason, other.named) == ("coordinator_or_admin", "Persona 3")
    assert (await load(sessions, incident_id)).access_granted_at is None

    assert await grant_access(sessions, protocol, incident_id, 3, at(4)) == "Persona 3"
    incident = await load(sessions, incident_id)
    assert (incident.access_granted_by, incident.access_granted_at, incident.access_tool) == (
        3,
        at(4),
        "AnyDesk",
    )
    assert [
        row[0] for row in await timers_of_kind(sessions, incident_id, TimerKind.ACCESS_REPEAT)
    ] == ["cancelled"]
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
    assert (refused.reason, refused.named) == ("gerencia_only", "Diego Alvarado")
    assert (await load(sessions, incident_id)).access_granted_at is None

    assert await grant_access(sessions, protocol, incident_id, 301, at(3)) == "Persona 301"
    assert (await load(sessions, incident_id)).access_granted_by == 301


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
    assert await timers_of_kind(sessions, incident_id, TimerKind.ACCESS_REPEAT) == [
        ("pending", at(2 + repeat), {"round": 1})
    ]

    state = await start_validation(sessions, protocol, incident_id, 3, at(3))
    assert state.round == 1
    assert await timers_of_kind(sessions, incident_id, TimerKind.ACCESS_REPEAT) == [
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
