"""Nobody left without a coordinator: a general failure nobody takes is escalated to the
contacts in order, one every `escalation_minutes`, recorded in the timeline, until someone
takes the case; outside the office's hours the escalation waits for the opening."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.config import Protocol
from bot.protocol import coordination
from tests.support.steps import (
    Sessions,
    at,
    call,
    claim,
    events,
    general_incident,
    pending_of,
)

CONTACTS = [(501, "Jefa de turno"), (502, "Sistemas")]
TZ = ZoneInfo("America/Argentina/Cordoba")


async def step(sessions: Sessions, protocol: Protocol, incident_id: int, n: int, when: datetime):  # type: ignore[no-untyped-def]
    return await call(
        sessions,
        coordination.escalation_due,
        incident_id=incident_id,
        step=n,
        contacts=CONTACTS,
        now=when,
        protocol=protocol,
    )


async def test_contacts_are_written_in_order_until_someone_takes_the_case(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    minutes = protocol.deadlines.escalation_minutes
    assert ("escalation", at(minutes)) in await pending_of(sessions, incident_id)

    first = await step(sessions, protocol, incident_id, 0, at(minutes))
    assert (first.user_id, first.name) == (501, "Jefa de turno")
    assert first.waiting == timedelta(minutes=minutes)
    assert ("escalation", at(2 * minutes)) in await pending_of(sessions, incident_id)
    second = await step(sessions, protocol, incident_id, 1, at(2 * minutes))
    assert second.user_id == 502
    assert (first.first_round, second.first_round) == (True, True)
    third = await step(sessions, protocol, incident_id, 2, at(3 * minutes))
    assert (third.user_id, third.first_round) == (501, False)  # round again after the last

    await claim(sessions, protocol, incident_id, 3, at(3 * minutes + 1))
    assert await step(sessions, protocol, incident_id, 3, at(4 * minutes)) is None
    told = [e[2] for e in await events(sessions, incident_id) if e[0] == "escalated_to"]
    assert told == ["Jefa de turno", "Sistemas", "Jefa de turno"]


async def test_nobody_to_write_to_stops_the_escalation(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    stopped = await call(
        sessions,
        coordination.escalation_due,
        incident_id=incident_id,
        step=0,
        contacts=[],
        now=at(10),
        protocol=protocol,
    )
    assert stopped is None


async def test_outside_working_hours_the_escalation_waits_for_the_opening(
    sessions: Sessions, protocol: Protocol
) -> None:
    sunday = datetime(2026, 11, 29, 10, 0, tzinfo=TZ)  # the office is closed on Sundays
    incident_id = await general_incident(sessions, protocol, when=sunday)
    monday_opening = datetime(2026, 11, 30, 8, 0, tzinfo=TZ)
    assert ("escalation", monday_opening) in await pending_of(sessions, incident_id)
