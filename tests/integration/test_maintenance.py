"""Planned maintenance: what /mantenimiento takes and refuses, the stored windows and their
moments, recurring windows of the protocol file, and how the figures treat a window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.core.config import Protocol
from bot.protocol import maintenance
from bot.protocol.maintenance import (
    CancelWindow,
    EndNow,
    ListWindows,
    MaintenanceRefused,
    MoveEnd,
    PlanWindow,
    Problem,
)
from bot.reports.records import Period, compute_metrics, incident_records, metrics
from models import Event, Incident, MaintenanceWindow, Member, Timer
from models.vocab import MaintenanceSource, TimerKind
from tests.support.steps import Sessions, call, person

TZ = ZoneInfo("America/Argentina/Cordoba")
NOW = datetime(2026, 12, 10, 15, 0, tzinfo=TZ)  # a Thursday, 15:00 in Córdoba


def local(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


# --- what the person typed -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", ListWindows()),
        ("fin", EndNow()),
        ("hasta 17:30", MoveEnd(local(10, 17, 30))),
        ("cancelar 3 el proveedor lo pasó", CancelWindow(3, "el proveedor lo pasó")),
        ("cancelar #4", CancelWindow(4, "")),
        ("20:00-22:00 Actualización de FLEXUS", PlanWindow(local(10, 20), local(10, 22), "Actualización de FLEXUS")),
        # Already past today: tomorrow.
        ("08:00-09:00 Parche", PlanWindow(local(11, 8), local(11, 9), "Parche")),
        ("28/12 20:00-23:30 Cierre de año", PlanWindow(local(28, 20), local(28, 23, 30), "Cierre de año")),
        ("28/12/2026 20:00-23:30", PlanWindow(local(28, 20), local(28, 23, 30), "Mantenimiento de FLEXUS")),
        ("2027-01-05 06:00-07:00 x", PlanWindow(datetime(2027, 1, 5, 6, tzinfo=TZ), datetime(2027, 1, 5, 7, tzinfo=TZ), "x")),
        # A day without a year that already passed this year: next year's.
        ("05/01 06:00-07:00 x", PlanWindow(datetime(2027, 1, 5, 6, tzinfo=TZ), datetime(2027, 1, 5, 7, tzinfo=TZ), "x")),
        ("ahora 45m Reinicio", PlanWindow(NOW, NOW + timedelta(minutes=45), "Reinicio")),
        ("ahora 1h30m", PlanWindow(NOW, NOW + timedelta(minutes=90), "Mantenimiento de FLEXUS")),
    ],
)  # fmt: skip
def test_what_people_type_becomes_a_command(typed: str, expected: object) -> None:
    assert maintenance.parse(typed, NOW.astimezone(UTC), TZ) == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("mañana a la noche", Problem.FORMAT),
        ("22:00-20:00 al revés", Problem.END_BEFORE_START),
        ("31/02 20:00-21:00", Problem.DATE),
        ("28/13 20:00-21:00", Problem.DATE),
        ("25:00-26:00", Problem.TIME),
        ("ahora un rato", Problem.DURATION),
        ("ahora 0m", Problem.DURATION),
        ("hasta las nueve", Problem.TIME),
        ("cancelar tres", Problem.FORMAT),
    ],
)
def test_bad_input_says_what_is_wrong(typed: str, problem: Problem) -> None:
    with pytest.raises(MaintenanceRefused) as refused:
        maintenance.parse(typed, NOW, TZ)
    assert refused.value.problem is problem


# --- stored windows ------------------------------------------------------------------------------
async def plan(
    sessions: Sessions, protocol: Protocol, start: datetime, end: datetime, now: datetime = NOW
) -> maintenance.Planned:
    return await call(
        sessions,
        maintenance.plan_window,
        start=start,
        end=end,
        reason="Actualización",
        source=MaintenanceSource.CHAT,
        by=1,
        now=now,
        protocol=protocol,
    )


async def moments(sessions: Sessions) -> list[tuple[str, datetime, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Timer.kind, Timer.due_at, Timer.status).order_by(Timer.due_at, Timer.id)
        )
        return [(k, d, s) for k, d, s in rows.all()]


async def test_a_window_stores_its_three_moments(sessions: Sessions, protocol: Protocol) -> None:
    planned = await plan(sessions, protocol, local(10, 20), local(10, 22))
    assert (planned.starts_at, planned.ends_at) == (local(10, 20), local(10, 22))
    assert await moments(sessions) == [
        (TimerKind.MAINTENANCE_REMINDER, local(10, 19), "pending"),
        (TimerKind.MAINTENANCE_START, local(10, 20), "pending"),
        (TimerKind.MAINTENANCE_END, local(10, 22), "pending"),
    ]
    # A window starting within the reminder's hour gets no reminder: the plan is the notice.
    await plan(sessions, protocol, local(10, 15, 30), local(10, 16))
    kinds = [k for k, due, _ in await moments(sessions) if due <= local(10, 16)]
    assert kinds == [TimerKind.MAINTENANCE_START, TimerKind.MAINTENANCE_END]


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        (local(10, 13), local(10, 14), Problem.PAST),  # over before it starts
        (local(10, 16), local(10, 16), Problem.END_BEFORE_START),
        (local(10, 16), local(11, 17), Problem.TOO_LONG),  # 25 h
        (local(10, 21), local(10, 23), Problem.OVERLAP),  # with 20:00-22:00
        (local(10, 19), local(10, 20, 1), Problem.OVERLAP),  # one minute into it
    ],
)
async def test_a_window_that_cannot_be_is_refused_and_nothing_is_stored(
    sessions: Sessions, protocol: Protocol, start: datetime, end: datetime, problem: Problem
) -> None:
    await plan(sessions, protocol, local(10, 20), local(10, 22))
    with pytest.raises(MaintenanceRefused) as refused:
        await plan(sessions, protocol, start, end)
    assert refused.value.problem is problem
    if problem is Problem.OVERLAP:
        assert refused.value.other is not None and refused.value.other.starts_at == local(10, 20)
    async with sessions() as session:
        assert len((await session.scalars(select(MaintenanceWindow))).all()) == 1
    assert len(await moments(sessions)) == 3


async def test_windows_that_touch_do_not_overlap(sessions: Sessions, protocol: Protocol) -> None:
    await plan(sessions, protocol, local(10, 20), local(10, 22))
    after = await plan(sessions, protocol, local(10, 22), local(10, 23))
    assert after.starts_at == local(10, 22)


async def test_the_window_under_way_is_found_at_its_edges(
    sessions: Sessions, protocol: Protocol
) -> None:
    planned = await plan(sessions, protocol, local(10, 20), local(10, 22))
    async with sessions() as session:
        assert await maintenance.current_window(session, local(10, 19, 59)) is None
        assert await maintenance.current_window(session, local(10, 20)) == planned
        assert await maintenance.current_window(session, local(10, 21, 59)) == planned
        assert await maintenance.current_window(session, local(10, 22)) is None


async def test_ending_early_and_running_over(sessions: Sessions, protocol: Protocol) -> None:
    await plan(sessions, protocol, local(10, 20), local(10, 22))
    with pytest.raises(MaintenanceRefused) as none_running:
        await call(sessions, maintenance.end_now, now=local(10, 19))
    assert none_running.value.problem is Problem.NOT_RUNNING

    # Running over: the end moves, its END moment with it; it ran over its announced end.
    moved = await call(
        sessions, maintenance.move_end, end=local(10, 23), now=local(10, 21), protocol=protocol
    )
    assert (moved.ends_at, moved.announced_end, moved.ran_over) == (
        local(10, 23),
        local(10, 22),
        True,
    )
    ends = [(due, status) for k, due, status in await moments(sessions) if k == "maintenance_end"]
    assert ends == [(local(10, 22), "cancelled"), (local(10, 23), "pending")]

    ended = await call(sessions, maintenance.end_now, now=local(10, 22, 30))
    assert ended.ends_at == local(10, 22, 30)
    ends = [status for k, _, status in await moments(sessions) if k == "maintenance_end"]
    assert ends == ["cancelled", "cancelled"]  # the end was announced by /mantenimiento fin


async def test_a_cancelled_window_cancels_its_moments_and_holds_no_report(
    sessions: Sessions, protocol: Protocol
) -> None:
    planned = await plan(sessions, protocol, local(10, 20), local(10, 22))
    cancelled = await call(
        sessions, maintenance.cancel_window, window_id=planned.id, reason="", by=1, now=NOW
    )
    assert cancelled.cancelled
    assert {status for _, _, status in await moments(sessions)} == {"cancelled"}
    async with sessions() as session:
        assert await maintenance.current_window(session, local(10, 21)) is None
        assert await maintenance.upcoming(session, NOW) == []
        due = await maintenance.moment_due(session, window_id=planned.id)
        assert due is None  # a timer that fires anyway announces nothing
    with pytest.raises(MaintenanceRefused) as again:
        await call(
            sessions, maintenance.cancel_window, window_id=planned.id, reason="", by=1, now=NOW
        )
    assert again.value.problem is Problem.UNKNOWN


# --- recurring windows ---------------------------------------------------------------------------
def recurring_protocol(protocol: Protocol, *entries: dict[str, object]) -> Protocol:
    return Protocol.model_validate(
        {**protocol.model_dump(by_alias=True), "maintenance": list(entries)}
    )


def test_a_recurring_window_across_midnight_and_on_holidays(protocol: Protocol) -> None:
    weekly = recurring_protocol(
        protocol,
        {"days": ["thursday", "holiday"], "from": "23:00", "to": "01:30", "reason": "Copia"},
    ).maintenance[0]
    found = maintenance.occurrences(weekly, date(2026, 12, 20), 14, protocol)
    # Thursdays 24/12 and 31/12, and the holidays Friday 25/12 and Friday 1/1; each ends the
    # next day.
    assert found == [
        (local(24, 23), local(25, 1, 30)),
        (local(25, 23), local(26, 1, 30)),
        (local(31, 23), datetime(2027, 1, 1, 1, 30, tzinfo=TZ)),
        (datetime(2027, 1, 1, 23, tzinfo=TZ), datetime(2027, 1, 2, 1, 30, tzinfo=TZ)),
    ]
    # On a holiday only windows that name it apply: a Friday window skips both holidays.
    fridays = recurring_protocol(
        protocol, {"days": ["friday"], "from": "06:00", "to": "08:00"}
    ).maintenance[0]
    days = [s.date() for s, _ in maintenance.occurrences(fridays, date(2026, 12, 20), 21, protocol)]
    assert days == [date(2027, 1, 8)]


async def test_recurring_windows_are_stored_once_a_week_ahead(
    sessions: Sessions, protocol: Protocol
) -> None:
    weekly = recurring_protocol(
        protocol, {"days": ["sunday"], "from": "06:00", "to": "08:00", "reason": "Copia"}
    )
    added = await call(sessions, maintenance.keep_recurring, now=NOW, protocol=weekly)
    assert added == 1  # the coming 8 days (10/12 to 17/12) hold one Sunday, 13/12
    assert await call(sessions, maintenance.keep_recurring, now=NOW, protocol=weekly) == 0
    async with sessions() as session:
        coming = await maintenance.upcoming(session, NOW)
    assert [(w.starts_at, w.reason) for w in coming][:1] == [(local(13, 6), "Copia")]
    kinds = [k for k, _, _ in await moments(sessions)]
    assert kinds.count(TimerKind.MAINTENANCE_START) == added


async def test_a_recurring_window_leaves_room_for_one_planned_from_the_chat(
    sessions: Sessions, protocol: Protocol
) -> None:
    await plan(sessions, protocol, local(13, 7), local(13, 9))
    weekly = recurring_protocol(protocol, {"days": ["sunday"], "from": "06:00", "to": "08:00"})
    await call(sessions, maintenance.keep_recurring, now=NOW, protocol=weekly)
    async with sessions() as session:
        starts = [w.starts_at for w in await maintenance.upcoming(session, NOW)]
    assert local(13, 6) not in starts and local(13, 7) in starts


# --- the figures ---------------------------------------------------------------------------------
async def test_time_inside_a_window_is_not_downtime(sessions: Sessions, protocol: Protocol) -> None:
    planned = await plan(sessions, protocol, local(10, 20), local(10, 22))
    # Reported anyway at 21:00 during the window, restored at 22:30: 30 min down, not 90.
    async with sessions() as session:
        session.add(Member(user_id=1, full_name="Persona 1", created_at=NOW, updated_at=NOW))
        await session.flush()
        session.add(
            Incident(
                status="closed",
                reporter_id=person(1).user_id,
                origin_chat_id=-100,
                opened_at=local(10, 21),
                closed_at=local(10, 22, 30),
                maintenance_id=planned.id,
                validation_round=0,
            )
        )
        await session.flush()
        for kind, at in (("general", local(10, 21, 5)), ("resolved", local(10, 22, 30))):
            session.add(Event(incident_id=1, kind=kind, actor_id=None, created_at=at))
    async with sessions() as session:
        [record] = await incident_records(session)
        figures = await metrics(
            session,
            Period("month", date(2026, 12, 1), date(2027, 1, 1)),
            now=local(11, 9),
            protocol=protocol,
        )
    assert record.maintenance == (local(10, 20), local(10, 22))
    assert record.down_for(local(11, 9)) == timedelta(minutes=30)
    assert figures.down == timedelta(minutes=30)
    assert (figures.maintenance.windows, figures.maintenance.total) == (1, timedelta(hours=2))
    assert (figures.maintenance.ran_over, figures.maintenance.reports) == (0, 1)
    plain = compute_metrics([record], figures.period, now=local(11, 9), spec=protocol.support)
    assert plain.maintenance.windows == 0  # windows come from the stored ones
