"""A team group that becomes a supergroup changes its id: everything stored follows it."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.delivery import follow_migration
from bot.steps import current_step
from handlers.common import Context, runtime


async def migrated(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    rt = runtime(context)
    if rt.is_team_chat(message.chat_id):
        old, new = message.chat_id, message.migrate_to_chat_id

        async def follow() -> None:
            await follow_migration(rt, old, new)

        # After the step's commit: on SQLite the move needs the write lock the step holds.
        step = current_step()

        if step is not None:
            step.after_commit(follow)
        else:
            await follow()


def register(app: Application) -> None:
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
