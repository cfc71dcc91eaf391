"""Pieces every handler uses: the runtime, who is asking, and whether this chat may use the bot."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, ForceReply, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import CallbackContext, ContextTypes, ExtBot, filters

from bot import admin, outbox, texts
from bot.jobs import RUNTIME_KEY
from bot.lifecycle import (
    Refused,
)
from bot.membership import ANONYMOUS_SENDERS
from bot.outbox import CHATTER, CRITICAL, NEWS
from bot.people import Person, touch_member
from bot.runtime import Runtime
from bot.unit_of_work import current_step
from handlers.buttons import Button

log = logging.getLogger(__name__)


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


async def is_member(context: Context, user_id: int, where: int | None = None) -> bool:
    """In at least one enabled team chat right now (see bot.membership)."""
    rt = context.runtime
    value: bool = await rt.membership.is_member(context.bot, user_id, where)
    return value


Markup = InlineKeyboardMarkup | ForceReply | None

__all__ = ["CHATTER", "CRITICAL", "NEWS"]


def markup_json(markup: Markup) -> dict[str, Any] | None:
    return markup.to_dict() if markup is not None else None


async def send(
    context: Context,
    chat_id: int,
    text: str,
    markup: Markup = None,
    *,
    priority: int = NEWS,
    reply_to: int | None = None,
    topic: int | None = None,
    record: tuple[int, str] | None = None,
    pin: bool | str = False,
    fallback: list[tuple[int, str, Markup]] | None = None,
) -> None:
    """Store a message in the outbox, in the current step's transaction; sent after it commits.
    `topic`: in a group with topics, where it goes (see bot.outbox.send)."""
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        outbox.send(
            session,
            chat_id,
            text,
            priority=priority,
            now=rt.clock.now(),
            markup=markup_json(markup),
            reply_to=reply_to,
            topic=topic,
            record=record,
            pin=pin,
            fallback=[(c, t, markup_json(m)) for c, t, m in fallback] if fallback else None,
        )


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


async def reply(
    update: Update,
    text: str,
    reply_markup: Markup = None,
    *,
    priority: int = CHATTER,
) -> None:
    """Answer the person's message in its chat and topic (through the outbox: after the step
    commits)."""
    message, step = update.effective_message, current_step()
    if message is None:
        return
    if step is None:
        raise RuntimeError("reply() outside a step: the message would not be stored")
    rt: Runtime = step.runtime
    async with rt.session(refusable=False) as session:
        outbox.send(
            session,
            message.chat_id,
            text,
            priority=priority,
            now=rt.clock.now(),
            markup=markup_json(reply_markup),
            reply_to=message.message_id,
            topic=topic_of(message),
        )


async def react(update: Update, emoji: str) -> None:
    """A reaction on the person's message: an answer that adds no message to the group."""
    message, step, user = update.effective_message, current_step(), update.effective_user
    if message is None or step is None:
        return
    rt: Runtime = step.runtime
    async with rt.session(refusable=False) as session:
        outbox.reaction(
            session,
            message.chat_id,
            message.message_id,
            emoji,
            now=rt.clock.now(),
            name=user.full_name if user is not None else None,
            topic=topic_of(message),
        )


async def allowed_here(
    update: Update, context: Context, *, private_ok: bool, needs_person: bool = True
) -> bool:
    """An enabled team chat, or a private chat with a team member (where `private_ok`).

    A step that records someone's action (`needs_person`) refuses anonymous admins.
    Anything else gets one short refusal and nothing is stored.
    """
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    anonymous = is_anonymous(update)
    if chat.type == ChatType.PRIVATE:
        if not private_ok:
            await reply(update, texts.REPORT_IN_GROUP)
            return False
        if not await is_member(context, user.id):
            await reply(update, texts.PRIVATE_NOT_MEMBER)
            return False
        if needs_person:
            await remember_name(context, user)
        return True
    rt = context.runtime
    if rt.is_team_chat(chat.id) and anonymous:
        if needs_person:
            await reply(update, texts.NOT_A_PERSON)
            return False
        return True
    if not rt.is_team_chat(chat.id):
        # The group is listed (`flexus-bot chats`); the refusal says how to enable it.
        log.info("refused group %s (%r): not a team chat", chat.id, chat.title)
        async with rt.session(refusable=False) as session:
            await admin.seen_chat(session, chat_id=chat.id, title=chat.title, now=rt.clock.now())
        await reply(update, texts.not_enabled(chat.id))
        return False
    rt.membership.note(user.id, chat.id, True)  # writing in the group: they are in it
    if needs_person:
        await remember_name(context, user)
    return True


async def allowed_button(update: Update, context: Context) -> bool:
    """Buttons work in team chats and private chats, for team members only; anything else is
    answered with a refusal (pressing a button never makes anyone a member)."""
    query, chat = update.callback_query, update.effective_chat
    if query is None:
        return False
    if chat is None or not (chat.type == ChatType.PRIVATE or context.runtime.is_team_chat(chat.id)):
        where = chat.id if chat is not None else 0
        await answer_query(query, texts.alert(texts.not_enabled(where)), alert=True)
        return False
    if not await is_member(context, query.from_user.id, chat.id):
        await answer_query(query, texts.PRIVATE_NOT_MEMBER, alert=True)
        return False
    await remember_name(context, query.from_user)
    return True


async def remember_name(context: Context, user: User) -> None:
    """Every actor in a timeline has a name, also an admin who never reported or voted."""
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        await touch_member(session, person=person_of(user), now=rt.clock.now())


async def answer_query(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Answer a button press, once the step it caused is committed (the toast tells the truth).

    Telegram refuses answers to old presses (a backlog after a restart, a slow moment): that
    must not stop the step the press already recorded."""

    async def answer() -> None:
        try:
            await query.answer(text, show_alert=alert)
        except TelegramError as exc:
            log.info("could not answer a button press: %s", exc)

    step = current_step()
    if step is None:
        await answer()
    else:
        step.after_commit(answer)


B = TypeVar("B", bound=Button)


async def parse_button(
    update: Update, context: Context, button: type[B]
) -> tuple[CallbackQuery, B] | None:
    """The pressed button and its validated data; anything else is answered and dropped."""
    query = update.callback_query
    if query is None or not await allowed_button(update, context):
        return None
    pressed = button.parse(query.data)
    if pressed is None:
        await answer_query(query, texts.STALE_BUTTON, alert=True)
        return None
    return query, pressed


P = ParamSpec("P")
R = TypeVar("R")


async def run_in_transaction(
    update: Update,
    context: Context,
    service: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R | None:
    """What every handler does with a service: call it in the step's session (a savepoint, so a
    refusal undoes only its own writes); a refusal is answered to the person and gives None.

    Services always return something, so None means refused and already answered."""
    try:
        async with context.runtime.session() as session:
            return await service(session, *args, **kwargs)
    except Refused as refused:
        await answer_refusal(update, refused)
        return None


async def answer_refusal(update: Update, refused: Refused) -> None:
    """A refusal says why and who may do it: as an alert on a button, as a reply to a command."""
    if update.callback_query is not None:
        await answer_query(update.callback_query, texts.alert(texts.refusal(refused)), alert=True)
    else:
        await reply(update, texts.refusal(refused))


# Commands and replies count when sent, not when edited: fixing a typo in "/caido ..." must
# not report twice.
NEW_MESSAGES = filters.UpdateType.MESSAGE


def chat_sector_of(update: Update, context: Context) -> str | None:
    chat = update.effective_chat
    return context.runtime.chat_sector(chat.id) if chat else None
