"""One step = one transaction: an update's (or a timer's) state change, the messages it causes
and the mark that it was handled are committed together, or not at all.

Inside a step, `Runtime.session()` hands out the step's own session inside a SAVEPOINT, so a
service that refuses (and raises) undoes only its own block, and a service's `commit()` only
flushes: the step commits once, at its end. Work that must wait for the commit (answering a
button press, waking the delivery worker, arming timers) is queued with `after_commit`.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.core.fence import Fence, LeaseLost
from bot.storage import direct, lease

log = logging.getLogger(__name__)


class _HoldingSession(Session):
    """Holds every object it loads or adds until it closes. A session's identity map is weak:
    without this, a member loaded by one service and looked up again by the next one in the
    same step would be read from the database twice."""


@event.listens_for(_HoldingSession, "loaded_as_persistent")
@event.listens_for(_HoldingSession, "pending_to_persistent")
def _hold(session: Session, instance: object) -> None:
    session.info.setdefault("held", []).append(instance)


@event.listens_for(_HoldingSession, "after_flush")
def _count_flush(session: Session, _context: Any) -> None:
    session.info["writes"] = session.info.get("writes", 0) + 1


@event.listens_for(_HoldingSession, "do_orm_execute")
def _before_statement(state: Any) -> None:
    session = state.session
    deferred = session.info.pop("deferred", None)
    if deferred:
        # As the ORM's autoflush: the step's next statement sees the rows it deferred. Objects
        # the ORM has pending go first: a deferred row may refer to one (a member added as an
        # object), never the other way round (a deferred row has no id yet).
        if session.new:
            session.flush()
        for table, rows in _runs(deferred):
            session.execute(_insert_of(table), rows)
    if state.is_insert or state.is_update or state.is_delete:
        session.info["writes"] = session.info.get("writes", 0) + 1


def _runs(deferred: list[tuple[Table, dict[str, Any]]]) -> Iterator[tuple[Table, list[Any]]]:
    """The deferred rows in the order they were deferred, a list for each run of one table."""
    for table, rows in itertools.groupby(deferred, key=lambda item: item[0]):
        yield table, [row for _, row in rows]


@functools.cache
def _insert_of(table: Table) -> Any:
    """Built once a table: a direct statement is compiled once (bot.storage.direct)."""
    return insert(table)


def writes_so_far(session: AsyncSession) -> int:
    """How many times the step's session wrote (flushes with changes, INSERT/UPDATE/DELETE
    statements, rows deferred, changes not flushed yet): a block that wrote nothing leaves it
    as it found it."""
    unflushed = len(session.new) + len(session.dirty) + len(session.deleted)
    return session.info.get("writes", 0) + len(session.info.get("deferred", ())) + unflushed


class StepSession(AsyncSession):
    """The step's session. Only the step that owns it ends its transaction (`commit_step`,
    `rollback_step`): a service that called `commit()` or `rollback()` would end the step's
    transaction half-way (a rollback would throw away the step's earlier writes), so both
    raise. Services flush when they need ids, and undo their own writes with a savepoint."""

    sync_session_class = _HoldingSession

    async def commit(self) -> None:
        raise RuntimeError("inside a step only the step commits (services flush)")

    async def rollback(self) -> None:
        raise RuntimeError("inside a step only the step rolls back (services use a savepoint)")

    def defer_insert(self, table: Table, row: dict[str, Any]) -> None:
        """A row inserted with the step's other rows of its kind, in one statement, before the
        step's next statement or at its commit: not through the ORM's unit of work, whose
        bookkeeping costs many times the insert for a row nobody reads back."""
        self.info.setdefault("deferred", []).append((table, row))

    async def flush_deferred(self) -> None:
        """Insert the deferred rows now, in the order they were deferred (a statement for each
        run of one table). The step's next statement does it anyway; a step calls this where
        no statement comes next (its commit, a savepoint)."""
        deferred: list[tuple[Table, dict[str, Any]]] = self.info.pop("deferred", [])
        for table, rows in _runs(deferred):
            await direct.execute(self, _insert_of(table), rows)

    async def commit_step(self) -> None:
        """Commit, if this copy still may act: with several copies on PostgreSQL, a step of a
        copy that lost the lease (it was paused, or cut off) is undone, not committed."""
        await self.flush()  # the ORM's pending objects before the deferred rows (see above)
        await self.flush_deferred()
        fence: Fence | None = self.info.get("fence")
        if fence is not None and fence.leased:
            fence.check()
            assert fence.copy_id is not None and fence.epoch is not None
            checked = self.info.pop("lease_checked", False)  # by the step's own statement
            if not checked and not await lease.held(self, me=fence.copy_id, epoch=fence.epoch):
                fence.drop()
                raise LeaseLost(f"lease epoch {fence.epoch} was taken over")
            fence.check()  # again: the look at the lease was a round trip
        await super().commit()

    async def rollback_step(self) -> None:
        self.info.pop("deferred", None)
        await super().rollback()


@dataclass
class Step:
    session: StepSession
    runtime: Any
    update_id: int | None = None
    failed: BaseException | None = None
    wrote_outbox: bool = False
    added_timers: bool = False
    # The step acts on a drill (/simulacro): every message it writes is marked as one.
    drill: bool = False
    _after: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        self._after.append(action)

    async def run_after_commit(self) -> None:
        for action in self._after:
            try:
                await action()
            except Exception:
                log.exception("an action after the step's commit failed")
        self._after.clear()

    @asynccontextmanager
    async def scope(self, *, refusable: bool = True) -> AsyncIterator[AsyncSession]:
        """The step's session; in a savepoint when the block may refuse after writing (a
        refusal then undoes that block alone). Any other failure fails the whole step, so a
        block that never refuses needs no savepoint (two statements fewer)."""
        if not refusable:
            yield self.session
            await self.session.flush()
            return
        async with savepoint(self.session):
            yield self.session


_CURRENT: ContextVar[Step | None] = ContextVar("flexus_step", default=None)


def current_step() -> Step | None:
    return _CURRENT.get()


def add_row(session: AsyncSession, model: Any, row: dict[str, Any]) -> None:
    """A new row of `model`'s table: in a step, deferred (`StepSession.defer_insert`);
    elsewhere an ORM object of `model`, flushed with the session's others."""
    if isinstance(session, StepSession):
        session.defer_insert(model.__table__, row)
    else:
        session.add(model(**row))


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A block whose writes a failure undoes alone: rows the step deferred before it are
    inserted first (not the block's to undo), those deferred inside it are dropped with it."""
    await flush_deferred(session)
    try:
        async with session.begin_nested():
            yield session
    except BaseException:
        session.info.pop("deferred", None)  # the block's own, undone with it
        raise


async def flush_deferred(session: AsyncSession) -> None:
    """The step's deferred rows inserted now, where no statement would do it first (before a
    savepoint, before counting a service's writes); nothing outside a step."""
    if isinstance(session, StepSession):
        await session.flush_deferred()


@asynccontextmanager
async def step_scope(
    session: StepSession, runtime: Any, update_id: int | None = None
) -> AsyncIterator[Step]:
    """Run a block as a step: inside it, `Runtime.session()` is this step's session."""
    step = Step(session=session, runtime=runtime, update_id=update_id)
    token = _CURRENT.set(step)
    try:
        yield step
    finally:
        _CURRENT.reset(token)
