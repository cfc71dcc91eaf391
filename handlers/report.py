"""/caido [lo que ves] (or a photo with /caido as caption): open the incident or join it."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot import outbox, texts
from bot.incidents import (
    open_or_join_incident,
)
from handlers.cards import announce_outcome, post_alert, refresh_cards, view_of
from handlers.common import (
    NEW_MESSAGES,
    STORED_TEXT_MAX,
    Context,
    allowed_here,
    person_of,
    react,
)
from handlers.sector import ask_sector_later

COMMAND_PREFIX = re.compile(r"^/caido(?:@\w+)?\s*", re.IGNORECASE)
PHOTO_CAPTION = r"(?i)^/caido(?:@\w+)?(?:\s|$)"


async def caido(update: Update, context: Context) -> None:
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    if not await allowed_here(update, context, private_ok=False):
        return
    rt = context.runtime
    raw = message.text or message.caption or ""
    photo = message.photo[-1].file_id if message.photo else None
    async with rt.session() as session:
        result = await open_or_join_incident(
            session,
            person=person_of(user),
            chat_id=chat.id,
            chat_sector=rt.chat_sector(chat.id),
            message_id=message.message_id,
            text=COMMAND_PREFIX.sub("", raw, count=1).strip()[:STORED_TEXT_MAX],
            photo_file_id=photo,
            now=rt.clock.now(),
            protocol=rt.protocol,
        )
    if result.opened:
        await post_alert(context, result.incident_id)
        if photo is not None:
            caption = texts.photo_caption(result.incident_id)
            async with rt.session() as session:
                for chat_id in rt.team_chat_ids:
                    if chat_id != chat.id:
                        outbox.photo(
                            session,
                            chat_id,
                            photo,
                            caption,
                            priority=outbox.NEWS,
                            now=rt.clock.now(),
                        )
    else:
        # Quiet groups: the card's tally shows who joined; the person gets a reaction, and the
        # group's flood budget stays for the news.
        await react(update, texts.JOINED_REACTION)
        await refresh_cards(context, result.incident_id)
    if result.became_general:
        await announce_outcome(context, await view_of(context, result.incident_id))
    if result.needs_sector:
        await ask_sector_later(context, chat.id, user.id)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("caido", caido, filters=NEW_MESSAGES))
    app.add_handler(
        MessageHandler(NEW_MESSAGES & filters.PHOTO & filters.CaptionRegex(PHOTO_CAPTION), caido)
    )
