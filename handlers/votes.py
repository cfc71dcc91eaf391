"""The confirmation poll: "A mí también me falla" / "A mí me funciona" on the alert card."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from bot.incidents import Refused, cast_vote
from handlers.cards import announce_outcome, refresh_cards
from handlers.common import Context, allowed_button, person_of, reply, runtime
from handlers.sector import sector_markup
from models.incident import FAILS, WORKS

VOTE_DATA = re.compile(r"^v:(\d{1,9}):([fw])$")


async def vote(update: Update, context: Context) -> None:
    query, chat = update.callback_query, update.effective_chat
    if query is None or not await allowed_button(update, context):
        return
    match = VOTE_DATA.match(query.data or "")
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    rt = runtime(context)
    choice = FAILS if match[2] == "f" else WORKS
    try:
        async with rt.session() as session:
            result = await cast_vote(
                session,
                incident_id=int(match[1]),
                person=person_of(query.from_user),
                chat_sector=rt.chat_sector(chat.id) if chat else None,
                choice=choice,
                now=rt.clock.now(),
                protocol=rt.protocol,
            )
    except Refused as refused:
        closed = refused.reason == "closed"
        await query.answer(
            texts.CLOSED_VOTE if closed else texts.REFUSALS[refused.reason], show_alert=True
        )
        return
    if not result.changed:
        await query.answer(texts.VOTE_SAME)
        return
    await query.answer(texts.VOTE_FAILS if choice == FAILS else texts.VOTE_WORKS)
    view = await refresh_cards(context, result.incident_id)
    if result.became_general:
        await announce_outcome(context, view)
    if result.needs_sector and result.first_vote:
        user = query.from_user
        await reply(
            update,
            texts.ask_sector(user.id, user.full_name),
            reply_markup=sector_markup(rt.protocol.team.sectors),
        )


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(vote, pattern=r"^v:"))
