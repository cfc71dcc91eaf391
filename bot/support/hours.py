"""Support windows: is the vendor's line open at an instant, and when does it open next.

Computed from the protocol's windows and the holiday calendar alone: no clock, no database.
National holidays come from the calendar `bot.support.holiday_dates` keeps in memory (filled
at start-up; a year it does not hold yet is computed once, when first asked for)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.core.config import SupportSpec, WindowKind, WindowSpec
from bot.support.holiday_dates import national_holidays

# holiday_name() of a company date from the protocol file (texts.py says it in Spanish).
COMPANY_HOLIDAY = "company"
# Far enough to cross a long weekend plus company dates; a week with no windows at all ends the search.
_SEARCH_DAYS = 15


@dataclass(frozen=True)
class Window:
    """One concrete support window: kind and local start/end instants."""

    kind: WindowKind
    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


@dataclass(frozen=True)
class SupportStatus:
    """Where support stands at `at`: the open window (if any), the next opening, and why the day is special."""

    at: datetime
    current: Window | None
    following: (
        Window | None
    )  # the window right after `current` when they touch (comercial → guardia)
    next_opening: Window | None  # when closed: the earliest window that opens after `at`
    holiday_name: str | None  # today's holiday, if any
    opening_holiday_name: str | None  # the holiday on the day of `next_opening`, if any

    @property
    def is_open(self) -> bool:
        return self.current is not None


def holiday_name(day: date, spec: SupportSpec) -> str | None:
    """The name of the holiday on `day`, or None on an ordinary day."""
    if day in spec.extra_holidays:
        return COMPANY_HOLIDAY
    return national_holidays(spec.holiday_country, day.year).get(day)


def windows_on(day: date, spec: SupportSpec) -> list[Window]:
    """The support windows of a calendar day, in order, as local instants."""
    if holiday_name(day, spec) is not None:
        specs = spec.windows.holiday
    elif day.weekday() == 6:
        specs = spec.windows.sunday
    elif day.weekday() == 5:
        specs = spec.windows.saturday
    else:
        specs = spec.windows.weekday
    return [_concrete(day, w, spec) for w in specs]


def _concrete(day: date, window: WindowSpec, spec: SupportSpec) -> Window:
    midnight = datetime.combine(day, time(0), tzinfo=spec.tz)
    return Window(
        kind=window.kind,
        start=midnight + timedelta(minutes=window.start_minute),
        end=midnight + timedelta(minutes=window.end_minute),
    )


def _windows_from(day: date, spec: SupportSpec, days: int) -> list[Window]:
    found: list[Window] = []
    for offset in range(days):
        found.extend(windows_on(day + timedelta(days=offset), spec))
    return found


def support_status_at(instant: datetime, spec: SupportSpec) -> SupportStatus:
    """Support's state at `instant` (any aware datetime), computed in the protocol's time zone."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    local = instant.astimezone(spec.tz)
    windows = _windows_from(local.date() - timedelta(days=1), spec, _SEARCH_DAYS + 1)
    current = next((w for w in windows if w.contains(local)), None)
    following = None
    next_opening = None
    if current is not None:
        following = next((w for w in windows if w.start == current.end), None)
    else:
        next_opening = next((w for w in windows if w.start > local), None)
    return SupportStatus(
        at=local,
        current=current,
        following=following,
        next_opening=next_opening,
        holiday_name=holiday_name(local.date(), spec),
        opening_holiday_name=holiday_name(next_opening.start.date(), spec)
        if next_opening
        else None,
    )


def open_overlap(start: datetime, end: datetime, spec: SupportSpec) -> timedelta:
    """How much of [start, end) support was open (its windows, holidays included)."""
    if end <= start:
        return timedelta(0)
    local_start, local_end = start.astimezone(spec.tz), end.astimezone(spec.tz)
    total = timedelta(0)
    day = local_start.date() - timedelta(days=1)
    while day <= local_end.date():
        for window in windows_on(day, spec):
            begin, finish = max(window.start, local_start), min(window.end, local_end)
            if finish > begin:
                total += finish - begin
        day += timedelta(days=1)
    return total
