"""SQLite on the event loop's own thread, with writers queued inside the process.

aiosqlite runs every statement on a worker thread and hands the result back through the event
loop: two thread switches and one loop wake-up per statement, most of the time of a short
statement. A statement of this bot takes tens of microseconds in SQLite itself (WAL,
synchronous=NORMAL: a commit writes to the WAL without waiting for the disk; the checkpoints,
which do wait for it, run on a worker thread), so here it runs right where it is asked for, and
only waiting is asynchronous:

- a write transaction (BEGIN IMMEDIATE) first takes this process's writer lock for the file,
  an asyncio lock (first come, first served), and holds it until the transaction ends; no
  statement of this process ever meets SQLite's lock held by this same process;
- SQLite's own busy handler is off (a wait inside it would stop the whole loop): when another
  process holds the file (a `flexus-bot` command, a backup), the statement is tried again after
  an asynchronous pause, up to BUSY_SECONDS, then fails with "database is locked" as before.

The objects below are what SQLAlchemy's aiosqlite dialect uses of an aiosqlite connection;
`make_engine` passes `opener(path)` as the engine's `async_creator`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

BUSY_SECONDS = 15.0  # as the busy_timeout this replaces
# Write commits between two checkpoints (WAL pages copied back into the database file). SQLite's
# own automatic checkpoint is off on these connections: it would run inside a commit, on the
# loop, with two disk syncs. This one runs on a worker thread and never waits for anyone.
CHECKPOINT_EVERY = 200
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.05

log = logging.getLogger(__name__)

# One writer lock per database file and event loop.
_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def writer_lock(path: str) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    locks = _writers.setdefault(loop, {})
    lock = locks.get(path)
    if lock is None:
        lock = locks[path] = asyncio.Lock()
    return lock


async def take_writer_lock(path: str) -> asyncio.Lock:
    """The file's writer lock, taken (first come, first served); "database is locked" after
    BUSY_SECONDS, as SQLite's own busy timeout would say."""
    lock = writer_lock(path)
    try:
        # asyncio.timeout, not wait_for: no task, and a cancellation is never swallowed.
        async with asyncio.timeout(BUSY_SECONDS):
            await lock.acquire()
    except TimeoutError:
        raise sqlite3.OperationalError("database is locked") from None
    return lock


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


async def patiently(run: Callable[[], Any], deadline: float) -> Any:
    """`run()`, again after a pause while another process holds the database."""
    pause = _FIRST_PAUSE
    while True:
        try:
            return run()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(_LONGEST_PAUSE, pause * 2)


class _Cursor:
    def __init__(self, owner: LoopConnection) -> None:
        self._owner = owner
        self._cursor = owner._conn.cursor()

    async def __aenter__(self) -> _Cursor:  # SQLAlchemy enters each cursor it opens
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        await self._owner._run(sql, lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _Cursor:
        rows = list(parameters)
        await self._owner._run(sql, lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> _Cursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


class _Now:
    """Stands in for aiosqlite's request queue: SQLAlchemy sets isolation_level through it."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to the awaiting caller
            future.set_exception(exc)


class LoopConnection:
    """An aiosqlite-shaped connection whose statements run on the calling (loop) thread."""

    def __init__(
        self, conn: sqlite3.Connection, path: str, options: dict[str, Any] | None = None
    ) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn
        self._path = path
        self._options = options or {}
        self._tx = _Now()
        self._holding: asyncio.Lock | None = None
        self._loop = asyncio.get_running_loop()

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The connection itself, for statements run on it directly (bot.storage.direct)."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._conn.isolation_level = value

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    async def _run(self, sql: str, run: Callable[[], Any]) -> None:
        deadline = time.monotonic() + BUSY_SECONDS
        begins_write = self._holding is None and _starts_write(sql)
        if begins_write:
            self._holding = await take_writer_lock(self._path)
        try:
            if begins_write:
                # Hand the loop round once before writing. Statements here never wait, so
                # without this a burst of steps runs back to back, and the delivery worker and
                # the poller, each needing a few loop turns to send one request, wait for all of
                # them (200 /caido at once: the alert left after 0.8 s instead of 0.2 s).
                # Meanwhile the other writers line up on the lock: about one step a turn.
                await asyncio.sleep(0)
            await patiently(run, deadline)
        finally:
            self._release_if_done()

    def _release_if_done(self) -> None:
        if self._holding is not None and not self._conn.in_transaction:
            lock, self._holding = self._holding, None
            lock.release()

    async def commit(self) -> None:
        wrote = self._holding is not None
        try:
            await patiently(self._conn.commit, time.monotonic() + BUSY_SECONDS)
        finally:
            self._release_if_done()
        if wrote:
            count_write(self._path, self._options, self._loop)

    async def rollback(self) -> None:
        try:
            self._conn.rollback()
        finally:
            self._release_if_done()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close (also what SQLAlchemy calls on a connection it abandons, possibly from the
        garbage collector on another thread: the lock is then given back on the loop's)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()
        if self._holding is not None:
            lock, self._holding = self._holding, None
            if _on_thread_of(self._loop):
                lock.release()
            elif not self._loop.is_closed():
                self._loop.call_soon_threadsafe(lock.release)


_writes_since_checkpoint: dict[str, int] = {}
_checkpointing: set[str] = set()


def count_write(path: str, options: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
    count = _writes_since_checkpoint.get(path, 0) + 1
    if count < CHECKPOINT_EVERY or path in _checkpointing:
        _writes_since_checkpoint[path] = count
        return
    _writes_since_checkpoint[path] = 0
    _checkpointing.add(path)
    done = loop.run_in_executor(None, checkpoint, path, options)
    done.add_done_callback(lambda future: _checkpointed(path, future))


def _checkpointed(path: str, future: asyncio.Future[None]) -> None:
    _checkpointing.discard(path)
    if not future.cancelled() and future.exception() is not None:
        log.warning("WAL checkpoint of %s failed: %s", path, future.exception())


def checkpoint(path: str, options: dict[str, Any]) -> None:
    """Copy the WAL back into the database file (PASSIVE: as far as readers allow, waiting for
    no one). Runs on a worker thread, with a connection of its own."""
    conn = sqlite3.connect(path, timeout=BUSY_SECONDS, **options)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()


def _on_thread_of(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _starts_write(sql: str) -> bool:
    head = sql.lstrip()[:24].upper()
    return head.startswith("BEGIN IMMEDIATE") or head.startswith("BEGIN EXCLUSIVE")


def opener(path: str, **kwargs: Any) -> Callable[[], Any]:
    """The engine's `async_creator`: a connection to `path` (a file name or a file: URI)."""
    kwargs.pop("timeout", None)  # a `?timeout=` in the URL: waiting is done here (BUSY_SECONDS)
    kwargs.pop("check_same_thread", None)

    async def connect() -> LoopConnection:
        conn = sqlite3.connect(path, check_same_thread=False, timeout=0, **kwargs)
        conn.isolation_level = None  # transactions are begun explicitly (see bot.storage.db)
        return LoopConnection(conn, path, kwargs)

    return connect
