"""Replies to the bot's questions (ticket number, reason to skip a sector), read as answers."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.lifecycle import (
    prompt_of,
)
from handlers.common import NEW_MESSAGES, STORED_TEXT_MAX, Context, is_anonymous, runtime
from handlers.coordination import REFERENCE_PROMPT, reference_replied
from handlers.validation import OVERRIDE_PROMPT, override_reason_replied


async def replied(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or message.reply_to_message is None:
        return
    if chat.type != "private" and not runtime(context).is_team_chat(chat.id):
        return  # not a team chat: nothing is stored, and a stray reply needs no refusal
    if is_anonymous(update):
        return  # an anonymous admin is no one: their reply is nobody's answer
    rt = runtime(context)
    async with rt.session() as session:
        prompt = await prompt_of(
            session, chat_id=chat.id, message_id=message.reply_to_message.message_id
        )
    text = (message.text or "").strip()[:STORED_TEXT_MAX]
    if prompt is None or not text:
        return
    if prompt.kind == REFERENCE_PROMPT:
        await reference_replied(update, context, prompt.incident_id, text)
    elif prompt.kind == OVERRIDE_PROMPT:
        await override_reason_replied(update, context, prompt.incident_id, text)


def register(app: Application) -> None:
    app.add_handler(
        MessageHandler(NEW_MESSAGES & filters.REPLY & filters.TEXT & ~filters.COMMAND, replied)
    )
