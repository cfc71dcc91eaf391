"""Status updates: /novedad (or "📣 Contar novedades" on the panel, then a reply) tells every
team chat what is going on and when the next news comes; the card shows the latest."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.core.config import fold
from bot.protocol import status_updates
from bot.protocol.lifecycle import open_incident_id
from bot.team.members import get_member
from bot.texts.common import ALERT_LIMIT
from handlers.kit import buttons
from handlers.kit.cards import broadcast, refresh_cards, show_panel
from handlers.kit.context import NEW_MESSAGES, STORED_TEXT_MAX, Context
from handlers.kit.guards import allowed_here, parse_button
from handlers.kit.prompts import register_prompt
from handlers.kit.replies import CHATTER, answer_query, reply, run_in_transaction, send
from models.vocab import MessageKind, Refusal

COMMAND_PREFIX = re.compile(r"^/novedad(?:es)?(?:@\w+)?\s*", re.IGNORECASE)


async def novedad(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or not await allowed_here(update, context, private_ok=True):
        return
    text = COMMAND_PREFIX.sub("", message.text or "", count=1).strip()[:STORED_TEXT_MAX]
    if not text:
        await reply(update, texts.NEWS_HOW)
        return
    async with context.runtime.session(refusable=False) as session:
        incident_id = await open_incident_id(session)
    if incident_id is None:
        await reply(update, texts.REFUSALS[Refusal.NO_OPEN_INCIDENT])
        return
    await tell(update, context, incident_id, text)


async def news_pressed(update: Update, context: Context) -> None:
    """ "📣 Contar novedades": the question; the reply to it is the news."""
    parsed = await parse_button(update, context, buttons.TellNews)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    async with context.runtime.session(refusable=False) as session:
        open_id = await open_incident_id(session)
    if open_id is None or open_id != pressed.incident_id:  # an old card, or a forged button
        await answer_query(query, texts.STALE_BUTTON, alert=True)
        return
    await answer_query(query, texts.DONE)
    person = query.from_user
    await send(
        context,
        update.effective_chat.id,
        texts.news_prompt(person.id, person.full_name),
        priority=CHATTER,
        record=(pressed.incident_id, MessageKind.STATUS_PROMPT),
    )


async def news_replied(update: Update, context: Context, incident_id: int, text: str) -> None:
    await tell(update, context, incident_id, text)


async def tell(update: Update, context: Context, incident_id: int, text: str) -> None:
    """Store the news, tell every team chat, show it on the card and the panel."""
    user = update.effective_user
    if user is None:
        return
    rt = context.runtime
    now = rt.clock.now()
    words, next_at = status_updates.split_next(text, now, rt.tz)
    if not words:
        await reply(update, texts.NEWS_HOW)
        return
    told = await run_in_transaction(
        update,
        context,
        status_updates.post_update,
        incident_id=incident_id,
        user_id=user.id,
        is_admin=rt.is_admin(user.id),
        text=words,
        next_at=next_at,
        now=now,
        protocol=rt.protocol,
    )
    if told is None:
        return
    await broadcast(context, texts.status_update(told, rt.tz))
    await refresh_cards(context, incident_id)
    await show_panel(context, incident_id)


async def meanwhile_pressed(update: Update, context: Context) -> None:
    """ "📋 Qué hago mientras tanto": the presser's sector's instructions (every sector's when
    they have none): as a toast when short, else privately (or in the group, to them)."""
    parsed = await parse_button(update, context, buttons.Meanwhile)
    if parsed is None:
        return
    query, _ = parsed
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        member = await get_member(session, query.from_user.id)
    sectors = rt.protocol.contingency.sectors
    sector = next(
        (
            name
            for name in sectors
            if member and member.sector and fold(name) == fold(member.sector)
        ),
        None,
    )
    if sector is not None:
        toast = texts.contingency_toast(sector, sectors[sector])
        if len(toast) <= ALERT_LIMIT:
            await answer_query(query, toast, alert=True)
            return
    answer = texts.contingency_answer(sector, sectors)
    await answer_query(query, texts.DONE)
    private = member is not None and member.private_chat
    chat_id = query.from_user.id if private else query.message.chat.id if query.message else None
    if chat_id is not None:
        await send(context, chat_id, answer, priority=CHATTER)


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["novedad", "novedades"], novedad, filters=NEW_MESSAGES))
    app.add_handler(CallbackQueryHandler(news_pressed, pattern=buttons.TellNews.pattern()))
    register_prompt(app, MessageKind.STATUS_PROMPT, news_replied)
    app.add_handler(CallbackQueryHandler(meanwhile_pressed, pattern=buttons.Meanwhile.pattern()))
