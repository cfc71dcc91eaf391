"""The office's working days and hours (`[workday]` of the protocol file), on the support-hours
engine's calendar: the morning check before opening, availability within working hours, and
escalations that wait for the office to open."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.core.config import Protocol
from bot.support.hours import holiday_name


def day_kind(day: date, protocol: Protocol) -> str:
    """weekday, saturday, sunday or holiday (a holiday first), as [workday] names them."""
    if holiday_name(day, protocol.support) is not None:
        return "holiday"
    return {5: "saturday", 6: "sunday"}.get(day.weekday(), "weekday")


def next_morning_check(now: datetime, protocol: Protocol) -> datetime:
    """`checks.morning_minutes` before the next opening of the office (per [workday])."""
    tz = protocol.support.tz
    today = now.astimezone(tz).date()
    ahead = timedelta(minutes=protocol.checks.morning_minutes)
    for offset in range(15):
        day = today + timedelta(days=offset)
        hours = protocol.workday.hours(day_kind(day, protocol))
        if hours is None:
            continue
        at = datetime.combine(day, hours[0], tz) - ahead
        if at > now:
            return at
    return now + timedelta(days=1)


def in_working_hours(instant: datetime, protocol: Protocol) -> bool:
    local = instant.astimezone(protocol.support.tz)
    hours = protocol.workday.hours(day_kind(local.date(), protocol))
    return hours is not None and hours[0] <= local.time() < hours[1]


def working_or_next_opening(instant: datetime, protocol: Protocol) -> datetime:
    """`instant` if the office works then, else when it next opens."""
    if in_working_hours(instant, protocol):
        return instant
    tz = protocol.support.tz
    today = instant.astimezone(tz).date()
    for offset in range(15):
        day = today + timedelta(days=offset)
        hours = protocol.workday.hours(day_kind(day, protocol))
        if hours is None:
            continue
        opens = datetime.combine(day, hours[0], tz)
        if opens > instant:
            return opens
    return instant
