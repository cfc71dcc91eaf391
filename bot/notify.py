"""Sending to team chats and people, with Telegram's failure modes handled in one place."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from telegram import Bot, ForceReply, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError, TimedOut

log = logging.getLogger(__name__)


async def send(
    bot: Bot,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | ForceReply | None = None,
    reply_to: int | None = None,
) -> int | None:
    """Send one message; returns its id, or None when it could not be sent (already logged)."""
    try:
        message = await bot.send_message(
            chat_id,
            text,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            allow_sending_without_reply=True,
            disable_web_page_preview=True,
        )
    except Forbidden as exc:
        log.warning("chat %s refused the message: %s", chat_id, exc.message)
    except TimedOut:
        # It may have been delivered: resending blindly would duplicate the alert.
        log.warning("sending to chat %s timed out; not resending", chat_id)
    except TelegramError as exc:
        log.warning("could not send to chat %s: %s", chat_id, exc)
    else:
        return message.message_id
    return None


async def send_private(
    bot: Bot, user_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> int | None:
    """A private message; None when the person never started the bot or blocked it."""
    return await send(bot, user_id, text, markup)


async def broadcast(
    bot: Bot, chat_ids: Iterable[int], text: str, markup: InlineKeyboardMarkup | None = None
) -> list[tuple[int, int]]:
    """Send the same message to every chat; returns (chat id, message id) of those delivered."""
    sent = []
    for chat_id in chat_ids:
        message_id = await send(bot, chat_id, text, markup)
        if message_id is not None:
            sent.append((chat_id, message_id))
    return sent


async def edit(
    bot: Bot,
    targets: Iterable[tuple[int, int]],
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Edit messages in place (the status card); unchanged text is not an error."""
    for chat_id, message_id in targets:
        try:
            await bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=markup,
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.warning("could not edit message %s in chat %s: %s", message_id, chat_id, exc)
        except TelegramError as exc:
            log.warning("could not edit message %s in chat %s: %s", message_id, chat_id, exc)


async def clear_buttons(bot: Bot, chat_id: int, message_id: int) -> None:
    """Take the buttons off a question already answered."""
    try:
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=None
        )
    except TelegramError as exc:
        log.info("could not clear the buttons of message %s: %s", message_id, exc)


async def pin(bot: Bot, chat_id: int, message_id: int) -> bool:
    """Pin quietly where the bot may; a refused pin changes nothing else."""
    try:
        await bot.pin_chat_message(chat_id, message_id, disable_notification=True)
    except TelegramError as exc:
        log.info("could not pin in chat %s: %s", chat_id, exc)
        return False
    return True


async def unpin(bot: Bot, chat_id: int, message_id: int) -> None:
    try:
        await bot.unpin_chat_message(chat_id, message_id)
    except TelegramError as exc:
        log.info("could not unpin in chat %s: %s", chat_id, exc)


async def send_photo(bot: Bot, chat_id: int, file_id: str, caption: str) -> None:
    try:
        await bot.send_photo(chat_id, file_id, caption=caption)
    except TelegramError as exc:
        log.warning("could not send the photo to chat %s: %s", chat_id, exc)
