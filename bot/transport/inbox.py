"""The update inbox: every update is stored before Telegram is told it arrived.

Telegram forgets an update once a later `getUpdates` passes its offset (or once a webhook
call is answered), so the row written here is the only copy. It is marked handled in the
same transaction as the state change it causes, so it is handled exactly once.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage import direct
from bot.storage.db import insert_for
from bot.storage.direct import Direct
from models import InboxUpdate
from models.delivery import HANDLED, RECEIVED, SKIPPED

# Only what the handlers use: a group's messages, button presses, the bot's and people's
# membership changes.
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member", "chat_member"]

__all__ = ["HANDLED", "RECEIVED", "SKIPPED"]

_INBOX = cast(Table, InboxUpdate.__table__)
_MARK = update(_INBOX).where(_INBOX.c.update_id == bindparam("marked_id"))  # SET: the params


def kind_of(data: dict[str, Any]) -> str:
    """The update's kind ("message", "callback_query", ...), for the log; never its content."""
    return next((key for key in data if key != "update_id"), "empty")[:32]


def _rows(updates: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "update_id": int(u["update_id"]),
            "kind": kind_of(u),
            "data": json.dumps(u, ensure_ascii=False),
            "status": RECEIVED,
            "received_at": now,
        }
        for u in updates
        if isinstance(u, dict) and isinstance(u.get("update_id"), int)
    ]


async def store(session: AsyncSession, updates: list[dict[str, Any]], now: datetime) -> set[int]:
    """Store the updates not stored yet; returns the ids that are new (the caller commits)."""
    rows = _rows(updates, now)
    if not rows:
        return set()
    # One row a statement: a multi-row VALUES is compiled anew every time (SQLAlchemy cannot
    # cache it), which cost more than the insert itself; a batch is mostly one update anyway.
    stmt = _store(session.get_bind().dialect.name)
    new: set[int] = set()
    for row in rows:
        new.update(r[0] for r in (await direct.execute(session, stmt, row)).all())
    return new


async def store_now(direct: Direct, updates: list[dict[str, Any]], now: datetime) -> set[int]:
    """`store`, committed in a write transaction of its own straight on SQLite's driver
    (bot.storage.direct): a session, its pooled connection and SQLAlchemy's layers cost
    several times the inserts, for every update the bot receives."""
    rows = _rows(updates, now)
    if not rows:
        return set()
    returned = await direct.write_each(_store(direct.dialect.name), rows)
    return {row[0] for rows_of_one in returned for row in rows_of_one}


@functools.cache
def _store(dialect: str) -> Any:
    """Built once (bot.storage.direct compiles it once)."""
    return (
        insert_for(dialect)(_INBOX)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(_INBOX.c.update_id)
    )


async def waiting(session: AsyncSession) -> list[InboxUpdate]:
    """Updates stored but never handled (the process stopped first), oldest first."""
    rows = await session.scalars(
        select(InboxUpdate).where(InboxUpdate.status == RECEIVED).order_by(InboxUpdate.update_id)
    )
    return list(rows.all())


async def next_offset(session: AsyncSession) -> int | None:
    newest = await session.scalar(select(func.max(InboxUpdate.update_id)))
    return None if newest is None else int(newest) + 1


async def status_of(session: AsyncSession, update_id: int) -> str | None:
    return await session.scalar(
        select(InboxUpdate.status).where(InboxUpdate.update_id == update_id)
    )


async def stored(session: AsyncSession, update_id: int) -> dict[str, Any] | None:
    """An update as Telegram sent it, if it is still kept (a week after it was handled)."""
    data = await session.scalar(select(InboxUpdate.data).where(InboxUpdate.update_id == update_id))
    if data is None:
        return None
    value = json.loads(data)
    return value if isinstance(value, dict) else None


async def mark(
    session: AsyncSession,
    update_id: int,
    status: str,
    now: datetime,
    *,
    only_waiting: bool = False,
    holding: Any = None,
) -> bool:
    """Mark an update handled or skipped; `only_waiting`: only if no one marked it yet;
    `holding`: only while this SQL condition holds (bot.storage.lease.holds: this copy still
    holds the lease). Whether a row was marked."""
    if not only_waiting and holding is None:  # the usual case: one copy
        values = {"marked_id": update_id, "status": status, "handled_at": now}
        return bool((await direct.execute(session, _MARK, values)).rowcount)
    statement = update(InboxUpdate).where(InboxUpdate.update_id == update_id)
    if only_waiting:
        statement = statement.where(InboxUpdate.status == RECEIVED)
    if holding is not None:
        statement = statement.where(holding)
    result: Any = await session.execute(
        statement.values(status=status, handled_at=now).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget handled updates older than `before`, keeping the newest (it fixes the offset)."""
    newest = await session.scalar(select(func.max(InboxUpdate.update_id)))
    result: Any = await session.execute(
        delete(InboxUpdate).where(
            InboxUpdate.status != RECEIVED,
            InboxUpdate.received_at < before,
            InboxUpdate.update_id != (newest or 0),
        )
    )
    return int(result.rowcount or 0)
