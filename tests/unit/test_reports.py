"""Report arithmetic that needs no database: periods, support hours, the monthly report's day,
and how the texts read. Expected values are worked out by hand from the support windows
(Mon–Sat 08:00–22:00, Sundays and holidays 10:00–22:00, Córdoba time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from bot.core.config import Protocol, SupportSpec
from bot.reports.records import (
    IncidentRecord,
    Outcome,
    closed_overlap,
    compute_metrics,
    first_working_day,
    month,
    next_monthly_report_at,
    open_overlap,
    parse_day,
    parse_period,
    previous_month,
    reported_month,
    waiting_for_support,
    year,
)

TZ = ZoneInfo("America/Argentina/Cordoba")
SPEC = SupportSpec()
TODAY = date(2026, 12, 15)


def local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ).astimezone(UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", month(2026, 12)),
        ("mes", month(2026, 12)),
        ("  MES ", month(2026, 12)),
        ("año", year(2026)),
        ("ano", year(2026)),
        ("anterior", month(2026, 11)),
        ("mes pasado", month(2026, 11)),
        ("2026-11", month(2026, 11)),
        ("2026-1", month(2026, 1)),
        ("11/2026", month(2026, 11)),
        ("2025", year(2025)),
        ("2026-13", None),
        ("noviembre", None),
        ("1999", None),
    ],
)
def test_periods_people_write(text: str, expected: object) -> None:
    assert parse_period(text, TODAY) == expected


def test_period_edges() -> None:
    assert (month(2026, 12).start, month(2026, 12).end) == (date(2026, 12, 1), date(2027, 1, 1))
    assert previous_month(date(2027, 1, 4)) == month(2026, 12)
    start, end = month(2026, 11).bounds(SPEC)
    assert (start, end) == (local("2026-11-01 00:00"), local("2026-12-01 00:00"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01", date(2026, 1, 1)),
        ("30/11/2026", date(2026, 11, 30)),
        ("2026-02-30", None),
        ("mañana", None),
    ],
)
def test_days_people_write(text: str, expected: date | None) -> None:
    assert parse_day(text) == expected


@pytest.mark.parametrize(
    ("start", "end", "open_minutes"),
    [
        ("2026-11-24 09:00", "2026-11-24 10:00", 60),  # Tuesday morning: open
        ("2026-11-24 21:00", "2026-11-25 09:00", 120),  # 21–22 and 08–09
        ("2026-11-21 21:00", "2026-11-22 11:00", 120),  # Saturday night into Sunday (opens 10:00)
        ("2026-11-23 07:00", "2026-11-23 09:00", 0),  # a holiday Monday opens at 10:00
        ("2026-11-30 07:00", "2026-11-30 09:00", 60),  # an ordinary Monday opens at 08:00
        ("2026-11-24 10:00", "2026-11-24 10:00", 0),
    ],
)
def test_time_down_split_by_support_hours(start: str, end: str, open_minutes: int) -> None:
    begin, finish = local(start), local(end)
    assert open_overlap(begin, finish, SPEC) == minutes(open_minutes)
    assert closed_overlap(begin, finish, SPEC) == (finish - begin) - minutes(open_minutes)


def record(opened: str, ended: str | None, outcome: Outcome = Outcome.GENERAL) -> IncidentRecord:
    return IncidentRecord(
        id=1,
        status="closed" if ended else "in_progress",
        outcome=outcome,
        opened_at=local(opened),
        local_cause=None,
        confirmed_at=None,
        support_contacted_at=None,
        access_granted_at=None,
        access_tool=None,
        ended_at=local(ended) if ended else None,
        coordinator=None,
        support_ref=None,
        reporter="Ana",
        reporter_sector="Caja",
        affected=0,
    )


def test_time_lost_waiting_for_support_to_open() -> None:
    now = local("2026-11-28 12:00")
    # Friday 23:00, back at Saturday 09:00: support opened at 08:00.
    assert waiting_for_support(record("2026-11-27 23:00", "2026-11-28 09:00"), now, SPEC) == (
        minutes(540)
    )
    # Back before support opened: only until then.
    assert waiting_for_support(record("2026-11-27 23:00", "2026-11-28 07:00"), now, SPEC) == (
        minutes(480)
    )
    # Began while support was open: nothing lost waiting.
    assert waiting_for_support(record("2026-11-27 21:00", "2026-11-28 09:00"), now, SPEC) == (
        timedelta(0)
    )
    # Still down, support still closed: until now.
    early = local("2026-11-28 06:00")
    assert waiting_for_support(record("2026-11-27 23:00", None), early, SPEC) == minutes(420)


def test_an_open_failure_counts_until_now() -> None:
    now = local("2026-11-24 10:30")
    data = compute_metrics(
        [
            record("2026-11-24 09:00", None),
            record("2026-11-24 08:00", "2026-11-24 08:20", Outcome.LOCAL),
        ],
        month(2026, 11),
        now=now,
        spec=SPEC,
    )
    assert (data.general, data.local, data.still_open, data.down) == (1, 1, 1, minutes(90))
    assert data.median_restore is None
    assert "(1 falla sigue abierta: cuenta hasta ahora.)" in texts.metricas(data)


@pytest.mark.parametrize(
    ("extra", "year_month", "expected"),
    [
        ([], (2026, 12), date(2026, 12, 1)),  # Tuesday
        ([], (2027, 1), date(2027, 1, 4)),  # Friday 1st is a holiday, then the weekend
        ([], (2026, 11), date(2026, 11, 2)),  # the 1st is a Sunday
        ([], (2026, 8), date(2026, 8, 3)),  # the 1st is a Saturday
        ([date(2026, 12, 1)], (2026, 12), date(2026, 12, 2)),  # a company holiday
    ],
)
def test_first_working_day(extra: list[date], year_month: tuple[int, int], expected: date) -> None:
    spec = SupportSpec(extra_holidays=extra)
    assert first_working_day(*year_month, spec) == expected


@pytest.mark.parametrize(
    ("now", "due"),
    [
        ("2026-11-30 12:00", "2026-12-01 09:00"),
        ("2026-12-01 08:59", "2026-12-01 09:00"),
        ("2026-12-01 09:00", "2027-01-04 09:00"),  # this month's went out: next month's
        ("2026-11-01 10:00", "2026-11-02 09:00"),
    ],
)
def test_next_monthly_report(now: str, due: str) -> None:
    assert next_monthly_report_at(local(now), SPEC) == local(due)


def test_a_report_is_about_the_month_before_its_day() -> None:
    assert reported_month(local("2027-01-04 09:00"), SPEC) == month(2026, 12)
    assert reported_month(local("2026-12-01 09:00"), SPEC) == month(2026, 11)


def test_reports_are_off_unless_the_protocol_file_says_so() -> None:
    assert Protocol().reports.monthly is False
    assert Protocol.model_validate({"reports": {"monthly": True}}).reports.monthly is True


def test_thirty_long_history_lines_still_fit_one_message() -> None:
    now = local("2026-12-15 12:00")
    records = [
        IncidentRecord(
            id=1000 + n,
            status="closed",
            outcome=Outcome.GENERAL,
            opened_at=local("2026-11-02 08:42") + timedelta(days=n),
            local_cause=None,
            confirmed_at=None,
            support_contacted_at=None,
            access_granted_at=None,
            access_tool=None,
            ended_at=local("2026-11-02 10:07") + timedelta(days=n),
            coordinator="Maximiliano Alejandro de la Santísima Trinidad " * 3,
            support_ref="R-" + "9" * 100,
            reporter="Ana",
            reporter_sector="Caja",
            affected=2,
        )
        for n in range(30)
    ]
    text = texts.history(records, now, TZ)
    assert len(text) <= texts.MESSAGE_LIMIT
    assert text.splitlines()[1].startswith("#1029 · mar 01/12 08:42 · falla general · 1 h 25 min")
    assert "más no entran en un mensaje" in text


def test_history_lines_read_as_the_product_shows_them() -> None:
    now = local("2026-11-25 12:00")
    expired = record("2026-11-21 13:30", "2026-11-21 14:35", Outcome.UNCONFIRMED)
    assert (
        texts.history_line(expired, now, TZ)
        == "#1 · sáb 21/11 13:30 · nadie confirmó · cerrado solo"
    )
    last_year = record("2025-11-21 13:30", "2025-11-21 14:35", Outcome.UNCONFIRMED)
    assert texts.history_line(last_year, now, TZ).startswith("#1 · vie 21/11/25 13:30")


def test_a_long_vendor_report_still_fits_one_message() -> None:
    records = [
        IncidentRecord(
            id=n,
            status="closed",
            outcome=Outcome.GENERAL,
            opened_at=local("2026-11-02 08:00") + timedelta(hours=17 * n),
            local_cause=None,
            confirmed_at=None,
            support_contacted_at=local("2026-11-02 08:10") + timedelta(hours=17 * n),
            access_granted_at=local("2026-11-02 08:20") + timedelta(hours=17 * n),
            access_tool="TeamViewer",
            ended_at=local("2026-11-02 09:00") + timedelta(hours=17 * n),
            coordinator="Ana",
            support_ref="R-" + "7" * 60,
            reporter="Ana",
            reporter_sector="Caja",
            affected=2,
        )
        for n in range(40)
    ]
    data = compute_metrics(records, month(2026, 11), now=local("2026-12-15 12:00"), spec=SPEC)
    assert data.general == 40
    text = texts.proveedor(data, TZ)
    assert len(text) <= texts.MESSAGE_LIMIT
    assert "más (el detalle completo: /exportar, admins)" in text
    assert text.splitlines()[2] == "#0 · lun 02/11 08:00 → volvió a andar 09:00 (1 h)"
