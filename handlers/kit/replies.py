"""What a handler says: messages through the outbox (after the step commits), reactions, a
button's toast, a refusal; and `run_in_transaction`, which calls a service and answers its refusal."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import CallbackQuery, ForceReply, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot import texts
from bot.protocol.lifecycle import (
    Refused,
)
from bot.runtime import Runtime
from bot.storage.unit_of_work import current_step, flush_deferred, writes_so_far
from bot.transport import outbox
from bot.transport.outbox import CHATTER, CRITICAL, NEWS
from handlers.kit.context import Context, topic_of
from models.vocab import Priority

log = logging.getLogger(__name__)


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
    priority: Priority = NEWS,
    reply_to: int | None = None,
    topic: int | None = None,
    record: tuple[int, str] | None = None,
    pin: bool | str = False,
    fallback: list[tuple[int, str, Markup]] | None = None,
) -> None:
    """Store a message in the outbox, in the current step's transaction; sent after it commits.
    `topic`: in a group with topics, where it goes (see bot.transport.outbox.send)."""
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


async def reply(
    update: Update,
    text: str,
    reply_markup: Markup = None,
    *,
    priority: Priority = CHATTER,
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


async def clear_pressed_buttons(context: Context, query: CallbackQuery) -> None:
    """The pressed message loses its buttons (through the outbox, once the step commits)."""
    if query.message is None:
        return
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        outbox.clear_markup(
            session, query.message.chat.id, query.message.message_id, now=rt.clock.now()
        )


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
    # A service that refuses only before writing needs no savepoint (see
    # bot.protocol.lifecycle.refuses_before_writing).
    refusable = not getattr(service, "refuses_before_writing", False)
    try:
        async with context.runtime.session(refusable=refusable) as session:
            if not refusable:
                # What came before is not the service's to count: written out first (its
                # deferred rows too, which its first statement would otherwise insert).
                await session.flush()
                await flush_deferred(session)
            before = writes_so_far(session)
            try:
                return await service(session, *args, **kwargs)
            except Refused as refused:
                if not refusable and writes_so_far(session) != before:
                    raise RuntimeError(
                        f"{service.__name__} refused after writing, with no savepoint to take "
                        "its writes back: the whole step is undone"
                    ) from refused
                raise
    except Refused as refused:
        await answer_refusal(update, refused)
        return None


async def answer_refusal(update: Update, refused: Refused) -> None:
    """A refusal says why and who may do it: as an alert on a button, as a reply to a command."""
    if update.callback_query is not None:
        await answer_query(update.callback_query, texts.alert(texts.refusal(refused)), alert=True)
    else:
        await reply(update, texts.refusal(refused))
