"""Probably local / unconfirmed: the reporter records a local cause, or escalates anyway."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from bot.protocol.incidents import (
    dismiss_as_local,
    escalate,
    expire_unconfirmed,
)
from bot.runtime import Runtime
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.kit import buttons
from handlers.kit.cards import announce_outcome, broadcast, refresh_cards, view_of
from handlers.kit.context import Context
from handlers.kit.guards import parse_button
from handlers.kit.replies import answer_query, run_in_transaction
from models.vocab import TimerKind


async def local_cause(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.FoundLocalCause)
    if parsed is None:
        return
    query, pressed = parsed
    rt, user_id, incident_id = context.runtime, query.from_user.id, pressed.incident_id
    dismissed = await run_in_transaction(
        update,
        context,
        dismiss_as_local,
        incident_id=incident_id,
        user_id=user_id,
        is_admin=rt.is_admin(user_id),
        cause=pressed.cause,
        now=rt.clock.now(),
    )
    if dismissed is None:
        return
    await answer_query(query, texts.DISMISSED_OK)
    await announce_dismissed(context, incident_id)


async def escalate_anyway(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.Escalate)
    if parsed is None:
        return
    query, pressed = parsed
    rt, user_id, incident_id = context.runtime, query.from_user.id, pressed.incident_id
    moved = await run_in_transaction(
        update,
        context,
        escalate,
        incident_id=incident_id,
        user_id=user_id,
        is_admin=rt.is_admin(user_id),
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if moved is None:
        return
    await answer_query(query, texts.ESCALATED_OK)
    await refresh_cards(context, incident_id)
    if moved:
        await announce_outcome(context, await view_of(context, incident_id), escalated=True)


async def announce_dismissed(context: Context, incident_id: int) -> None:
    await refresh_cards(context, incident_id)
    await broadcast(context, texts.dismissed(await view_of(context, incident_id)))


# --- nobody followed up ----------------------------------------------------------------------


async def expire_if_nobody_followed_up(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> int | None:
    """Nobody confirmed nor followed up: close it, so the next outage opens a fresh incident."""
    expired = await expire_unconfirmed(session, incident_id=timer.incident, now=rt.clock.now())
    return timer.incident if expired else None


def register(app: Application) -> None:
    register_timer(app, TimerKind.EXPIRY, expire_if_nobody_followed_up, announce_dismissed)
    app.add_handler(CallbackQueryHandler(local_cause, pattern=buttons.FoundLocalCause.pattern()))
    app.add_handler(CallbackQueryHandler(escalate_anyway, pattern=buttons.Escalate.pattern()))
