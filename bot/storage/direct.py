"""Hot reads on SQLite straight from the driver: a SELECT compiled once, run on a connection
of its own in autocommit (the statement is its own read transaction: a snapshot of what is
committed, as a read session's first statement sees).

Through a session, a read costs opening it, checking a connection out of the pool, BEGIN,
the statement's trip through SQLAlchemy's execution layers, COMMIT and closing: some 400 µs
of the loop's time, for a statement SQLite answers in 10–30 µs. The delivery worker reads the
pending outbox rows after every step that writes one and after every message it sends, so
that read goes here. What it returns is what the session would have returned: the values go
through the same types (SQLAlchemy's own bind and result processors for this dialect).

On PostgreSQL (or SQLite in memory) there is no direct connection and `DirectReads.all` runs
the statement through a read session instead.
"""

from __future__ import annotations

import sqlite3
import time
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.storage.db import sqlite_file
from bot.storage.sqlite_loop import BUSY_SECONDS, patiently

Processor = Callable[[Any], Any] | None


class _Compiled:
    """A SELECT as this dialect runs it: its SQL, its parameters in order with their bind
    processors, its columns with their result processors, and a row type naming them."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("IN lists are not supported by a direct read")
        self.compiled = compiled
        self.sql = compiled.string
        self.names: list[str] = list(compiled.positiontup or ())
        self.binds: list[Processor] = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names
        ]
        columns = list(statement.selected_columns)
        self.results: list[Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.row: Any = namedtuple("Row", [column.key for column in columns], rename=True)  # type: ignore[misc]

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


class DirectReads:
    """SELECTs on SQLite's own connection (`path`, opened with `options` like the engine's),
    or through `sessions` where there is none (`path` None: PostgreSQL)."""

    def __init__(
        self,
        dialect: Dialect,
        sessions: Callable[[], AsyncSession],
        path: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.dialect, self.sessions = dialect, sessions
        self.path, self.options = path, options or {}
        self._conn: sqlite3.Connection | None = None
        self._compiled: dict[int, _Compiled] = {}

    @classmethod
    def of(cls, engine: AsyncEngine, sessions: Callable[[], AsyncSession]) -> DirectReads:
        """Direct reads of `engine`'s SQLite file; through `sessions` where it has none."""
        file = sqlite_file(engine.url.render_as_string(hide_password=False))
        path, options = file if file is not None else (None, None)
        return cls(engine.dialect, sessions, path, options)

    async def all(self, statement: Select[Any], **params: Any) -> list[Any]:
        """Every row of `statement` (a module-level SELECT: it is compiled once, the first time
        it runs) with `params` bound by name; rows with the columns as attributes."""
        if self.path is None:
            async with self.sessions() as session:
                return list((await session.execute(statement, params)).all())
        compiled = self._compiled.get(id(statement))
        if compiled is None or compiled.compiled.statement is not statement:
            compiled = self._compiled[id(statement)] = _Compiled(statement, self.dialect)
        arguments = compiled.arguments(params)
        conn = self._connection()
        raw = await patiently(
            lambda: conn.execute(compiled.sql, arguments).fetchall(),
            time.monotonic() + BUSY_SECONDS,
        )
        return compiled.rows(raw)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            assert self.path is not None
            # As bot.storage.sqlite_loop opens the engine's: waiting is done by `patiently`.
            options = {
                k: v for k, v in self.options.items() if k not in ("timeout", "check_same_thread")
            }
            self._conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False, **options)
            self._conn.isolation_level = None  # autocommit: each SELECT its own snapshot
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
