"""Errors are reported (log with the update) and the person gets an answer, never silence."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from bot.storage.unit_of_work import current_step
from handlers.kit.context import Context
from handlers.kit.replies import answer_query

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    """A handler failed: its step is rolled back, logged in one line and the person told
    (see bot.app.handle_update). Errors outside an update (a job) are logged here."""
    step = current_step()
    if step is not None and isinstance(update, Update):
        step.failed = context.error or RuntimeError("unknown error")
        return
    log.error(
        "error outside an update: %s: %s",
        type(context.error).__name__,
        context.error,
        exc_info=context.error,
    )


async def stale_button(update: Update, context: Context) -> None:
    if update.callback_query is not None:
        await answer_query(update.callback_query, texts.STALE_BUTTON, alert=True)


def register(app: Application) -> None:
    # Registered last: buttons no other handler claimed (old or forged data) still get an answer.
    app.add_handler(CallbackQueryHandler(stale_button))
    app.add_error_handler(on_error)
