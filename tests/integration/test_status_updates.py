"""Status updates (who may tell the team, the promised time kept by the reminder) and
relapses (an incident opened soon after another's all-clear)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.config import Protocol
from bot.protocol import allclear, status_updates
from tests.support.steps import (
    Sessions,
    at,
    call,
    claim,
    events,
    general_incident,
    pending_of,
    refusal,
    report,
    validated_incident,
)

TZ = ZoneInfo("America/Argentina/Cordoba")


@pytest.mark.parametrize(
    ("typed", "words", "next_local"),
    [
        ("Reinician el servidor", "Reinician el servidor", None),
        ("Reinician el servidor próxima 09:40", "Reinician el servidor", (24, 9, 40)),
        ("Reinician, próxima novedad a las 9.05", "Reinician", (25, 9, 5)),  # past: tomorrow
        ("Sigue igual. Proxima 23:59", "Sigue igual", (24, 23, 59)),
        ("La próxima semana cambian el servidor", "La próxima semana cambian el servidor", None),
    ],
)
def test_the_next_updates_time_is_read_from_the_end(
    typed: str, words: str, next_local: tuple[int, int, int] | None
) -> None:
    now = datetime(2026, 11, 24, 9, 20, tzinfo=TZ)
    found_words, found_next = status_updates.split_next(typed, now, TZ)
    expected = datetime(2026, 11, next_local[0], *next_local[1:], tzinfo=TZ) if next_local else None
    assert (found_words, found_next) == (words, expected)


async def test_only_the_coordinator_tells_the_team_and_the_reminder_keeps_the_promise(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    await claim(sessions, protocol, incident_id, 3, at(1))

    async def tell(who: int, when: datetime, promised: datetime | None = None) -> object:
        return await call(
            sessions,
            status_updates.post_update,
            incident_id=incident_id,
            user_id=who,
            is_admin=False,
            text="Soporte reinicia el servidor",
            next_at=promised,
            now=when,
            protocol=protocol,
        )

    refused = await refusal(
        sessions,
        status_updates.post_update,
        incident_id=incident_id,
        user_id=1,
        is_admin=False,
        text="¿ya anda?",
        next_at=None,
        now=at(2),
        protocol=protocol,
    )
    assert (refused.reason, refused.named) == ("coordinator_or_admin", "Persona 3")
    told = await tell(3, at(2), at(40))
    assert isinstance(told, status_updates.Update) and told.next_at == at(40)
    assert ("nudge", at(40)) in await pending_of(sessions, incident_id)
    # No time given: the coordinator reminder's interval.
    again = await tell(3, at(5))
    interval = protocol.deadlines.coordinator_reminder_minutes
    assert isinstance(again, status_updates.Update) and again.next_at == at(5 + interval)
    assert [k for k, _ in await pending_of(sessions, incident_id)].count("nudge") == 1
    async with sessions() as session:
        latest = await status_updates.latest(session, incident_id)
    assert latest is not None and (latest.at, latest.author) == (at(5), "Persona 3")
    told_events = [e for e in await events(sessions, incident_id) if e[0] == "status_update"]
    assert told_events == [("status_update", 3, "Soporte reinicia el servidor")] * 2


async def test_no_news_before_it_is_a_general_failure(
    sessions: Sessions, protocol: Protocol
) -> None:
    opened = await report(sessions, protocol, 1)
    refused = await refusal(
        sessions,
        status_updates.post_update,
        incident_id=opened.incident_id,
        user_id=1,
        is_admin=True,
        text="x",
        next_at=None,
        now=at(1),
        protocol=protocol,
    )
    assert refused.reason == "not_general_yet"


async def test_a_relapse_is_only_soon_after_an_all_clear(
    sessions: Sessions, protocol: Protocol
) -> None:
    first = await validated_incident(sessions, protocol)
    await call(
        sessions,
        allclear.send_all_clear,
        incident_id=first,
        user_id=3,
        is_admin=False,
        restart_session=False,
        now=at(20),
        protocol=protocol,
    )
    late = protocol.deadlines.relapse_minutes + 20 + 1
    second = await report(sessions, protocol, 9, when=at(late))
    assert second.opened and second.relapse_of is None  # too long after: a new failure
    assert not [e for e in await events(sessions, first) if e[0] == "failed_again"]
