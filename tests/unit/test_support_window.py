"""Support windows: open/closed state, next opening and holidays (bot/support/hours.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.config import SupportSpec, WindowSpec, WindowsSpec, load_protocol
from bot.support.hours import (
    COMPANY_HOLIDAY,
    Window,
    holiday_name,
    support_status_at,
    windows_on,
)

TZ = ZoneInfo("America/Argentina/Cordoba")
SPEC = load_protocol().support


def local(text: str) -> datetime:
    """'YYYY-MM-DD HH:MM' in Córdoba time as an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def fmt(instant: datetime) -> str:
    return instant.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


# --- the calendar the expectations rely on --------------------------------------------------


def test_calendar_assumptions_hold():
    ar = holidays.country_holidays("AR", years=2026, language="es")
    assert date(2026, 11, 22).weekday() == 6  # Sunday
    assert date(2026, 11, 28).weekday() == 5  # Saturday
    assert ar.get(date(2026, 11, 23)) == "Día de la Soberanía Nacional"
    assert date(2026, 12, 7) in ar
    assert date(2026, 12, 8) in ar
    assert date(2026, 12, 25) in ar
    for ordinary in ("2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-12-04"):
        assert date.fromisoformat(ordinary) not in ar
    assert SPEC.timezone == "America/Argentina/Cordoba"
    assert SPEC.extra_holidays == []


# --- the table ------------------------------------------------------------------------------

# at (local), is_open, current kind, next_opening start (local), next_opening kind
TABLE = [
    # Sunday 2026-11-22: guardia 10:00-22:00
    ("2026-11-22 00:00", False, None, "2026-11-22 10:00", "guardia"),
    ("2026-11-22 09:59", False, None, "2026-11-22 10:00", "guardia"),
    ("2026-11-22 10:00", True, "guardia", None, None),
    ("2026-11-22 21:59", True, "guardia", None, None),
    # Sunday 22:00 -> the holiday Monday opens at 10:00, not 08:00
    ("2026-11-22 22:00", False, None, "2026-11-23 10:00", "guardia"),
    # Monday 2026-11-23 is a national holiday: Sunday hours
    ("2026-11-23 07:59", False, None, "2026-11-23 10:00", "guardia"),
    ("2026-11-23 08:00", False, None, "2026-11-23 10:00", "guardia"),
    ("2026-11-23 08:30", False, None, "2026-11-23 10:00", "guardia"),
    ("2026-11-23 09:00", False, None, "2026-11-23 10:00", "guardia"),
    ("2026-11-23 09:59", False, None, "2026-11-23 10:00", "guardia"),
    ("2026-11-23 10:00", True, "guardia", None, None),
    ("2026-11-23 18:30", True, "guardia", None, None),
    ("2026-11-23 21:59", True, "guardia", None, None),
    ("2026-11-23 22:00", False, None, "2026-11-24 08:00", "comercial"),
    # Tuesday 2026-11-24: an ordinary weekday
    ("2026-11-24 00:00", False, None, "2026-11-24 08:00", "comercial"),
    ("2026-11-24 07:59", False, None, "2026-11-24 08:00", "comercial"),
    ("2026-11-24 08:00", True, "comercial", None, None),
    ("2026-11-24 12:00", True, "comercial", None, None),
    ("2026-11-24 18:29", True, "comercial", None, None),
    ("2026-11-24 18:30", True, "guardia", None, None),
    ("2026-11-24 21:59", True, "guardia", None, None),
    ("2026-11-24 22:00", False, None, "2026-11-25 08:00", "comercial"),
    ("2026-11-24 23:59", False, None, "2026-11-25 08:00", "comercial"),
    # Wednesday..Friday
    ("2026-11-25 08:00", True, "comercial", None, None),
    ("2026-11-26 18:30", True, "guardia", None, None),
    ("2026-11-27 07:59", False, None, "2026-11-27 08:00", "comercial"),
    ("2026-11-27 22:00", False, None, "2026-11-28 08:00", "comercial"),
    # Saturday 2026-11-28: comercial 08:00-13:00, guardia 13:00-22:00
    ("2026-11-28 07:59", False, None, "2026-11-28 08:00", "comercial"),
    ("2026-11-28 08:00", True, "comercial", None, None),
    ("2026-11-28 12:59", True, "comercial", None, None),
    ("2026-11-28 13:00", True, "guardia", None, None),
    ("2026-11-28 18:30", True, "guardia", None, None),
    ("2026-11-28 21:59", True, "guardia", None, None),
    ("2026-11-28 22:00", False, None, "2026-11-29 10:00", "guardia"),
    # Sunday 2026-11-29
    ("2026-11-29 08:00", False, None, "2026-11-29 10:00", "guardia"),
    ("2026-11-29 09:59", False, None, "2026-11-29 10:00", "guardia"),
    ("2026-11-29 10:00", True, "guardia", None, None),
    ("2026-11-29 22:00", False, None, "2026-11-30 08:00", "comercial"),
    # Friday night -> Saturday morning comercial
    ("2026-12-04 22:30", False, None, "2026-12-05 08:00", "comercial"),
    # Monday 2026-12-07 and Tuesday 2026-12-08 are both holidays
    ("2026-12-07 08:30", False, None, "2026-12-07 10:00", "guardia"),
    ("2026-12-07 22:30", False, None, "2026-12-08 10:00", "guardia"),
    ("2026-12-08 22:30", False, None, "2026-12-09 08:00", "comercial"),
    # Christmas Friday: holiday hours, then an ordinary Saturday
    ("2026-12-24 22:30", False, None, "2026-12-25 10:00", "guardia"),
    ("2026-12-25 09:00", False, None, "2026-12-25 10:00", "guardia"),
    ("2026-12-25 22:00", False, None, "2026-12-26 08:00", "comercial"),
]


@pytest.mark.parametrize(("at", "is_open", "kind", "next_start", "next_kind"), TABLE)
def test_status_table(at, is_open, kind, next_start, next_kind):
    status = support_status_at(local(at), SPEC)

    assert status.is_open is is_open
    assert (status.current.kind if status.current else None) == kind
    assert (fmt(status.next_opening.start) if status.next_opening else None) == next_start
    assert (status.next_opening.kind if status.next_opening else None) == next_kind
    assert status.at == local(at)


def test_comercial_is_followed_by_guardia_until_2200():
    status = support_status_at(local("2026-11-24 18:29"), SPEC)

    assert status.current == Window(
        "comercial", local("2026-11-24 08:00"), local("2026-11-24 18:30")
    )
    assert status.following == Window(
        "guardia", local("2026-11-24 18:30"), local("2026-11-24 22:00")
    )
    assert status.next_opening is None


def test_guardia_at_1830_is_still_open_and_has_no_following_window():
    status = support_status_at(local("2026-11-24 18:30"), SPEC)

    assert status.is_open
    assert status.current == Window("guardia", local("2026-11-24 18:30"), local("2026-11-24 22:00"))
    assert status.following is None


def test_saturday_comercial_is_followed_by_guardia_from_1300():
    status = support_status_at(local("2026-11-28 12:59"), SPEC)

    assert status.current == Window(
        "comercial", local("2026-11-28 08:00"), local("2026-11-28 13:00")
    )
    assert status.following == Window(
        "guardia", local("2026-11-28 13:00"), local("2026-11-28 22:00")
    )


def test_closed_status_has_no_current_or_following():
    status = support_status_at(local("2026-11-24 22:00"), SPEC)

    assert status.current is None
    assert status.following is None
    assert status.next_opening == Window(
        "comercial", local("2026-11-25 08:00"), local("2026-11-25 18:30")
    )


def test_one_microsecond_before_closing_is_open_and_closing_instant_is_not():
    closing = local("2026-11-24 22:00")

    assert support_status_at(closing - timedelta(microseconds=1), SPEC).is_open
    assert not support_status_at(closing, SPEC).is_open


# --- holidays -------------------------------------------------------------------------------


def test_holiday_monday_morning_names_the_holiday():
    status = support_status_at(local("2026-11-23 09:00"), SPEC)

    assert not status.is_open
    assert status.holiday_name == "Día de la Soberanía Nacional"
    assert status.next_opening == Window(
        "guardia", local("2026-11-23 10:00"), local("2026-11-23 22:00")
    )
    assert status.opening_holiday_name == "Día de la Soberanía Nacional"


def test_sunday_night_reports_the_holiday_of_the_next_opening():
    status = support_status_at(local("2026-11-22 22:00"), SPEC)

    assert status.holiday_name is None
    assert status.opening_holiday_name == "Día de la Soberanía Nacional"


def test_ordinary_day_has_no_holiday_names():
    status = support_status_at(local("2026-11-24 07:00"), SPEC)

    assert status.holiday_name is None
    assert status.opening_holiday_name is None


def test_holiday_name_function():
    assert holiday_name(date(2026, 11, 23), SPEC) == "Día de la Soberanía Nacional"
    assert holiday_name(date(2026, 12, 25), SPEC) == "Navidad"
    assert holiday_name(date(2026, 11, 24), SPEC) is None
    assert holiday_name(date(2026, 11, 22), SPEC) is None  # a plain Sunday is not a holiday


def test_windows_on_each_kind_of_day():
    assert windows_on(date(2026, 11, 24), SPEC) == [
        Window("comercial", local("2026-11-24 08:00"), local("2026-11-24 18:30")),
        Window("guardia", local("2026-11-24 18:30"), local("2026-11-24 22:00")),
    ]
    assert windows_on(date(2026, 11, 28), SPEC) == [
        Window("comercial", local("2026-11-28 08:00"), local("2026-11-28 13:00")),
        Window("guardia", local("2026-11-28 13:00"), local("2026-11-28 22:00")),
    ]
    assert windows_on(date(2026, 11, 29), SPEC) == [
        Window("guardia", local("2026-11-29 10:00"), local("2026-11-29 22:00")),
    ]
    assert windows_on(date(2026, 11, 23), SPEC) == [
        Window("guardia", local("2026-11-23 10:00"), local("2026-11-23 22:00")),
    ]


def test_extra_holiday_makes_a_weekday_follow_holiday_hours():
    spec = SupportSpec(extra_holidays=[date(2026, 11, 25)])

    morning = support_status_at(local("2026-11-25 09:00"), spec)
    assert not morning.is_open
    assert morning.holiday_name == COMPANY_HOLIDAY
    assert morning.next_opening == Window(
        "guardia", local("2026-11-25 10:00"), local("2026-11-25 22:00")
    )
    assert morning.opening_holiday_name == COMPANY_HOLIDAY

    evening = support_status_at(local("2026-11-25 18:29"), spec)
    assert evening.current == Window(
        "guardia", local("2026-11-25 10:00"), local("2026-11-25 22:00")
    )
    assert evening.following is None

    night_before = support_status_at(local("2026-11-24 22:00"), spec)
    assert fmt(night_before.next_opening.start) == "2026-11-25 10:00"

    # the defaults are untouched: the same Wednesday is ordinary without the company date
    assert support_status_at(local("2026-11-25 09:00"), SPEC).current.kind == "comercial"


def test_extra_holiday_on_saturday_uses_holiday_hours():
    spec = SupportSpec(extra_holidays=[date(2026, 11, 28)])

    status = support_status_at(local("2026-11-28 08:00"), spec)

    assert not status.is_open
    assert fmt(status.next_opening.start) == "2026-11-28 10:00"
    assert status.next_opening.kind == "guardia"


# --- custom windows -------------------------------------------------------------------------


def test_custom_windows_and_midnight_end():
    windows = WindowsSpec(
        weekday=[WindowSpec(kind="guardia", start="00:00", end="24:00")],
        saturday=[],
        sunday=[],
        holiday=[],
    )
    spec = SupportSpec(windows=windows)

    late = support_status_at(local("2026-11-24 23:59"), spec)
    assert late.current == Window("guardia", local("2026-11-24 00:00"), local("2026-11-25 00:00"))
    assert late.following == Window("guardia", local("2026-11-25 00:00"), local("2026-11-26 00:00"))

    # nothing on the weekend: Saturday noon waits for Monday 2026-11-30 at midnight
    weekend = support_status_at(local("2026-11-28 12:00"), spec)
    assert not weekend.is_open
    assert weekend.next_opening == Window(
        "guardia", local("2026-11-30 00:00"), local("2026-12-01 00:00")
    )


def test_no_windows_at_all_means_no_next_opening():
    spec = SupportSpec(windows=WindowsSpec(weekday=[], saturday=[], sunday=[], holiday=[]))

    status = support_status_at(local("2026-11-24 12:00"), spec)

    assert not status.is_open
    assert status.next_opening is None
    assert status.opening_holiday_name is None


# --- time zones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "local_text"),
    [
        ("2026-11-24 11:00", "2026-11-24 08:00"),
        ("2026-11-24 21:30", "2026-11-24 18:30"),
        ("2026-11-25 00:59", "2026-11-24 21:59"),
        ("2026-11-25 01:00", "2026-11-24 22:00"),  # already the next UTC day
        ("2026-11-23 12:00", "2026-11-23 09:00"),
        ("2026-11-24 02:00", "2026-11-23 23:00"),
    ],
)
def test_utc_instant_gives_the_same_answer_as_local(utc, local_text):
    in_utc = datetime.strptime(utc, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    in_local = local(local_text)
    assert in_utc == in_local

    assert support_status_at(in_utc, SPEC) == support_status_at(in_local, SPEC)


def test_utc_instant_at_local_2200_is_closed_and_at_is_local():
    status = support_status_at(datetime(2026, 11, 25, 1, 0, tzinfo=UTC), SPEC)

    assert not status.is_open
    assert fmt(status.next_opening.start) == "2026-11-25 08:00"
    assert status.at.utcoffset() == timedelta(hours=-3)
    assert fmt(status.at) == "2026-11-24 22:00"


def test_other_offset_gives_the_same_answer():
    tokyo = datetime(2026, 11, 24, 21, 0, tzinfo=timezone(timedelta(hours=9)))  # 09:00 Córdoba

    status = support_status_at(tokyo, SPEC)

    assert status.current.kind == "comercial"
    assert status == support_status_at(local("2026-11-24 09:00"), SPEC)


def test_naive_datetime_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        support_status_at(datetime(2026, 11, 24, 12, 0), SPEC)


# --- properties -----------------------------------------------------------------------------

ZONES = st.sampled_from(
    [
        UTC,
        TZ,
        ZoneInfo("Europe/Madrid"),
        ZoneInfo("America/New_York"),
        timezone(timedelta(hours=5, minutes=30)),
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31, 23, 59), timezones=ZONES
)
STEP = timedelta(minutes=15)
MAX_SAMPLES = 200


@settings(max_examples=300, deadline=None)
@given(INSTANTS)
def test_every_instant_is_in_exactly_one_state(at):
    status = support_status_at(at, SPEC)

    if status.is_open:
        assert status.current.contains(at)
        assert status.current.start <= at < status.current.end
        assert status.current.end > at
        assert status.next_opening is None
    else:
        assert status.current is None
        assert status.following is None
        assert status.next_opening is not None  # the defaults open every day
        assert status.next_opening.start > at


@settings(max_examples=300, deadline=None)
@given(INSTANTS)
def test_when_closed_the_next_opening_is_the_first_open_instant(at):
    status = support_status_at(at, SPEC)
    if status.is_open:
        return
    opening = status.next_opening

    at_opening = support_status_at(opening.start, SPEC)
    assert at_opening.is_open
    assert at_opening.current == opening

    assert not support_status_at(opening.start - timedelta(microseconds=1), SPEC).is_open

    # Step in UTC: wall-clock arithmetic in a zone with DST (fold=1) can move backwards.
    probe = at.astimezone(UTC) + STEP
    samples = 0
    while probe < opening.start and samples < MAX_SAMPLES:
        assert not support_status_at(probe, SPEC).is_open, f"open at {probe} before {opening}"
        probe += STEP
        samples += 1

    # and no window of the days in between overlaps the closed gap
    day = at.astimezone(TZ).date()
    while day <= opening.start.astimezone(TZ).date():
        for window in windows_on(day, SPEC):
            assert window.end <= at or window.start >= opening.start, window
        day += timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(INSTANTS)
def test_when_open_the_following_window_touches_the_current_one(at):
    status = support_status_at(at, SPEC)
    if not status.is_open:
        return

    assert status.current.end > at
    assert status.opening_holiday_name is None
    if status.following is not None:
        assert status.following.start == status.current.end
        assert support_status_at(status.following.start, SPEC).current == status.following
    else:
        assert not support_status_at(status.current.end, SPEC).is_open
