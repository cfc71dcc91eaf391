"""Jobs whose trigger is time: the confirmation deadline."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bot.incidents import CONFIRMATION_TIMER, confirmation_deadline
from bot.jobs import register_timer_handler
from bot.timers import DueTimer
from handlers.cards import announce_outcome, refresh_cards
from handlers.common import runtime


async def on_confirmation_deadline(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    """Nobody can wait forever for votes: decide general, probably local or unconfirmed."""
    if timer.incident_id is None:
        return
    rt = runtime(context)
    outcome = await confirmation_deadline(
        session, incident_id=timer.incident_id, now=rt.clock.now(), protocol=rt.protocol
    )
    if outcome is not None:
        await announce_outcome(context, await refresh_cards(context, timer.incident_id))


def register(app: Application) -> None:
    register_timer_handler(app, CONFIRMATION_TIMER, on_confirmation_deadline)
