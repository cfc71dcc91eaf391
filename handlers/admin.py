"""Administration from the chat: /habilitar, /deshabilitar, /gerencia, and /start's "who am I".

Admins only (ADMIN_USER_IDS, or added with `flexus-bot admins add`); every change is stored and
recorded (who, what, when) for `flexus-bot audit`, and takes effect without a restart.
"""

from __future__ import annotations

import re

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler

from bot import texts
from bot.storage.unit_of_work import current_step
from bot.team import admin
from handlers.kit.context import NEW_MESSAGES, Context, is_anonymous, replied_to, topic_of
from handlers.kit.replies import reply
from models.vocab import AdminActionKind

COMMAND_ARGS = re.compile(r"^/\w+(?:@\w+)?\s*", re.IGNORECASE)


async def _admin_here(update: Update, context: Context, *, group_only: bool) -> bool:
    """An admin, writing as themselves (in a group when `group_only`); else one refusal."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if is_anonymous(update):
        await reply(update, texts.NOT_A_PERSON)
        return False
    if not context.runtime.is_admin(user.id):
        await reply(update, texts.admin_only(user.id))
        return False
    if group_only and chat.type == ChatType.PRIVATE:
        await reply(update, texts.HABILITAR_IN_GROUP)
        return False
    return True


def _reload_after_commit(context: Context) -> None:
    """The change is visible to every handler once the step has committed it."""
    rt = context.runtime
    step = current_step()
    if step is not None:
        step.after_commit(rt.reload_stored_settings)


async def habilitar(update: Update, context: Context) -> None:
    """/habilitar [sector]: this group becomes a team chat (optionally tied to a sector)."""
    if not await _admin_here(update, context, group_only=True):
        return
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None and message is not None
    sectors = context.runtime.protocol.team.sectors
    wanted = COMMAND_ARGS.sub("", message.text or "", count=1).strip()
    sector = context.runtime.protocol.team.find(wanted) if wanted else None
    if wanted and sector is None:
        await reply(update, texts.unknown_sector(sectors))
        return
    # In a group with topics, alerts go to the topic this was written in (else General).
    topic = topic_of(message) or None
    created = message.reply_to_message.forum_topic_created if message.reply_to_message else None
    topic_name = created.name if created is not None and topic else None
    forum = bool(chat.is_forum)
    changed = await _switch(
        update,
        context,
        enabled=True,
        sector=sector,
        forum=forum,
        topic=topic,
        topic_name=topic_name,
    )
    where = texts.alert_topic(topic, topic_name) if forum else None
    await reply(update, texts.enabled(chat.title, sector, changed, where))


async def deshabilitar(update: Update, context: Context) -> None:
    if not await _admin_here(update, context, group_only=True):
        return
    await reply(update, texts.disabled(await _switch(update, context, enabled=False)))


async def _switch(
    update: Update,
    context: Context,
    *,
    enabled: bool,
    sector: str | None = None,
    forum: bool = False,
    topic: int | None = None,
    topic_name: str | None = None,
) -> bool:
    """Enable or disable this group, recorded as the admin's action; False if it already was."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    rt = context.runtime
    async with rt.session() as session:
        changed = await admin.set_enabled(
            session,
            chat_id=chat.id,
            title=chat.title,
            enabled=enabled,
            sector=sector,
            now=rt.clock.now(),
            forum=forum,
            topic=topic,
            topic_name=topic_name,
        )
        if changed:
            admin.record(
                session,
                action=AdminActionKind.ENABLE_CHAT if enabled else AdminActionKind.DISABLE_CHAT,
                now=rt.clock.now(),
                actor_id=user.id,
                actor_name=user.full_name,
                chat_id=chat.id,
                detail=f"{chat.title or ''}{f' ({sector})' if sector else ''}"
                + (f" [topic {topic}]" if topic else ""),
            )
    _reload_after_commit(context)
    return changed


async def gerencia(update: Update, context: Context) -> None:
    """Answering someone's message: /gerencia, /gerencia respaldo, /gerencia quitar."""
    if not await _admin_here(update, context, group_only=False):
        return
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    answered = replied_to(message)
    target = answered.from_user if answered else None
    if target is None or target.is_bot:
        await reply(update, texts.GERENCIA_HOW)
        return
    rt = context.runtime
    option = COMMAND_ARGS.sub("", message.text or "", count=1).strip().casefold()
    now = rt.clock.now()
    async with rt.session() as session:
        if option == "quitar":
            removed = await admin.remove_gerencia(session, user_id=target.id)
            in_file = any(c.telegram_id == target.id for c in rt.config.protocol.gerencia)
            text = texts.gerencia_removed(target.full_name, removed, in_file)
            action = AdminActionKind.REMOVE_GERENCIA if removed else None
        else:
            backup = option == "respaldo"
            await admin.set_gerencia(
                session,
                user_id=target.id,
                name=target.full_name,
                backup=backup,
                by=user.id,
                now=now,
            )
            text = texts.gerencia_set(target.full_name, backup)
            action = AdminActionKind.ADD_GERENCIA_BACKUP if backup else AdminActionKind.ADD_GERENCIA
        if action is not None:
            admin.record(
                session,
                action=action,
                now=now,
                actor_id=user.id,
                actor_name=user.full_name,
                chat_id=message.chat_id,
                target_id=target.id,
                detail=target.full_name,
            )
    _reload_after_commit(context)
    await reply(update, text)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("habilitar", habilitar, filters=NEW_MESSAGES))
    app.add_handler(CommandHandler("deshabilitar", deshabilitar, filters=NEW_MESSAGES))
    app.add_handler(CommandHandler("gerencia", gerencia, filters=NEW_MESSAGES))
