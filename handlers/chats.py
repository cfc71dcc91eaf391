"""Team chats changing: people joining and leaving (membership), the bot's own status, and a
group that becomes a supergroup (its id changes: everything stored follows it)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ChatMemberHandler, MessageHandler, filters

from bot.delivery import follow_migration
from bot.membership import in_chat
from bot.steps import current_step
from handlers.common import Context

log = logging.getLogger(__name__)


async def member_changed(update: Update, context: Context) -> None:
    """A `chat_member` update (the bot must be an admin to get them): membership at once."""
    changed = update.chat_member
    if changed is None:
        return
    new = changed.new_chat_member
    present = in_chat(new.status, getattr(new, "is_member", None))
    context.runtime.membership.note(new.user.id, changed.chat.id, present)


async def joined_or_left(update: Update, context: Context) -> None:
    """The service messages every bot gets, admin or not: someone joined or left the group."""
    message = update.effective_message
    if message is None:
        return
    membership = context.runtime.membership
    for person in message.new_chat_members or ():
        membership.note(person.id, message.chat_id, True)
    if message.left_chat_member is not None:
        membership.note(message.left_chat_member.id, message.chat_id, False)


async def bot_status_changed(update: Update, context: Context) -> None:
    changed = update.my_chat_member
    if changed is None or not context.runtime.is_team_chat(changed.chat.id):
        return
    status = changed.new_chat_member.status
    log.warning("the bot's status in team chat %s is now %r", changed.chat.id, status)


async def migrated(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    rt = context.runtime
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
    app.add_handler(
        MessageHandler(
            filters.StatusUpdate.NEW_CHAT_MEMBERS | filters.StatusUpdate.LEFT_CHAT_MEMBER,
            joined_or_left,
        )
    )
    app.add_handler(ChatMemberHandler(member_changed, ChatMemberHandler.CHAT_MEMBER))
    app.add_handler(ChatMemberHandler(bot_status_changed, ChatMemberHandler.MY_CHAT_MEMBER))
