"""The outbox rows as the worker sees them, and the reads that choose them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.orm import aliased

from bot.runtime import Runtime
from bot.storage import direct
from bot.storage.direct import Kept
from bot.transport.delivery.budget import Lane
from models import OutboxMessage
from models.delivery import FOLDED, PENDING
from models.vocab import OutboxMethod, Priority

BATCH = 200  # rows read at a time, in priority order
# The methods that post a new message (a timeout may have delivered them: see `uncertain`).
SENDS = frozenset(
    {
        OutboxMethod.SEND,
        OutboxMethod.PHOTO,
        OutboxMethod.UPLOAD_PHOTO,
        OutboxMethod.UPLOAD_DOCUMENT,
        OutboxMethod.ASK_SECTOR,
    }
)
# Chatter a person waits for: it goes in the answers' lane, before card edits.
ANSWERS = frozenset(
    {OutboxMethod.SEND, OutboxMethod.PHOTO, OutboxMethod.UPLOAD_PHOTO, OutboxMethod.UPLOAD_DOCUMENT}
)


@dataclass(frozen=True)
class Row:
    id: int
    priority: Priority
    method: OutboxMethod | str  # a str: a method this version does not know (dropped)
    chat_id: int
    payload: dict[str, Any]
    card_key: str | None
    attempts: int
    uncertain: bool
    created_at: datetime
    last_error: str | None = None

    @property
    def lane(self) -> Lane:
        if self.priority == Priority.CRITICAL:
            return Lane.CRITICAL
        if self.method == OutboxMethod.EDIT_CARD:
            return Lane.EDIT
        if self.priority == Priority.NEWS:
            return Lane.NEWS
        return Lane.ANSWER if self.method in ANSWERS else Lane.CHATTER

    @property
    def loose(self) -> bool:
        """In no chat's sequence: a 👍 does not wait for a card edit waiting for its minute."""
        return self.method == OutboxMethod.REACTION

    @property
    def sequenced(self) -> bool:
        """Goes after the chat's earlier rows. Not a reaction, nor a card edit (it folds: it
        never holds back an answer or news), nor a sector question waiting for its minute."""
        return self.method not in (
            OutboxMethod.REACTION,
            OutboxMethod.EDIT_CARD,
            OutboxMethod.ASK_SECTOR,
        )


def row_of(r: Any) -> Row:
    try:
        method: OutboxMethod | str = OutboxMethod(r.method)
    except ValueError:
        method = r.method
    return Row(
        id=r.id,
        priority=Priority(r.priority),
        method=method,
        chat_id=r.chat_id,
        payload=json.loads(r.payload),
        card_key=r.card_key,
        attempts=r.attempts,
        uncertain=r.uncertain,
        created_at=r.created_at,
        last_error=r.last_error,
    )


_TABLE = cast(Table, OutboxMessage.__table__)


_PENDING = (
    select(_TABLE)
    .where(_TABLE.c.status == PENDING)
    .order_by(_TABLE.c.priority, _TABLE.c.id)
    .limit(BATCH)
)


async def pending(runtime: Runtime, kept: Kept | None = None) -> list[Any]:
    """The first BATCH pending rows, most important first, each priority in written order:
    plain rows with the outbox's columns as attributes (read at every pass of the worker:
    straight from SQLite's driver, bot.storage.direct, and never as ORM objects, whose
    identity-map bookkeeping cost more than the read). `kept`: a row read as last time is
    the same object (a burst's 200 pending reactions were converted again at every pass)."""
    return await runtime.direct.all(_PENDING, kept)


def superseded_edits(stored: list[Any]) -> set[int]:
    """The ids of card edits a newer pending edit of the same card makes useless."""
    newest: dict[str, int] = {}
    for r in stored:
        if r.card_key is not None and r.id > newest.get(r.card_key, -1):
            newest[r.card_key] = r.id
    return {r.id for r in stored if r.card_key is not None and r.id != newest[r.card_key]}


async def fold_older_edits(session: Any, row: Row, now: datetime) -> int:
    """With a card edit's outcome: the same card's older pending edits are folded into it."""
    if row.card_key is None:
        return 0
    result: Any = await direct.execute(
        session, _FOLD_OLDER, {"card": row.card_key, "newest": row.id, "done_at": now}
    )
    return int(result.rowcount or 0)


# Core statements, built once: an ORM-enabled UPDATE (update(OutboxMessage)) takes
# SQLAlchemy's bulk-update path, several times the cost of the statement itself.
_FOLD_OLDER = (
    update(_TABLE)
    .where(
        _TABLE.c.card_key == bindparam("card"),
        _TABLE.c.status == PENDING,
        _TABLE.c.id < bindparam("newest"),
    )
    .values(status=FOLDED)
)  # and done_at, from the parameters
# One row's new values (SET: the parameters besides `row_id`): set_row, and an outcome
# written on its own straight on the driver (bot.transport.delivery.results).
SET_ROW = update(_TABLE).where(_TABLE.c.id == bindparam("row_id"))


async def fold_pending_edits(runtime: Runtime) -> int:
    """Every card's pending edits but the newest are folded into it, in one statement."""
    newer = aliased(OutboxMessage)
    async with runtime.sessions() as session:
        result: Any = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == PENDING,
                OutboxMessage.card_key.is_not(None),
                exists().where(
                    newer.card_key == OutboxMessage.card_key,
                    newer.status == PENDING,
                    newer.id > OutboxMessage.id,
                ),
            )
            .values(status=FOLDED, done_at=runtime.clock.now())
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    folded = int(result.rowcount or 0)
    runtime.stats.folded += folded
    return folded


async def outcome(runtime: Runtime, row_id: int) -> tuple[str | None, int | None, int]:
    """(status, message id, attempts) of one row; (None, None, 0) once it is pruned."""
    async with runtime.read_session() as session:
        found = (
            await session.execute(
                select(
                    OutboxMessage.status, OutboxMessage.message_id, OutboxMessage.attempts
                ).where(OutboxMessage.id == row_id)
            )
        ).one_or_none()
    if found is None:
        return None, None, 0
    return found[0], found[1], found[2]


async def set_row(session: Any, row: Row, **values: Any) -> None:
    await direct.execute(session, SET_ROW, {"row_id": row.id, **values})
