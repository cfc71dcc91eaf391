"""Team chats and members: who is who, which sector, which chats are enabled."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from bot.storage import direct
from models import Member, TeamChat

log = logging.getLogger(__name__)

SEEN_GRANULARITY = timedelta(minutes=1)  # how fresh "last seen" (Member.updated_at) is kept
_MEMBERS = cast(Table, Member.__table__)
_SEEN = select(
    _MEMBERS.c.full_name, _MEMBERS.c.username, _MEMBERS.c.updated_at, _MEMBERS.c.sector
).where(_MEMBERS.c.user_id == bindparam("user_id"))
_ADD = insert(_MEMBERS)
_CHANGE = update(_MEMBERS).where(_MEMBERS.c.user_id == bindparam("member_id"))  # SET: the params


@dataclass(frozen=True)
class Person:
    """A Telegram user as the handlers saw them."""

    user_id: int
    full_name: str
    username: str | None = None


def _member_changes(
    seen: Any, person: Person, now: datetime, chat_sector: str | None
) -> dict[str, Any]:
    """What seeing `person` now changes in their row (`seen`: the row or the held member,
    None for someone new): the name Telegram shows, "last seen" to the minute (a press then
    writes nothing when nothing about the person changed), and their chat's sector if they
    have none."""
    name = person.full_name[:255] or str(person.user_id)
    if seen is None:
        return {
            "full_name": name,
            "username": person.username,
            "updated_at": now,
            "sector": chat_sector,
        }
    changes: dict[str, Any] = {}
    if seen.full_name != name:
        changes["full_name"] = name
    if seen.username != person.username:
        changes["username"] = person.username
    if seen.updated_at is None or now - seen.updated_at >= SEEN_GRANULARITY:
        changes["updated_at"] = now
    if seen.sector is None and chat_sector is not None:
        changes["sector"] = chat_sector
    return changes


async def note_member(
    session: AsyncSession, *, person: Person, now: datetime, chat_sector: str | None = None
) -> str | None:
    """Create or refresh a member (a member with no sector takes their chat's sector); their
    sector. Plain statements, no ORM object: a vote's path. A member the step already holds
    as an object is changed on it instead, so that object never goes stale."""
    held = session.sync_session.identity_map.get(identity_key(Member, person.user_id))
    # An expired one (a refused savepoint expires what it changed) would have to load itself
    # again, which an async session cannot do on attribute access: the statements below
    # change the row, and it loads the row as they left it.
    if isinstance(held, Member) and not inspect(held).expired_attributes:
        for column, value in _member_changes(held, person, now, chat_sector).items():
            setattr(held, column, value)
        return held.sector
    seen = (await direct.execute(session, _SEEN, {"user_id": person.user_id})).first()
    changes = _member_changes(seen, person, now, chat_sector)
    if seen is None:
        await direct.execute(
            session,
            _ADD,
            {"user_id": person.user_id, "private_chat": False, "created_at": now, **changes},
        )
        return chat_sector
    if changes:
        await direct.execute(session, _CHANGE, {"member_id": person.user_id, **changes})
    return cast(str | None, changes.get("sector", seen.sector))


async def touch_member(
    session: AsyncSession, *, person: Person, now: datetime, chat_sector: str | None = None
) -> Member:
    """`note_member`, for who goes on to change the member: the member as an object."""
    await note_member(session, person=person, now=now, chat_sector=chat_sector)
    member = await session.get(Member, person.user_id)
    assert member is not None
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
