"""Administration without editing files: team chats, admins and Gerencia contacts stored in the
database, and a record of every admin action. TEAM_CHAT_IDS, ADMIN_USER_IDS and the protocol
file's [[gerencia]] keep working alongside."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import GerenciaContact, Protocol
from models import Admin, AdminAction, TeamChat
from models import GerenciaContact as StoredContact
from models.vocab import AdminActionKind


@dataclass(frozen=True)
class ChatRow:
    chat_id: int
    title: str | None
    enabled: bool
    sector: str | None
    reachable: bool
    last_seen_at: datetime | None
    alert_topic_id: int | None = None
    alert_topic_name: str | None = None


@dataclass(frozen=True)
class ActionRow:
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    chat_id: int | None
    target_id: int | None
    detail: str | None


def record(
    session: AsyncSession,
    *,
    action: AdminActionKind,
    now: datetime,
    actor_id: int | None,
    actor_name: str | None = None,
    chat_id: int | None = None,
    target_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Who did what, when (the caller commits with the action itself)."""
    session.add(
        AdminAction(
            at=now,
            actor_id=actor_id,
            actor_name=(actor_name or "")[:255] or None,
            action=action,
            chat_id=chat_id,
            target_id=target_id,
            detail=detail,
        )
    )


async def seen_chat(
    session: AsyncSession, *, chat_id: int, title: str | None, now: datetime
) -> TeamChat:
    """A group talked to the bot: list it (not enabled unless it already was)."""
    chat = await session.get(TeamChat, chat_id)
    if chat is None:
        chat = TeamChat(chat_id=chat_id, enabled=False, created_at=now, reachable=True)
        session.add(chat)
    chat.title = (title or chat.title or "")[:255] or None
    chat.last_seen_at = now
    await session.flush()
    return chat


async def set_enabled(
    session: AsyncSession,
    *,
    chat_id: int,
    title: str | None,
    enabled: bool,
    sector: str | None,
    now: datetime,
    forum: bool = False,
    topic: int | None = None,
    topic_name: str | None = None,
) -> bool:
    """/habilitar, /deshabilitar; False when it already was so (same sector, same topic).

    In a group with topics (`forum`), alerts go to the topic /habilitar was written in
    (`topic`; None: General)."""
    chat = await seen_chat(session, chat_id=chat_id, title=title, now=now)
    changed = chat.enabled != enabled or (enabled and sector is not None and chat.sector != sector)
    chat.enabled = enabled
    if enabled:
        chat.reachable, chat.unreachable_since, chat.last_error = True, None, None
        if sector is not None:
            chat.sector = sector
        if forum:
            changed = changed or chat.alert_topic_id != topic
            chat.alert_topic_id = topic
            chat.alert_topic_name = (topic_name or "")[:128] or None if topic else None
    return changed


async def chats(session: AsyncSession) -> list[ChatRow]:
    rows = await session.scalars(
        select(TeamChat).where(TeamChat.migrated_to.is_(None)).order_by(TeamChat.chat_id)
    )
    return [
        ChatRow(
            c.chat_id,
            c.title,
            c.enabled,
            c.sector,
            c.reachable,
            c.last_seen_at,
            c.alert_topic_id,
            c.alert_topic_name,
        )
        for c in rows.all()
    ]


async def admin_ids(session: AsyncSession) -> set[int]:
    return set((await session.scalars(select(Admin.user_id))).all())


async def add_admin(session: AsyncSession, *, user_id: int, by: int | None, now: datetime) -> bool:
    if await session.get(Admin, user_id) is not None:
        return False
    session.add(Admin(user_id=user_id, added_by=by, added_at=now))
    return True


async def remove_admin(session: AsyncSession, *, user_id: int) -> bool:
    result = await session.execute(delete(Admin).where(Admin.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))


async def stored_gerencia(session: AsyncSession) -> list[GerenciaContact]:
    rows = await session.scalars(select(StoredContact).order_by(StoredContact.added_at))
    return [
        GerenciaContact(name=c.name, telegram_id=c.user_id, backup=c.backup) for c in rows.all()
    ]


async def set_gerencia(
    session: AsyncSession,
    *,
    user_id: int,
    name: str,
    backup: bool,
    by: int | None,
    now: datetime,
) -> None:
    contact = await session.get(StoredContact, user_id)
    if contact is None:
        contact = StoredContact(user_id=user_id, added_at=now)
        session.add(contact)
    contact.name, contact.backup, contact.added_by = name[:255], backup, by


async def remove_gerencia(session: AsyncSession, *, user_id: int) -> bool:
    result = await session.execute(delete(StoredContact).where(StoredContact.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))


def merged_gerencia(protocol: Protocol, stored: list[GerenciaContact]) -> Protocol:
    """The protocol file's contacts plus those registered from the chat. A stored contact whose
    name matches a file entry without a Telegram id gives that entry its id."""
    contacts = list(protocol.gerencia)
    for extra in stored:
        if any(c.telegram_id == extra.telegram_id for c in contacts):
            continue
        same = next(
            (
                i
                for i, c in enumerate(contacts)
                if not c.telegram_id and c.name.casefold() == extra.name.casefold()
            ),
            None,
        )
        if same is not None:
            contacts[same] = contacts[same].model_copy(update={"telegram_id": extra.telegram_id})
        else:
            contacts.append(extra)
    return protocol.model_copy(update={"gerencia": contacts})


async def actions(session: AsyncSession, *, limit: int = 200) -> list[ActionRow]:
    rows = await session.scalars(select(AdminAction).order_by(AdminAction.at.desc()).limit(limit))
    return [
        ActionRow(a.at, a.actor_id, a.actor_name, a.action, a.chat_id, a.target_id, a.detail)
        for a in rows.all()
    ]
