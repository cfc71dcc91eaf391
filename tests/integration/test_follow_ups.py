"""Follow-ups after an incident on a real database: who owns them, their due date's reminder
at the workday's opening, closing them, and what is still open."""

from __future__ import annotations

from datetime import date, datetime

from bot.core.config import Protocol
from bot.protocol import follow_ups
from bot.support.workday import working_or_next_opening
from models.vocab import TimerKind
from tests.support.steps import (
    Sessions,
    at,
    call,
    events,
    general_incident,
    pending_timers,
    refusal,
)

ANA, LUIS, ADMIN = 1, 3, 5


def test_a_due_date_is_the_next_one_and_a_wrong_one_is_refused() -> None:
    today = date(2026, 12, 7)
    assert follow_ups.split_due("pedir el informe para 15/12", today) == (
        "pedir el informe",
        date(2026, 12, 15),
    )
    assert follow_ups.split_due("revisar el UPS para 3/1", today) == (
        "revisar el UPS",
        date(2027, 1, 3),
    )
    assert follow_ups.split_due("x para 1/2/28", today) == ("x", date(2028, 2, 1))
    assert follow_ups.split_due("sin fecha", today) == ("sin fecha", None)
    assert follow_ups.split_due("x para 31/2", today) is None


async def test_follow_ups_are_owned_reminded_on_their_day_and_closed_by_their_people(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    tz = protocol.support.tz
    due = date(2026, 11, 30)  # a Monday

    async def add(text: str, due_on: date | None) -> follow_ups.FollowUpView:
        return await call(
            sessions,
            follow_ups.add_follow_up,
            incident_id=incident_id,
            text=text,
            owner_id=ANA,
            owner_name="Ana Gómez",
            author_id=LUIS,
            due_on=due_on,
            now=at(20),
            protocol=protocol,
        )

    dated = await add("  Pedir al proveedor\n el informe del corte ", due)
    undated = await add("Revisar el UPS", None)
    assert dated.text == "Pedir al proveedor el informe del corte"
    # Reminded at the workday's opening of its day, once.
    [reminder] = [
        t for t in await pending_timers(sessions, incident_id) if t.kind == TimerKind.FOLLOW_UP_DUE
    ]
    opening = working_or_next_opening(datetime(2026, 11, 30, tzinfo=tz), protocol)
    assert reminder.due_at == opening and opening.astimezone(tz).date() == due
    assert reminder.payload == {"follow_up": dated.id}
    unknown = await refusal(
        sessions,
        follow_ups.add_follow_up,
        incident_id=999,
        text="x",
        owner_id=ANA,
        owner_name="Ana",
        author_id=LUIS,
        due_on=None,
        now=at(20),
        protocol=protocol,
    )
    assert unknown.reason == "unknown_incident"

    async with sessions() as session:
        pending = await follow_ups.open_follow_ups(session)
    assert [v.id for v in pending] == [dated.id, undated.id]  # dated first
    assert pending[0].overdue(date(2026, 12, 1)) and not pending[1].overdue(date(2026, 12, 1))

    stranger = await refusal(
        sessions,
        follow_ups.close_follow_up,
        follow_up_id=dated.id,
        user_id=2,
        is_admin=False,
        now=at(30),
    )
    assert (stranger.reason, stranger.named) == ("follow_up_owner_or_admin", "Ana Gómez")
    closed = await call(
        sessions,
        follow_ups.close_follow_up,
        follow_up_id=dated.id,
        user_id=ANA,
        is_admin=False,
        now=at(30),
    )
    assert closed.follow_up.done and not closed.already
    again = await call(
        sessions,
        follow_ups.close_follow_up,
        follow_up_id=dated.id,
        user_id=ADMIN,
        is_admin=True,
        now=at(31),
    )
    assert again.already
    missing = await refusal(
        sessions,
        follow_ups.close_follow_up,
        follow_up_id=999,
        user_id=ADMIN,
        is_admin=True,
        now=at(31),
    )
    assert missing.reason == "unknown_follow_up"

    async with sessions() as session:
        assert [v.id for v in await follow_ups.open_follow_ups(session)] == [undated.id]
        assert [v.done for v in await follow_ups.follow_ups_of(session, incident_id)] == [
            True,
            False,
        ]
    kinds = [kind for kind, _, _ in await events(sessions, incident_id)]
    assert kinds.count("follow_up_added") == 2 and kinds.count("follow_up_done") == 1
