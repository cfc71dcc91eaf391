"""Replies to the bot's questions (ticket number, reason to skip a sector), read as answers.

Each feature registers what a reply to its question does (`register_prompt`), the way it
registers its timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from telegram import Message, Update
from telegram.ext import Application, MessageHandler, filters

from bot.protocol.questions import prompt_of
from handlers.kit.context import NEW_MESSAGES, STORED_TEXT_MAX, Context, is_anonymous, replied_to
from models import IncidentMessage
from models.vocab import MessageKind

RECENT_SECONDS = 30.0  # a question sent this recently may not be recorded yet...
RECORDING_GRACE_SECONDS = 3.0  # ...so it is looked for again for up to this long
PROMPTS_KEY = "prompt_handlers"
# (update, context, the incident the question was about, the answer's text)
PromptHandler = Callable[[Update, Context, int, str], Awaitable[None]]


def register_prompt(app: Application, kind: MessageKind, handler: PromptHandler) -> None:
    """A reply to the bot's question of this kind is handed to `handler` (see each feature)."""
    app.bot_data.setdefault(PROMPTS_KEY, {})[kind] = handler


async def replied(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    answered = replied_to(message) if message is not None else None
    if message is None or chat is None or answered is None:
        return
    if chat.type != "private" and not context.runtime.is_team_chat(chat.id):
        return  # not a team chat: nothing is stored, and a stray reply needs no refusal
    if is_anonymous(update):
        return  # an anonymous admin is no one: their reply is nobody's answer
    prompt = await _question(context, chat.id, answered)
    text = (message.text or "").strip()[:STORED_TEXT_MAX]
    if prompt is None or not text:
        return
    handler = context.application.bot_data.get(PROMPTS_KEY, {}).get(prompt.kind)
    if handler is not None:
        await handler(update, context, prompt.incident_id, text)


async def _question(context: Context, chat_id: int, replied_to: Message) -> IncidentMessage | None:
    """The bot's question this message answers, if it is one.

    The delivery worker records a question a moment after Telegram took it, so an answer to one
    sent seconds ago may arrive first: it is looked for again for a few seconds. Read outside
    the step, which must not hold the write lock the recording needs meanwhile.
    """
    rt = context.runtime
    recent = replied_to.from_user is not None and replied_to.from_user.id == context.bot.id
    recent = recent and (datetime.now(UTC) - replied_to.date).total_seconds() < RECENT_SECONDS
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (RECORDING_GRACE_SECONDS if recent else 0.0)
    while True:
        async with rt.read_session() as session:
            prompt = await prompt_of(session, chat_id=chat_id, message_id=replied_to.message_id)
        if prompt is not None or loop.time() >= deadline:
            return prompt
        await asyncio.sleep(0.05)


def register(app: Application) -> None:
    app.add_handler(
        MessageHandler(NEW_MESSAGES & filters.REPLY & filters.TEXT & ~filters.COMMAND, replied)
    )
