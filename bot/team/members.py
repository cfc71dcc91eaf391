"""Team chats and members: who is who, which sector, which chats are enabled."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Member, TeamChat

log = logging.getLogger(__name__)

SEEN_GRANULARITY = timedelta(minutes=1)  # how fresh "last seen" (Member.updated_at) is kept


@dataclass(frozen=True)
class Person:
    """A Telegram user as the handlers saw them."""

    user_id: int
    full_name: str
    username: str | None = None


async def touch_member(
    session: AsyncSession, *, person: Person, now: datetime, chat_sector: str | None = None
) -> Member:
    """Create or refresh a member; a member with no sector takes their chat's sector. Flushes."""
    member = await session.get(Member, person.user_id)
    if member is None:
        member = Member(user_id=person.user_id, private_chat=False, created_at=now, sector=None)
        session.add(member)
    name = person.full_name[:255] or str(person.user_id)
    if member.full_name != name:
        member.full_name = name
    if member.username != person.username:
        member.username = person.username
    # "Last seen" orders the hand-over menu: to the minute is enough, and a press then
    # writes nothing when nothing about the person changed.
    if member.updated_at is None or now - member.updated_at >= SEEN_GRANULARITY:
        member.updated_at = now
    if member.sector is None and chat_sector is not None:
        member.sector = chat_sector
    await session.flush()
    return member


async def set_sector(
    session: AsyncSession, *, person: Person, sector: str, now: datetime
) -> Member:
    """Record the sector a person chose with /sector."""
    member = await touch_member(session, person=person, now=now)
    member.sector = sector
    await session.flush()
    return member


async def mark_private_chat(session: AsyncSession, *, person: Person, now: datetime) -> None:
    """Remember that this person opened a private chat with the bot, so it may write to them."""
    member = await touch_member(session, person=person, now=now)
    member.private_chat = True
    await session.flush()


async def people_without_sector(
    session: AsyncSession, user_ids: list[int]
) -> list[tuple[int, str]]:
    """(id, name) of those of `user_ids` who have not picked a sector yet, in that order."""
    rows = await session.execute(
        select(Member.user_id, Member.full_name).where(
            Member.user_id.in_(user_ids), Member.sector.is_(None)
        )
    )
    names = dict(rows.all())
    return [(user_id, names[user_id]) for user_id in user_ids if user_id in names]


async def get_member(session: AsyncSession, user_id: int) -> Member | None:
    return await session.get(Member, user_id)


async def sync_team_chats(
    session: AsyncSession, *, chat_ids: list[int], chat_sectors: dict[int, str], now: datetime
) -> None:
    """TEAM_CHAT_IDS seeds the team_chats table: a listed chat not stored yet is enabled.

    After that the table rules (/habilitar, /deshabilitar): a chat an admin disabled stays so.
    The protocol file's chat sectors always apply. A group that became a supergroup is
    followed: its old id in TEAM_CHAT_IDS means the new one.
    """
    existing = {c.chat_id: c for c in (await session.scalars(select(TeamChat))).all()}
    for configured in chat_ids:
        chat_id = _followed(existing, configured)
        chat = existing.get(chat_id)
        if chat is None:
            chat = TeamChat(chat_id=chat_id, created_at=now, enabled=True, reachable=True)
            session.add(chat)
            existing[chat_id] = chat
        sector = chat_sectors.get(configured, chat_sectors.get(chat_id))
        if sector is not None:
            chat.sector = sector
    for chat_id, sector in chat_sectors.items():
        chat = existing.get(_followed(existing, chat_id))
        if chat is not None:
            chat.sector = sector
    await session.flush()


def _followed(existing: dict[int, TeamChat], chat_id: int) -> int:
    """The id a configured chat has now (a group that became a supergroup has a new one)."""
    seen = {chat_id}
    while (moved := existing[chat_id].migrated_to if chat_id in existing else None) is not None:
        if moved in seen:
            break
        log.warning(
            "TEAM_CHAT_IDS names %s, which became the supergroup %s: using the new id "
            "(update TEAM_CHAT_IDS)",
            chat_id,
            moved,
        )
        seen.add(moved)
        chat_id = moved
    return chat_id
