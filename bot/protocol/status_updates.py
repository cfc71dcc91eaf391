"""Status updates: what the coordinator tells every team chat while FLEXUS is down, with the
time of the next update. The promise is kept by the "¿Novedades?" reminder: it falls due when
the announced time passes without a new update."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol
from bot.protocol.lifecycle import (
    Refused,
    add_event,
    get_incident,
    member_name,
    require_coordinator,
)
from bot.timers import store as timers
from models import StatusUpdate
from models.incident import GENERAL, IN_PROGRESS, VALIDATING
from models.vocab import EventKind, Refusal, TimerKind

TEXT_MAX = 600
# "… próxima 10:15" at the end of the text sets the next update's time.
_NEXT = re.compile(
    r"\s*[,.;]?\s*pr[oó]xima(?:\s+novedad)?(?:\s+a\s+las)?\s+(\d{1,2})[:.](\d{2})\s*$", re.I
)


@dataclass(frozen=True)
class Update:
    incident_id: int
    text: str
    at: datetime
    next_at: datetime
    author: str


def split_next(text: str, now: datetime, tz: ZoneInfo) -> tuple[str, datetime | None]:
    """The update's words and the next update's time, if the text ends with "próxima HH:MM"
    (today, or tomorrow if that time has passed)."""
    found = _NEXT.search(text)
    if found is None:
        return text.strip(), None
    hours, minutes = int(found.group(1)), int(found.group(2))
    if hours > 23 or minutes > 59:
        return text.strip(), None
    local_now = now.astimezone(tz)
    at = datetime.combine(local_now.date(), time(hours, minutes), tz)
    if at <= local_now:
        at += timedelta(days=1)
    return text[: found.start()].strip(), at


async def post_update(
    session: AsyncSession,
    *,
    incident_id: int,
    user_id: int,
    is_admin: bool,
    text: str,
    next_at: datetime | None,
    now: datetime,
    protocol: Protocol,
) -> Update:
    """Store the update (the coordinator or an admin, while it is a general failure) and move
    the "¿Novedades?" reminder to the promised time."""
    incident = await get_incident(session, incident_id, open_only=True)
    if incident.status not in (GENERAL, IN_PROGRESS, VALIDATING):
        raise Refused(Refusal.NOT_GENERAL_YET)
    await require_coordinator(session, incident, user_id, is_admin)
    promised = next_at or now + timedelta(minutes=protocol.deadlines.coordinator_reminder_minutes)
    words = text.strip()[:TEXT_MAX]
    session.add(
        StatusUpdate(
            incident_id=incident_id,
            author_id=user_id,
            text=words,
            created_at=now,
            next_at=promised,
        )
    )
    add_event(session, incident_id, EventKind.STATUS_UPDATE, user_id, now, words)
    await timers.cancel(session, incident_id=incident_id, kinds=(TimerKind.NUDGE,))
    timers.schedule(
        session, kind=TimerKind.NUDGE, incident_id=incident_id, due_at=promised, now=now
    )
    await session.flush()
    return Update(incident_id, words, now, promised, await member_name(session, user_id) or "")


async def latest(session: AsyncSession, incident_id: int) -> Update | None:
    found = await session.scalar(
        select(StatusUpdate)
        .where(StatusUpdate.incident_id == incident_id)
        .order_by(StatusUpdate.id.desc())
        .limit(1)
    )
    if found is None:
        return None
    return Update(
        incident_id,
        found.text,
        found.created_at,
        found.next_at,
        await member_name(session, found.author_id) or "",
    )
