"""Errors are reported (log with the update) and the person gets an answer, never silence."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from handlers.common import Context, answer_query, reply

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await answer_query(update.callback_query, texts.SOMETHING_FAILED, alert=True)
        elif update.effective_message is not None:
            await reply(update, texts.SOMETHING_FAILED)
    except TelegramError:
        log.warning("could not tell the person about the error")


async def stale_button(update: Update, context: Context) -> None:
    if update.callback_query is not None:
        await answer_query(update.callback_query, texts.STALE_BUTTON, alert=True)


def register(app: Application) -> None:
    # Registered last: buttons no other handler claimed (old or forged data) still get an answer.
    app.add_handler(CallbackQueryHandler(stale_button))
    app.add_error_handler(on_error)
