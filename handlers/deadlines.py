"""Jobs whose trigger is time: deadlines and reminders, each a stored timer fired once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bot import texts
from bot.access import access_repeat_due
from bot.allclear import (
    ack_reminder_due,
    close_with_summary,
)
from bot.incidents import (
    confirmation_deadline,
    expire_unconfirmed,
)
from bot.jobs import register_timer_handler
from bot.lifecycle import (
    get_incident,
    touch_progress,
)
from bot.timers import DueTimer
from bot.vocab import TimerKind
from handlers.access import repeat_request
from handlers.allclear import publish_summary
from handlers.cards import (
    announce_outcome,
    broadcast,
    claim_markup,
    panel_markup,
    refresh_cards,
    support_text,
    tell_coordinator,
    view_of,
)
from handlers.common import CRITICAL, runtime
from models.incident import OPEN_STATUSES


async def on_confirmation_deadline(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    """Nobody can wait forever for votes: decide general, probably local or unconfirmed."""
    rt = runtime(context)
    assert timer.incident_id is not None
    outcome = await confirmation_deadline(
        session, incident_id=timer.incident_id, now=rt.clock.now(), protocol=rt.protocol
    )
    if outcome is not None:
        await refresh_cards(context, timer.incident_id)
        await announce_outcome(context, await view_of(context, timer.incident_id))


async def on_expiry(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    """Nobody confirmed nor followed up: close it, so the next outage opens a fresh incident."""
    rt = runtime(context)
    assert timer.incident_id is not None
    if await expire_unconfirmed(session, incident_id=timer.incident_id, now=rt.clock.now()):
        await refresh_cards(context, timer.incident_id)
        await broadcast(context, texts.dismissed(await view_of(context, timer.incident_id)))


async def on_nudge(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    """ "FLEXUS sigue caído hace 35 min. ¿Novedades?" to the coordinator, or to the group."""
    rt = runtime(context)
    assert timer.incident_id is not None
    now = rt.clock.now()
    incident = await get_incident(session, timer.incident_id, open_only=False)
    if incident.status not in OPEN_STATUSES:
        await session.commit()
        return
    await touch_progress(session, incident.id, now, rt.protocol)  # the next reminder
    await session.commit()
    text = texts.nudge(
        incident.id,
        now - incident.opened_at,
        coordinated=incident.coordinator_id is not None,
        validated=incident.validated_at is not None,
    )
    if incident.coordinator_id is None:
        await broadcast(context, text, claim_markup(incident.id))
    else:
        await tell_coordinator(context, incident.id, text, panel_markup(incident.id))
    await refresh_cards(context, incident.id)


async def on_support_opens(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    """Support just opened: whoever manages the case must call now."""
    assert timer.incident_id is not None
    incident = await get_incident(session, timer.incident_id, open_only=False)
    await session.commit()
    if incident.status not in OPEN_STATUSES or incident.support_contacted_at is not None:
        return
    text = texts.support_opened(incident.id, support_text(context))
    if incident.coordinator_id is None:
        await broadcast(context, text, claim_markup(incident.id), priority=CRITICAL)
    else:
        await tell_coordinator(
            context, incident.id, text, panel_markup(incident.id), priority=CRITICAL
        )


async def on_access_repeat(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    rt = runtime(context)
    assert timer.incident_id is not None
    access = await access_repeat_due(
        session,
        incident_id=timer.incident_id,
        round_number=int(timer.payload.get("round", 1)),
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if access is not None:
        await repeat_request(context, access)
        await refresh_cards(context, timer.incident_id)


async def on_ack_reminder(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    """Sectors that have not confirmed the all-clear are reminded, by name."""
    rt = runtime(context)
    assert timer.incident_id is not None
    people = await ack_reminder_due(
        session, incident_id=timer.incident_id, now=rt.clock.now(), protocol=rt.protocol
    )
    if people is None:
        return
    await refresh_cards(context, timer.incident_id)
    view = await view_of(context, timer.incident_id)
    missing = view.acks.missing if view.acks else []
    await broadcast(context, texts.ack_reminder(timer.incident_id, missing, people))


async def on_ack_deadline(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    """Time is up for acknowledgements: post the summary with whoever confirmed."""
    rt = runtime(context)
    assert timer.incident_id is not None
    data = await close_with_summary(
        session, incident_id=timer.incident_id, now=rt.clock.now(), protocol=rt.protocol
    )
    if data is not None:
        await publish_summary(context, data)


def register(app: Application) -> None:
    register_timer_handler(app, TimerKind.CONFIRMATION, on_confirmation_deadline)
    register_timer_handler(app, TimerKind.EXPIRY, on_expiry)
    register_timer_handler(app, TimerKind.NUDGE, on_nudge)
    register_timer_handler(app, TimerKind.SUPPORT_OPENS, on_support_opens)
    register_timer_handler(app, TimerKind.ACCESS_REPEAT, on_access_repeat)
    register_timer_handler(app, TimerKind.ACK_REMINDER, on_ack_reminder)
    register_timer_handler(app, TimerKind.ACK_DEADLINE, on_ack_deadline)
