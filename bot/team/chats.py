"""Team chats as stored: which exist, which answer, and where a migrated group went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import IncidentMessage, OutboxMessage, TeamChat
from models.delivery import NEWS, PENDING


@dataclass(frozen=True)
class ChatState:
    chat_id: int
    title: str | None
    reachable: bool
    unreachable_since: datetime | None
    last_error: str | None


async def team_chats(session: AsyncSession) -> dict[int, str | None]:
    """Enabled team chats -> their sector."""
    rows = await session.execute(
        select(TeamChat.chat_id, TeamChat.sector).where(TeamChat.enabled.is_(True))
    )
    return {chat_id: sector for chat_id, sector in rows.all()}


async def chat_settings(session: AsyncSession) -> tuple[dict[int, int], set[int]]:
    """Enabled team chats' alert topics (chat -> topic), and those where reactions fail."""
    rows = await session.execute(
        select(TeamChat.chat_id, TeamChat.alert_topic_id, TeamChat.reactions_ok).where(
            TeamChat.enabled.is_(True)
        )
    )
    topics, reactionless = {}, set()
    for chat_id, topic, reactions_ok in rows.all():
        if topic is not None:
            topics[chat_id] = topic
        if not reactions_ok:
            reactionless.add(chat_id)
    return topics, reactionless


REMINDER_EVERY = timedelta(minutes=30)


async def take_reminder_slots(
    session: AsyncSession, chat_ids: list[int], *, now: datetime
) -> list[int]:
    """The chats among `chat_ids` that may get a reminder now (none in the last 30 minutes),
    marked as reminded: a group hears a reminder at most once every half hour, whatever it is
    about. Decided by the database, so two reminders falling due together cannot both pass."""
    allowed = []
    for chat_id in chat_ids:
        result: Any = await session.execute(
            update(TeamChat)
            .where(
                TeamChat.chat_id == chat_id,
                (TeamChat.reminded_at.is_(None)) | (TeamChat.reminded_at <= now - REMINDER_EVERY),
            )
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            allowed.append(chat_id)
    return allowed


async def forget_alert_topic(session: AsyncSession, *, chat_id: int) -> str | None:
    """The alert topic is closed or gone: alerts go to General from now on. Returns the
    chat's title; None if there was no alert topic any more (told already)."""
    chat = await session.get(TeamChat, chat_id)
    if chat is None or chat.alert_topic_id is None:
        return None
    chat.alert_topic_id, chat.alert_topic_name = None, None
    return chat.title or str(chat_id)


async def reactions_refused(session: AsyncSession, *, chat_id: int) -> None:
    await session.execute(
        update(TeamChat)
        .where(TeamChat.chat_id == chat_id)
        .values(reactions_ok=False)
        .execution_options(synchronize_session=False)
    )


async def unreachable_chats(session: AsyncSession) -> list[ChatState]:
    rows = await session.scalars(
        select(TeamChat).where(TeamChat.enabled.is_(True), TeamChat.reachable.is_(False))
    )
    return [
        ChatState(c.chat_id, c.title, c.reachable, c.unreachable_since, c.last_error)
        for c in rows.all()
    ]


async def mark_unreachable(
    session: AsyncSession, *, chat_id: int, error: str, now: datetime
) -> bool:
    """True when this is news (the chat was reachable until now)."""
    result = await session.execute(
        update(TeamChat)
        .where(TeamChat.chat_id == chat_id, TeamChat.reachable.is_(True))
        .values(reachable=False, unreachable_since=now, last_error=error[:255])
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_reachable(session: AsyncSession, *, chat_id: int) -> bool:
    result = await session.execute(
        update(TeamChat)
        .where(TeamChat.chat_id == chat_id, TeamChat.reachable.is_(False))
        .values(reachable=True, unreachable_since=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_held(session: AsyncSession, *, chat_id: int, now: datetime) -> int:
    """The bot may write in the chat again: everything waiting for it is due now (not at the
    end of a back-off). Returns how many critical and news messages were waiting."""
    held = await session.scalar(
        select(func.count()).where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.status == PENDING,
            OutboxMessage.priority <= NEWS,
            OutboxMessage.method != "edit_card",
        )
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == PENDING)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(held or 0)


async def title_of(session: AsyncSession, chat_id: int) -> str:
    chat = await session.get(TeamChat, chat_id)
    return (chat.title if chat is not None else None) or str(chat_id)


async def migrate_chat(
    session: AsyncSession, *, old_chat_id: int, new_chat_id: int, now: datetime
) -> bool:
    """A group became a supergroup: its messages, pending sends and settings follow the new id.

    False when the old chat was not a team chat (nothing to follow)."""
    old = await session.get(TeamChat, old_chat_id)
    if old is None or old.migrated_to == new_chat_id:
        return False
    new = await session.get(TeamChat, new_chat_id)
    if new is None:
        new = TeamChat(chat_id=new_chat_id, created_at=now)
        session.add(new)
    new.title, new.sector, new.enabled = old.title, old.sector, old.enabled
    new.reactions_ok = old.reactions_ok  # a supergroup has no topics at first: none copied
    new.reachable, new.unreachable_since, new.last_error = True, None, None
    old.enabled, old.migrated_to = False, new_chat_id
    for model in (OutboxMessage,):
        await session.execute(
            update(model)
            .where(model.chat_id == old_chat_id, model.status == PENDING)
            .values(chat_id=new_chat_id)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(IncidentMessage)
        .where(IncidentMessage.chat_id == old_chat_id)
        .values(chat_id=new_chat_id)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return True
