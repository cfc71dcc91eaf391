"""Planned maintenance: windows announced ahead, during which a /caido is not an outage.

`parse` turns what follows /mantenimiento into a command (pure: times in the protocol's time
zone, "today, or tomorrow if already past"); the services store windows, move their end, end or
cancel them, and keep one stored timer per moment the team hears about (a reminder, the start,
the end), so a restart loses none and sends none twice. Recurring windows of the protocol file
(`[[maintenance]]`) are stored as occurrences a week ahead, on the support-hours engine's
calendar (holidays included).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import DAY_NAMES, Protocol, RecurringMaintenance
from bot.support.hours import holiday_name
from bot.timers import store as timers
from models import MaintenanceWindow, Timer
from models.timer import CANCELLED, PENDING
from models.vocab import MaintenanceSource, TimerKind

MAX_LENGTH = timedelta(hours=24)
REASON_MAX = 300
DEFAULT_REASON = "Mantenimiento de FLEXUS"
RECURRING_DAYS_AHEAD = 8
WINDOW_TIMERS = (
    TimerKind.MAINTENANCE_REMINDER,
    TimerKind.MAINTENANCE_START,
    TimerKind.MAINTENANCE_END,
)


class Problem(StrEnum):
    """Why a /mantenimiento was not taken (each has one line and an example in bot.texts)."""

    FORMAT = "format"  # not one of the forms
    DATE = "date"  # a date that does not exist or cannot be read
    TIME = "time"  # a time that cannot be read
    DURATION = "duration"  # "ahora 45m": a duration that cannot be read
    PAST = "past"  # the window is over before it starts
    END_BEFORE_START = "end_before_start"
    TOO_LONG = "too_long"  # over 24 hours
    OVERLAP = "overlap"  # with another planned window
    NOT_RUNNING = "not_running"  # fin / hasta with no window under way
    UNKNOWN = "unknown"  # cancelar N: no such window to cancel


class MaintenanceRefused(Exception):
    def __init__(self, problem: Problem, other: Planned | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.other = other  # the window it overlaps


# --- what the person typed -----------------------------------------------------------------------
@dataclass(frozen=True)
class ListWindows:
    pass


@dataclass(frozen=True)
class EndNow:
    pass


@dataclass(frozen=True)
class MoveEnd:
    end: datetime


@dataclass(frozen=True)
class CancelWindow:
    window_id: int
    reason: str


@dataclass(frozen=True)
class PlanWindow:
    start: datetime
    end: datetime
    reason: str


Command = ListWindows | EndNow | MoveEnd | CancelWindow | PlanWindow

_TIME = r"(\d{1,2})[:.](\d{2})"
_RANGE = re.compile(rf"^(?:(\S+)\s+)?{_TIME}\s*[-–a]\s*{_TIME}(?:\s+(.*))?$", re.DOTALL)
_DURATION = re.compile(r"^(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$")


def parse(text: str, now: datetime, tz: ZoneInfo) -> Command:
    """What follows /mantenimiento, as a command; raises MaintenanceRefused for bad input."""
    words = text.strip()
    first, _, rest = words.partition(" ")
    keyword = first.casefold()
    if not words:
        return ListWindows()
    if keyword == "fin" and not rest.strip():
        return EndNow()
    if keyword == "hasta":
        return MoveEnd(_next_time(rest.strip(), now, tz, allow_tomorrow=False))
    if keyword == "cancelar":
        number, _, reason = rest.strip().partition(" ")
        if not number.lstrip("#").isdigit():
            raise MaintenanceRefused(Problem.FORMAT)
        return CancelWindow(int(number.lstrip("#")), reason.strip()[:REASON_MAX])
    if keyword == "ahora":
        length, _, reason = rest.strip().partition(" ")
        duration = _duration(length)
        return PlanWindow(now, now + duration, _reason(reason))
    found = _RANGE.match(words)
    if found is None:
        raise MaintenanceRefused(Problem.FORMAT)
    day_text, h1, m1, h2, m2, reason = found.groups()
    start_time, end_time = _clock(h1, m1), _clock(h2, m2)
    local_now = now.astimezone(tz)
    if day_text is not None:
        day = _date(day_text, local_now.date())
    else:
        day = local_now.date()
        if datetime.combine(day, start_time, tz) <= local_now:
            day += timedelta(days=1)  # today's start is past: tomorrow
    start = datetime.combine(day, start_time, tz)
    end = datetime.combine(day, end_time, tz)
    if end <= start:
        raise MaintenanceRefused(Problem.END_BEFORE_START)
    return PlanWindow(start, end, _reason(reason or ""))


def _reason(text: str) -> str:
    return (text.strip() or DEFAULT_REASON)[:REASON_MAX]


def _clock(hours: str, minutes: str) -> time:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise MaintenanceRefused(Problem.TIME)
    return time(h, m)


def _next_time(text: str, now: datetime, tz: ZoneInfo, *, allow_tomorrow: bool) -> datetime:
    found = re.fullmatch(_TIME, text)
    if found is None:
        raise MaintenanceRefused(Problem.TIME)
    local_now = now.astimezone(tz)
    at = datetime.combine(local_now.date(), _clock(*found.groups()), tz)
    if at <= local_now and allow_tomorrow:
        at += timedelta(days=1)
    return at


def _duration(text: str) -> timedelta:
    found = _DURATION.fullmatch(text.strip().casefold())
    if not text.strip() or found is None or not any(found.groups()):
        raise MaintenanceRefused(Problem.DURATION)
    hours, minutes = (int(g) if g else 0 for g in found.groups())
    length = timedelta(hours=hours, minutes=minutes)
    if length <= timedelta(0):
        raise MaintenanceRefused(Problem.DURATION)
    return length


def _date(text: str, today: date) -> date:
    """28/12, 28/12/2026, 28-12-26, 2026-12-28; a date without a year is the next one to come."""
    cleaned = text.replace("-", "/").replace(".", "/")
    parts = cleaned.split("/")
    try:
        if len(parts) == 3 and len(parts[0]) == 4:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        if len(parts) == 3:
            year = int(parts[2])
            return date(year + 2000 if year < 100 else year, int(parts[1]), int(parts[0]))
        if len(parts) == 2:
            found = date(today.year, int(parts[1]), int(parts[0]))
            return found if found >= today else date(today.year + 1, found.month, found.day)
    except ValueError:
        raise MaintenanceRefused(Problem.DATE) from None
    raise MaintenanceRefused(Problem.DATE)


# --- stored windows ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Planned:
    id: int
    starts_at: datetime
    ends_at: datetime
    announced_end: datetime
    reason: str
    cancelled: bool = False

    def running(self, now: datetime) -> bool:
        return not self.cancelled and self.starts_at <= now < self.ends_at

    @property
    def ran_over(self) -> bool:
        return self.ends_at > self.announced_end


def _planned(row: MaintenanceWindow) -> Planned:
    return Planned(
        row.id,
        row.starts_at,
        row.ends_at,
        row.announced_end,
        row.reason,
        row.cancelled_at is not None,
    )


def _payload(window_id: int) -> str:
    return json.dumps({"window": window_id})


def _schedule_moments(
    session: AsyncSession, window: MaintenanceWindow, now: datetime, protocol: Protocol
) -> None:
    """The stored timers of a window: the reminder (if it is still ahead), start and end."""
    remind = window.starts_at - timedelta(minutes=protocol.deadlines.maintenance_reminder_minutes)
    payload = {"window": window.id}
    if protocol.deadlines.maintenance_reminder_minutes > 0 and remind > now:
        timers.schedule(
            session,
            kind=TimerKind.MAINTENANCE_REMINDER,
            incident_id=None,
            due_at=remind,
            now=now,
            payload=payload,
        )
    timers.schedule(
        session,
        kind=TimerKind.MAINTENANCE_START,
        incident_id=None,
        due_at=max(window.starts_at, now),
        now=now,
        payload=payload,
    )
    timers.schedule(
        session,
        kind=TimerKind.MAINTENANCE_END,
        incident_id=None,
        due_at=window.ends_at,
        now=now,
        payload=payload,
    )


async def _cancel_moments(
    session: AsyncSession, window_id: int, kinds: tuple[TimerKind, ...] = WINDOW_TIMERS
) -> None:
    await session.execute(
        update(Timer)
        .where(
            Timer.status == PENDING,
            Timer.kind.in_(list(kinds)),
            Timer.payload == _payload(window_id),
        )
        .values(status=CANCELLED)
        .execution_options(synchronize_session=False)
    )


async def _overlapping(
    session: AsyncSession, start: datetime, end: datetime, *, besides: int | None = None
) -> MaintenanceWindow | None:
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.cancelled_at.is_(None),
        MaintenanceWindow.starts_at < end,
        MaintenanceWindow.ends_at > start,
    )
    if besides is not None:
        query = query.where(MaintenanceWindow.id != besides)
    found: MaintenanceWindow | None = await session.scalar(
        query.order_by(MaintenanceWindow.starts_at).limit(1)
    )
    return found


def _check_times(start: datetime, end: datetime, now: datetime, *, started: bool = False) -> None:
    """`started`: the window is under way (its end is being moved): only the end must be ahead."""
    if end <= start:
        raise MaintenanceRefused(Problem.END_BEFORE_START)
    if end <= now or (not started and start < now - timedelta(minutes=1)):
        raise MaintenanceRefused(Problem.PAST)
    if end - start > MAX_LENGTH:
        raise MaintenanceRefused(Problem.TOO_LONG)


async def plan_window(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    reason: str,
    source: MaintenanceSource,
    by: int | None,
    now: datetime,
    protocol: Protocol,
) -> Planned:
    """Store a planned window and its moments; refused (nothing stored) when it cannot be."""
    _check_times(start, end, now)
    other = await _overlapping(session, start, end)
    if other is not None:
        raise MaintenanceRefused(Problem.OVERLAP, _planned(other))
    window = MaintenanceWindow(
        starts_at=start,
        ends_at=end,
        announced_end=end,
        reason=reason[:REASON_MAX] or DEFAULT_REASON,
        source=source,
        created_by=by,
        created_at=now,
        # From the chat the step announces it; from the command line the running bot does.
        announced_at=now if source == MaintenanceSource.CHAT else None,
    )
    session.add(window)
    await session.flush()
    _schedule_moments(session, window, now, protocol)
    return _planned(window)


async def current_window(session: AsyncSession, now: datetime) -> Planned | None:
    """The window under way now, if any."""
    found: MaintenanceWindow | None = await session.scalar(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.cancelled_at.is_(None),
            MaintenanceWindow.starts_at <= now,
            MaintenanceWindow.ends_at > now,
        )
        .order_by(MaintenanceWindow.starts_at)
        .limit(1)
    )
    return _planned(found) if found is not None else None


async def upcoming(session: AsyncSession, now: datetime, *, limit: int = 10) -> list[Planned]:
    """The windows under way or still to come, soonest first."""
    rows = await session.scalars(
        select(MaintenanceWindow)
        .where(MaintenanceWindow.cancelled_at.is_(None), MaintenanceWindow.ends_at > now)
        .order_by(MaintenanceWindow.starts_at)
        .limit(limit)
    )
    return [_planned(r) for r in rows.all()]


async def windows_between(
    session: AsyncSession, since: datetime | None, until: datetime | None
) -> list[Planned]:
    """Windows that started in [since, until) and were not cancelled (for the reports)."""
    query = select(MaintenanceWindow).where(MaintenanceWindow.cancelled_at.is_(None))
    if since is not None:
        query = query.where(MaintenanceWindow.starts_at >= since)
    if until is not None:
        query = query.where(MaintenanceWindow.starts_at < until)
    rows = await session.scalars(query.order_by(MaintenanceWindow.starts_at))
    return [_planned(r) for r in rows.all()]


async def window(session: AsyncSession, window_id: int) -> Planned | None:
    found = await session.get(MaintenanceWindow, window_id)
    return _planned(found) if found is not None else None


async def end_now(session: AsyncSession, *, now: datetime) -> Planned:
    """/mantenimiento fin: the window under way ends now (announced as its end)."""
    found = await _running_row(session, now)
    found.ends_at = now
    await _cancel_moments(session, found.id, (TimerKind.MAINTENANCE_END,))
    await session.flush()
    return _planned(found)


async def move_end(
    session: AsyncSession, *, end: datetime, now: datetime, protocol: Protocol
) -> Planned:
    """/mantenimiento hasta HH:MM: the window under way ends then instead (later: it ran over
    its announced end)."""
    found = await _running_row(session, now)
    _check_times(found.starts_at, end, now, started=True)
    other = await _overlapping(session, found.starts_at, end, besides=found.id)
    if other is not None:
        raise MaintenanceRefused(Problem.OVERLAP, _planned(other))
    found.ends_at = end
    await _cancel_moments(session, found.id, (TimerKind.MAINTENANCE_END,))
    timers.schedule(
        session,
        kind=TimerKind.MAINTENANCE_END,
        incident_id=None,
        due_at=end,
        now=now,
        payload={"window": found.id},
    )
    await session.flush()
    return _planned(found)


async def _running_row(session: AsyncSession, now: datetime) -> MaintenanceWindow:
    running = await current_window(session, now)
    found = await session.get(MaintenanceWindow, running.id) if running else None
    if found is None:
        raise MaintenanceRefused(Problem.NOT_RUNNING)
    return found


async def cancel_window(
    session: AsyncSession,
    *,
    window_id: int,
    reason: str,
    by: int | None,
    now: datetime,
    announced: bool = True,
) -> Planned:
    """Cancel a window that has not ended; its moments are cancelled with it. `announced`:
    the caller tells the team now (the chat); else the running bot does (the command line)."""
    found = await session.get(MaintenanceWindow, window_id)
    if found is None or found.cancelled_at is not None or found.ends_at <= now:
        raise MaintenanceRefused(Problem.UNKNOWN)
    found.cancelled_at, found.cancelled_by = now, by
    found.cancel_reason = reason or None
    found.cancel_announced_at = now if announced else None
    await _cancel_moments(session, window_id)
    await session.flush()
    return _planned(found)


@dataclass(frozen=True)
class Untold:
    planned: list[Planned]
    cancelled: list[tuple[Planned, str]]


async def tell_untold(session: AsyncSession, *, now: datetime) -> Untold:
    """Windows planned or cancelled from the command line that the team was not told about
    yet: marked told (the caller sends the messages in the same transaction)."""
    planned = (
        await session.scalars(
            select(MaintenanceWindow).where(
                MaintenanceWindow.announced_at.is_(None),
                MaintenanceWindow.source == MaintenanceSource.CLI,
                MaintenanceWindow.cancelled_at.is_(None),
                MaintenanceWindow.ends_at > now,
            )
        )
    ).all()
    cancelled = (
        await session.scalars(
            select(MaintenanceWindow).where(
                MaintenanceWindow.cancelled_at.is_not(None),
                MaintenanceWindow.cancel_announced_at.is_(None),
            )
        )
    ).all()
    for row in planned:
        row.announced_at = now
    for row in cancelled:
        row.cancel_announced_at = now
    await session.flush()
    return Untold(
        [_planned(r) for r in planned], [(_planned(r), r.cancel_reason or "") for r in cancelled]
    )


async def moment_due(session: AsyncSession, *, window_id: int) -> Planned | None:
    """A window's timer fired: the window, if what it announces still holds (not cancelled;
    an end that was moved is announced by its own timer)."""
    found = await window(session, window_id)
    if found is None or found.cancelled:
        return None
    return found


# --- recurring windows of the protocol file ------------------------------------------------------
def occurrences(
    recurring: RecurringMaintenance, first: date, days: int, protocol: Protocol
) -> list[tuple[datetime, datetime]]:
    """The start and end of each occurrence on the `days` days from `first` (local days of the
    protocol's time zone). On a holiday only windows that name "holiday" apply."""
    tz = protocol.support.tz
    found = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        on_holiday = holiday_name(day, protocol.support) is not None
        wanted = "holiday" if on_holiday else DAY_NAMES[day.weekday()]
        if wanted not in recurring.days:
            continue
        start = datetime.combine(day, time(0), tz) + timedelta(minutes=recurring.start_minute)
        # Wall-clock arithmetic in the zone: a DST change cannot shift the announced end.
        end = (start.replace(tzinfo=None) + timedelta(minutes=recurring.minutes)).replace(tzinfo=tz)
        found.append((start, end))
    return found


async def keep_recurring(session: AsyncSession, *, now: datetime, protocol: Protocol) -> int:
    """Store the protocol file's recurring windows of the coming week (each occurrence once);
    one that would overlap a window planned from the chat is left out. How many were added."""
    added = 0
    today = now.astimezone(protocol.support.tz).date()
    for recurring in protocol.maintenance:
        for start, end in occurrences(recurring, today, RECURRING_DAYS_AHEAD, protocol):
            if end <= now:
                continue
            known = await session.scalar(
                select(MaintenanceWindow.id).where(
                    MaintenanceWindow.recurring_key == recurring.key,
                    MaintenanceWindow.starts_at == start,
                )
            )
            if known is not None or await _overlapping(session, start, end) is not None:
                continue
            row = MaintenanceWindow(
                starts_at=start,
                ends_at=end,
                announced_end=end,
                reason=recurring.reason,
                source=MaintenanceSource.PROTOCOL,
                recurring_key=recurring.key,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            _schedule_moments(session, row, now, protocol)
            added += 1
    return added


def downtime_outside(start: datetime, end: datetime, windows: list[Planned]) -> timedelta:
    """The part of [start, end) outside every window: what counts as downtime."""
    total = end - start
    for planned in windows:
        overlap = min(end, planned.ends_at) - max(start, planned.starts_at)
        if overlap > timedelta(0):
            total -= overlap
    return max(total, timedelta(0))
