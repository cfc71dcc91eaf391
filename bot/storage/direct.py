"""Hot statements on SQLite straight from the driver: compiled once, run on the sqlite3
connection itself, their values through SQLAlchemy's own bind and result processors for the
dialect (so a row holds what a session would have returned).

Through a session, a statement goes through SQLAlchemy's execution layers (the ORM's execute,
the connection's, the result's): some 150–250 µs of the loop's time, for what SQLite answers
in 10–30 µs; a whole read session (pool, BEGIN, COMMIT, close) some 400 µs. Two ways in:

- `execute(session, statement, params)`: inside a session's transaction, on its connection,
  after what the session would do before any statement (flush its pending objects, insert
  the step's deferred rows); a write counts as one (bot.storage.unit_of_work.writes_so_far);
- `Direct.all(statement)`: a read with no session at all, on a connection of its own in
  autocommit (the statement is its own snapshot of what is committed): the delivery worker
  reads the pending outbox rows after every step that writes one and every message it sends.

Only statements built once (module level, values as `bindparam`) go this way: each is
compiled the first time it runs. IN lists, and INSERT or UPDATE with defaults computed in
Python, are left to SQLAlchemy. PostgreSQL (and SQLite in memory, or an engine not on the
loop's thread) runs everything through the session as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.base import Executable

from bot.storage.db import sqlite_file
from bot.storage.sqlite_loop import (
    BUSY_SECONDS,
    LoopConnection,
    count_write,
    patiently,
    take_writer_lock,
)

Processor = Callable[[Any], Any] | None
Params = dict[str, Any] | Sequence[dict[str, Any]] | None


class _Compiled:
    """A statement as this dialect runs it: its SQL, its parameters in order with their bind
    processors, the columns it returns with their result processors, and a row type naming
    them. `keys`: the columns an INSERT or UPDATE is given values for."""

    def __init__(self, statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled: Any = cast(Any, statement).compile(
            dialect=dialect, column_keys=list(keys) if keys else None
        )
        self.statement = statement  # held: the cache is keyed by its id
        # Left to SQLAlchemy: an IN list (rendered per call), defaults computed in Python (a
        # column's `default=` or `onupdate=` callable: only its execution fills them in).
        self.direct = not (
            any(bind.expanding for bind in compiled.binds.values())
            or compiled.insert_prefetch
            or compiled.update_prefetch
        )
        self.compiled = compiled
        self.sql: str = compiled.string
        self.names: list[str] = list(compiled.positiontup or ())
        self.binds: list[Processor] = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        ]
        columns = list(getattr(compiled, "returning", None) or ())
        if not columns and isinstance(statement, Select):
            columns = list(statement.selected_columns)
        self.results: list[Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.row: Any = namedtuple(  # type: ignore[misc]
            "Row", [column.key for column in columns] or ["_0"], rename=True
        )

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        values = self.compiled.construct_params(params)
        return [
            value if process is None else process(value)
            for process, value in zip(self.binds, (values[n] for n in self.names), strict=True)
        ]

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Any]:
        results, make = self.results, self.row._make
        if not any(results):
            return [make(r) for r in raw]
        return [
            make(v if p is None else p(v) for p, v in zip(results, r, strict=True)) for r in raw
        ]

    def rows_reusing(self, raw: list[tuple[Any, ...]], kept: Kept) -> list[Any]:
        """`rows`, with a row read exactly as last time (every column equal) given back as
        the same object, not converted again; rows no longer read are forgotten."""
        before, now, out = kept.rows, {}, []
        for values in raw:
            key = values[0]
            found = before.get(key)
            if found is None or found[0] != values:
                found = (values, self.rows([values])[0])
            now[key] = found
            out.append(found[1])
        kept.rows = now
        return out


class Kept:
    """What a read that runs again and again (the worker's pending rows, after every message
    it sends) kept of its last rows, by their first column (the id)."""

    def __init__(self) -> None:
        self.rows: dict[Any, tuple[tuple[Any, ...], Any]] = {}


_cache: dict[tuple[int, str, tuple[str, ...]], _Compiled] = {}


def _compiled(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    key = (id(statement), dialect.name, keys)
    found = _cache.get(key)
    if found is None or found.statement is not statement:
        found = _cache[key] = _Compiled(statement, dialect, keys)
    return found


class DirectResult:
    """What callers use of a SQLAlchemy Result: the rows (columns as attributes), the first,
    the only one, the first column of the first, and how many rows a write touched."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise ValueError("more than one row")
        return self.first()

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one_or_none(self) -> Any:
        return self.one_or_none()[0] if self._rows else None


async def execute(session: AsyncSession, statement: Executable, params: Params = None) -> Any:
    """`session.execute(statement, params)`; on SQLite, on the loop's thread, straight on the
    session's sqlite3 connection, inside its transaction (a list of parameters: one
    executemany for each run of rows with the same columns)."""
    bind: Any = session.bind
    if bind is None or bind.dialect.name != "sqlite":
        return await session.execute(statement, params)
    many = params if isinstance(params, list | tuple) else None
    dml = bool(getattr(statement, "is_dml", False))
    if many is not None:
        runs = [
            (_compiled(statement, bind.dialect, _keys(same[0]) if dml else ()), same)
            for same in _runs_of_same_keys(many)
        ]
        if not all(compiled.direct for compiled, _ in runs):  # each run checked, not the first
            return await session.execute(statement, params)
    else:
        keys = _keys(params or {}) if dml else ()
        compiled = _compiled(statement, bind.dialect, keys)
        if not compiled.direct:
            return await session.execute(statement, params)
    sync = session.sync_session
    # What the session does before any statement: its pending objects (autoflush), then the
    # step's deferred rows (bot.storage.unit_of_work).
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()
    if sync.info.get("deferred"):
        await session.flush_deferred()  # type: ignore[attr-defined]
    connection = await session.connection()
    driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    if not isinstance(driver, LoopConnection):
        return await session.execute(statement, params)
    sqlite = driver.sqlite
    sync_connection = connection.sync_connection
    if dml:
        sync.info["writes"] = sync.info.get("writes", 0) + 1
    deadline = time.monotonic() + BUSY_SECONDS
    if many is not None:
        total = 0
        for run_compiled, same in runs:
            arguments = [run_compiled.arguments(row) for row in same]
            sql = run_compiled.sql
            _announce(sync_connection, sql, arguments, many=True)
            with _as_sqlalchemy_error(sql, arguments, bind.dialect):
                cursor = await patiently(
                    functools.partial(sqlite.executemany, sql, arguments), deadline
                )
            total += max(cursor.rowcount, 0)
        return DirectResult([], total)
    arguments = compiled.arguments(cast(dict[str, Any], params or {}))
    _announce(sync_connection, compiled.sql, arguments)

    def once() -> tuple[list[Any], int]:
        cursor = sqlite.execute(compiled.sql, arguments)
        return cursor.fetchall(), cursor.rowcount

    with _as_sqlalchemy_error(compiled.sql, arguments, bind.dialect):
        raw, rowcount = await patiently(once, deadline)
    return DirectResult(compiled.rows(raw), rowcount)


@contextlib.contextmanager
def _as_sqlalchemy_error(sql: str, arguments: Any, dialect: Dialect) -> Iterator[None]:
    """A driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, ... all
    DBAPIError): what the step's retries and the worker's refusals catch."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, arguments, exc, sqlite3.Error, dialect=dialect) from exc


def _announce(connection: Any, sql: str, arguments: Any, *, many: bool = False) -> None:
    """Listeners of `before_cursor_execute` (statement counts, a log of the SQL) see a direct
    statement as they see any other (no cursor or execution context: there is none)."""
    listeners = connection.dispatch.before_cursor_execute if connection is not None else None
    if listeners:
        listeners(connection, None, sql, arguments, None, many)


def _keys(row: Any) -> tuple[str, ...]:
    return tuple(cast(dict[str, Any], row))


def _runs_of_same_keys(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    runs: list[list[dict[str, Any]]] = []
    for row in rows:
        if runs and runs[-1][0].keys() == row.keys():
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


class Direct:
    """Statements outside any session on SQLite's own connections (`path`, opened with
    `options` like the engine's): reads in autocommit, and short write transactions of their
    own. Reads go through `sessions` where there is no file (`path` None: PostgreSQL); a
    caller that writes checks `path` and keeps its session elsewhere."""

    def __init__(
        self,
        dialect: Dialect,
        sessions: Callable[[], AsyncSession],
        path: str | None = None,
        options: dict[str, Any] | None = None,
        engine: Any = None,
    ) -> None:
        self.dialect, self.sessions, self.engine = dialect, sessions, engine
        self.path, self.options = path, options or {}
        self._conn: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None

    @classmethod
    def of(cls, engine: AsyncEngine, sessions: Callable[[], AsyncSession]) -> Direct:
        """Direct reads of `engine`'s SQLite file; through `sessions` where it has none."""
        file = sqlite_file(engine.url.render_as_string(hide_password=False))
        path, options = file if file is not None else (None, None)
        return cls(engine.dialect, sessions, path, options, engine.sync_engine)

    async def all(
        self, statement: Select[Any], kept: Kept | None = None, **params: Any
    ) -> list[Any]:
        """Every row of `statement` (built once, at module level) with `params` bound by
        name; rows with the columns as attributes. `kept`: rows unchanged since the last read
        with it are the same objects (their first column must be a key)."""
        if self.path is None:
            async with self.sessions() as session:
                return list((await session.execute(statement, params)).all())
        compiled = _compiled(statement, self.dialect, ())
        if not compiled.direct:
            raise ValueError("IN lists are not supported by a direct read")
        arguments = compiled.arguments(params)
        _announce(self.engine, compiled.sql, arguments)
        conn = self._connection()
        raw = await patiently(
            lambda: conn.execute(compiled.sql, arguments).fetchall(),
            time.monotonic() + BUSY_SECONDS,
        )
        return compiled.rows(raw) if kept is None else compiled.rows_reusing(raw, kept)

    async def write_each(self, statement: Executable, rows: list[dict[str, Any]]) -> list[Any]:
        """SQLite: `statement` once for each of `rows`, in one write transaction of its own,
        committed (the rows each run returns, a list for each). Taken as every write of this
        process takes it: the file's writer lock first (bot.storage.sqlite_loop), so no other
        transaction of the bot's ever meets SQLite's lock held by this one."""
        assert self.path is not None, "a direct write needs SQLite's file"
        lock = await take_writer_lock(self.path)
        try:
            await asyncio.sleep(0)  # as every writer here: the loop goes round once first
            conn = self._writer = self._writer or self._open()
            deadline = time.monotonic() + BUSY_SECONDS
            await patiently(functools.partial(conn.execute, "BEGIN IMMEDIATE"), deadline)
            try:
                out = []
                for row in rows:
                    compiled = _compiled(statement, self.dialect, tuple(row))
                    if not compiled.direct:
                        raise ValueError(
                            "a direct write cannot fill in defaults computed in Python"
                        )
                    arguments = compiled.arguments(row)
                    _announce(self.engine, compiled.sql, arguments)
                    with _as_sqlalchemy_error(compiled.sql, arguments, self.dialect):
                        found = conn.execute(compiled.sql, arguments).fetchall()
                    out.append(compiled.rows(found))
                await patiently(functools.partial(conn.execute, "COMMIT"), deadline)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            lock.release()
        count_write(self.path, self.options, asyncio.get_running_loop())
        return out

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        assert self.path is not None
        # As bot.storage.sqlite_loop opens the engine's: waiting is done by `patiently`.
        options = {
            k: v for k, v in self.options.items() if k not in ("timeout", "check_same_thread")
        }
        conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False, **options)
        conn.isolation_level = None  # autocommit, or BEGIN and COMMIT said explicitly
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        return conn

    def close(self) -> None:
        for conn in (self._conn, self._writer):
            if conn is not None:
                conn.close()
        self._conn = self._writer = None


# As bot.storage.db sets them on the engine's connections on the loop's thread.
_PRAGMAS = (
    "PRAGMA busy_timeout=0",
    "PRAGMA wal_autocheckpoint=0",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
