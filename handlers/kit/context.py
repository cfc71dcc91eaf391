"""What every handler reads from an update: its typed context (the runtime), who wrote, where."""

from __future__ import annotations

from typing import Any

from telegram import Message, Update, User
from telegram.constants import ChatType
from telegram.ext import CallbackContext, ContextTypes, ExtBot, filters

from bot.runtime import Runtime
from bot.team.members import Person
from bot.team.membership import ANONYMOUS_SENDERS
from bot.timers.jobs import RUNTIME_KEY


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context for every handler and job, with the bot's Runtime typed: `context.runtime`."""

    @property
    def runtime(self) -> Runtime:
        value: Runtime = self.application.bot_data[RUNTIME_KEY]
        return value


# Given to the Application's builder (bot.app), so PTB hands every callback a Context.
CONTEXT_TYPES = ContextTypes(context=Context)


def person_of(user: User) -> Person:
    return Person(user_id=user.id, full_name=user.full_name, username=user.username)


def is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


# User text is stored up to this much (the card shows less; nothing needs more): a 20,000-
# character message does not fill the database.
STORED_TEXT_MAX = 1000


def is_anonymous(update: Update) -> bool:
    """Sent by an anonymous group admin or a linked channel: no person to act as."""
    message = update.effective_message
    if update.callback_query is not None or message is None:
        return False
    sender = message.from_user
    return message.sender_chat is not None or sender is None or sender.id in ANONYMOUS_SENDERS


def topic_of(message: Message) -> int | None:
    """The forum topic a message was written in: its id, 0 for General; None outside forums.

    Only `is_topic_message` says a message is in a topic: in General, a reply carries the
    message_thread_id of the message it answers, which is no topic."""
    if message.is_topic_message and message.message_thread_id:
        return message.message_thread_id
    return 0 if message.chat.is_forum else None


def replied_to(message: Message) -> Message | None:
    """The message this one answers, if the person answered one. In a topic, every message
    carries the topic's creation message as `reply_to_message`: that is no answer."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None
    return replied


# Commands and replies count when sent, not when edited: fixing a typo in "/caido ..." must
# not report twice.
NEW_MESSAGES = filters.UpdateType.MESSAGE


def chat_sector_of(update: Update, context: Context) -> str | None:
    chat = update.effective_chat
    return context.runtime.chat_sector(chat.id) if chat else None
