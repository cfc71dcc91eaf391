"""Probably local / unconfirmed: the reporter records a local cause, or escalates anyway."""

from __future__ import annotations

import re

from telegram import CallbackQuery, Update
from telegram.ext import Application, CallbackQueryHandler

from bot import notify, texts
from bot.incidents import Refused, dismiss_as_local, escalate
from handlers.cards import announce_outcome, refresh_cards
from handlers.common import Context, allowed_button, runtime

CAUSE_DATA = re.compile(r"^l:(\d{1,9}):(pc|internet|power)$")
ESCALATE_DATA = re.compile(r"^e:(\d{1,9})$")


async def _refuse(query: CallbackQuery, refused: Refused) -> None:
    await query.answer(texts.REFUSALS[refused.reason], show_alert=True)


async def local_cause(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None or not await allowed_button(update, context):
        return
    match = CAUSE_DATA.match(query.data or "")
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    rt, user_id = runtime(context), query.from_user.id
    try:
        async with rt.session() as session:
            await dismiss_as_local(
                session,
                incident_id=int(match[1]),
                user_id=user_id,
                is_admin=rt.is_admin(user_id),
                cause=match[2],
                now=rt.clock.now(),
            )
    except Refused as refused:
        await _refuse(query, refused)
        return
    await query.answer(texts.DISMISSED_OK)
    view = await refresh_cards(context, int(match[1]))
    await notify.broadcast(context.bot, rt.team_chat_ids, texts.dismissed(view))


async def escalate_anyway(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None or not await allowed_button(update, context):
        return
    match = ESCALATE_DATA.match(query.data or "")
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    rt, user_id = runtime(context), query.from_user.id
    try:
        async with rt.session() as session:
            moved = await escalate(
                session,
                incident_id=int(match[1]),
                user_id=user_id,
                is_admin=rt.is_admin(user_id),
                now=rt.clock.now(),
            )
    except Refused as refused:
        await _refuse(query, refused)
        return
    await query.answer(texts.ESCALATED_OK)
    view = await refresh_cards(context, int(match[1]))
    if moved:
        await announce_outcome(context, view, escalated=True)


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(local_cause, pattern=r"^l:"))
    app.add_handler(CallbackQueryHandler(escalate_anyway, pattern=r"^e:"))
