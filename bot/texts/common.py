"""Formatting every text shares: escaping user text, mentions, times and durations as people say them."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "ALERT_LIMIT",
    "DONE",
    "MESSAGE_LIMIT",
    "NO_SECTOR",
    "WEEKDAYS",
    "alert",
    "clock_time",
    "duration",
    "esc",
    "mention",
    "quoted",
    "when",
    "who",
]


WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


NO_SECTOR = "sin sector"


def esc(text: str | None, limit: int | None = None) -> str:
    """User text, shown exactly as typed: cut to `limit` characters and escaped for HTML."""
    text = text or ""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=False)


def quoted(text: str | None, limit: int | None = None) -> str:
    """What a person wrote (a description, a group's title), in “ ” quotes: the bot's own «»
    stay for its buttons and words, so a «» the person typed never nests inside them."""
    return f"“{esc(text, limit)}”"


# Unicode's first-strong isolate and pop directional isolate: a name in Arabic or Hebrew
# between them does not reorder the Spanish line around it.
FSI, PDI = "\u2068", "\u2069"


def isolated(text: str) -> str:
    """`text` kept apart from the line's direction when it holds right-to-left letters."""
    if any(unicodedata.bidirectional(c) in ("R", "AL") for c in text):
        return f"{FSI}{text}{PDI}"
    return text


def who(name: str | None, limit: int = 64) -> str:
    """A person's name as every text shows it: escaped, cut, kept apart if right-to-left."""
    return isolated(esc(name, limit))


def mention(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={user_id}">{who(name)}</a>'


def clock_time(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%H:%M")


def when(instant: datetime, now: datetime, tz: ZoneInfo) -> str:
    """A moment as people say it: "hoy a las 10:00", "mañana a las 08:00", "el sábado 28/11 a las 13:00"."""
    local, today = instant.astimezone(tz), now.astimezone(tz).date()
    at = f"a las {local:%H:%M}"
    if local.date() == today:
        return f"hoy {at}"
    if local.date() == today + timedelta(days=1):
        return f"mañana {at}"
    return f"el {WEEKDAYS[local.weekday()]} {local:%d/%m} {at}"


def duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "menos de 1 min"
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


MESSAGE_LIMIT = 4000  # Telegram's limit is 4096 characters


ALERT_LIMIT = 200  # Telegram's limit for a button's answer


def alert(text: str) -> str:
    """Button answers are plain text (no HTML) of at most 200 characters."""
    text = html.unescape(re.sub(r"</?[a-z]+[^>]*>", "", text))
    return text if len(text) <= ALERT_LIMIT else text[: ALERT_LIMIT - 1] + "…"


DONE = "👍"
