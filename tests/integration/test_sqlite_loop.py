"""SQLite on the event loop's thread (bot.storage.sqlite_loop): writers queue in the process, a lock
held by another process is waited for without stopping the loop, and nothing is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from bot.storage import sqlite_loop
from bot.storage.db import make_engine


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    await engine.dispose()


async def count(engine: Any) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM t")))


async def write(engine: Any, x: int, pause: float = 0.0) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
        await asyncio.sleep(pause)  # hold the transaction across an await, as a step does
        await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": -x})


async def test_statements_run_on_the_loops_thread(engine: Any) -> None:
    threads: list[int] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _where(*_: Any) -> None:
        threads.append(threading.get_ident())

    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, sqlite_loop.LoopConnection)
        await connection.execute(text("SELECT 1"))
    assert threads and set(threads) == {threading.get_ident()}


async def test_concurrent_writers_queue_in_the_process_and_all_commit(engine: Any) -> None:
    await asyncio.gather(*(write(engine, x, pause=0.001) for x in range(1, 101)))
    assert await count(engine) == 200


def hold_the_file(path: Path, seconds: float, started: threading.Event) -> None:
    """Another process's writer: holds SQLite's write lock for `seconds`."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (0)")
    started.set()
    threading.Event().wait(seconds)
    other.execute("COMMIT")
    other.close()


class Turns:
    """Counts the turns of the loop a task gets, pausing `pause` seconds between them."""

    def __init__(self, pause: float) -> None:
        self.count = 0
        self._task = asyncio.create_task(self._run(pause))

    async def _run(self, pause: float) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(pause)

    def stop(self) -> None:
        self._task.cancel()


async def test_a_lock_held_elsewhere_is_waited_for_without_stopping_the_loop(
    engine: Any, tmp_path: Path
) -> None:
    started = threading.Event()
    holder = threading.Thread(target=hold_the_file, args=(tmp_path / "loop.db", 0.5, started))
    holder.start()
    await asyncio.to_thread(started.wait, 5)
    turns = Turns(pause=0.01)
    await write(engine, 7)
    turns.stop()
    holder.join()
    assert await count(engine) == 3  # the other's row and both of ours
    assert turns.count >= 20  # the loop ran all the while the write waited (about 0.5 s)


async def test_a_lock_held_too_long_fails_as_locked_and_frees_the_queue(
    engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_loop, "BUSY_SECONDS", 0.2)
    started = threading.Event()
    holder = threading.Thread(target=hold_the_file, args=(tmp_path / "loop.db", 0.6, started))
    holder.start()
    await asyncio.to_thread(started.wait, 5)
    with pytest.raises(OperationalError, match="database is locked"):
        await write(engine, 1)
    await asyncio.to_thread(holder.join)
    await asyncio.wait_for(write(engine, 2), 5)  # the process's writer lock was given back
    assert await count(engine) == 3


async def test_a_failed_transaction_gives_the_writer_lock_back(engine: Any) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("the step refused")
    await asyncio.wait_for(write(engine, 2), 5)
    assert await count(engine) == 2


async def test_reads_do_not_wait_for_a_writer(tmp_path: Path, engine: Any) -> None:
    reads = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}", reads_only=True)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (1)"))
            # The writer holds the process's lock; a read on the plain-BEGIN engine goes ahead.
            async with reads.connect() as reader:
                seen = await asyncio.wait_for(reader.scalar(text("SELECT count(*) FROM t")), 2)
            assert seen == 0
    finally:
        await reads.dispose()


async def test_streamed_results_read_row_by_row(engine: Any) -> None:
    await write(engine, 3)
    async with engine.connect() as connection:
        result = await connection.stream(text("SELECT x FROM t ORDER BY x"))
        assert [row.x async for row in result] == [-3, 3]


async def test_a_timeout_in_the_url_is_accepted(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}?timeout=30")
    try:
        async with engine.begin() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_checkpoints_run_on_a_worker_thread_not_in_a_commit(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.connect() as connection:
        assert await connection.scalar(text("PRAGMA wal_autocheckpoint")) == 0
    monkeypatch.setattr(sqlite_loop, "CHECKPOINT_EVERY", 5)
    where: list[int] = []
    real = sqlite_loop.checkpoint

    def recorded(path: str, options: dict[str, Any]) -> None:
        where.append(threading.get_ident())
        real(path, options)

    monkeypatch.setattr(sqlite_loop, "checkpoint", recorded)
    for x in range(1, 11):
        await write(engine, x)
    for _ in range(100):
        if len(where) >= 2:
            break
        await asyncio.sleep(0.01)
    assert where and threading.get_ident() not in where
    assert await count(engine) == 20


async def test_a_writer_cancelled_while_waiting_in_line_writes_nothing(engine: Any) -> None:
    holder = asyncio.create_task(write(engine, 1, pause=0.2))
    await asyncio.sleep(0.05)  # the holder has the process's writer lock
    waiting = asyncio.create_task(write(engine, 2))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await holder
    await asyncio.wait_for(write(engine, 3), 5)
    async with engine.connect() as connection:
        rows = set((await connection.scalars(text("SELECT x FROM t"))).all())
    assert rows == {1, -1, 3, -3}


async def test_a_connection_closed_from_another_thread_gives_the_lock_back(engine: Any) -> None:
    connection = await engine.connect()
    await connection.begin()
    await connection.execute(text("INSERT INTO t VALUES (1)"))
    raw = (await connection.get_raw_connection()).driver_connection
    await asyncio.to_thread(raw.stop)  # as the garbage collector on a worker thread would
    await asyncio.wait_for(write(engine, 2), 5)
    await connection.invalidate()
    assert await count(engine) == 2


async def test_a_burst_of_writers_lets_other_tasks_run_between_them(engine: Any) -> None:
    """Statements never wait, so without a turn of the loop at each BEGIN forty writers would
    run back to back while a task needing a few turns (the delivery worker sending an alert)
    waited for all of them."""

    async def step(x: int) -> None:  # nothing in it waits: SQLite statements only
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
            await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": -x})

    for x in range(1, 6):  # the pool's connections exist (opening one is not a step's work)
        await step(100 + x)
    turns = Turns(pause=0)
    await asyncio.sleep(0)
    before = turns.count
    await asyncio.gather(*(step(x) for x in range(1, 41)))
    turns.stop()
    assert turns.count - before >= 40  # at least a turn a writer (back to back: about 16)
    assert await count(engine) == 90
