"""Team chats changing: people joining and leaving (membership), the bot's own status, and a
group that becomes a supergroup (its id changes: everything stored follows it)."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.constants import ChatMemberStatus
from telegram.ext import Application, ChatMemberHandler, MessageHandler, filters

from bot import texts
from bot.runtime import Runtime
from bot.storage.unit_of_work import current_step
from bot.team import chats
from bot.team.membership import in_chat
from bot.transport import outbox
from bot.transport.delivery import follow_migration
from handlers.kit.context import Context

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


def may_write(member: ChatMember) -> bool:
    """Whether the bot, with this status in a group, may post there."""
    if member.status == ChatMemberStatus.RESTRICTED:
        return bool(
            getattr(member, "is_member", False) and getattr(member, "can_send_messages", False)
        )
    return member.status in (
        ChatMemberStatus.MEMBER,
        ChatMemberStatus.ADMINISTRATOR,
        ChatMemberStatus.OWNER,
    )


async def bot_status_changed(update: Update, context: Context) -> None:
    """Telegram says the bot was removed from a team chat, muted, or added back (my_chat_member):
    removed, the admins hear it at once; back, what waited for the group goes out now."""
    changed = update.my_chat_member
    rt = context.runtime
    if changed is None or not rt.is_team_chat(changed.chat.id):
        return
    chat_id, new = changed.chat.id, changed.new_chat_member
    log.warning("the bot's status in team chat %s is now %r", chat_id, new.status)
    now = rt.clock.now()
    async with rt.session(refusable=False) as session:
        title = changed.chat.title or await chats.title_of(session, chat_id)
        if not may_write(new):
            why = (
                texts.BOT_MUTED if new.status == ChatMemberStatus.RESTRICTED else texts.BOT_REMOVED
            )
            if await chats.mark_unreachable(session, chat_id=chat_id, error=why, now=now):
                for admin in rt.admin_ids:
                    outbox.send(
                        session,
                        admin,
                        texts.chat_unreachable(chat_id, why, title),
                        priority=outbox.NEWS,
                        now=now,
                    )
            _after_commit(rt, chat_id, back=False)
            return
        if may_write(changed.old_chat_member) and chat_id not in rt.unreachable_chats():
            return  # a change of rights that changes nothing for the alerts
        await chats.mark_reachable(session, chat_id=chat_id)
        held = await chats.release_held(session, chat_id=chat_id, now=now)
        for admin in rt.admin_ids:
            # Sent once the held messages went out: "envié" is then true.
            outbox.send(
                session,
                admin,
                texts.back_in_group(title, held),
                priority=outbox.NEWS,
                now=now,
                after_chat=chat_id,
            )
    log.warning("back in team chat %s: %d held messages go out now", chat_id, held)
    _after_commit(rt, chat_id, back=True)


def _after_commit(rt: Runtime, chat_id: int, *, back: bool) -> None:
    async def tell_delivery() -> None:
        if rt.delivery is not None:
            rt.delivery.chat_writable(chat_id, back)

    step = current_step()
    if step is not None:
        step.after_commit(tell_delivery)


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
