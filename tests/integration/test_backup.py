"""Backups on a real database: a consistent copy while writes go on, restored and compared;
retention; the daily timer; the health check's timer and outbox cases."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.clock import Clock
from bot.core.config import BackupSpec, Config, load_protocol, load_settings
from bot.ops.backup import (
    BackupError,
    backup_sqlite,
    backup_target,
    next_backup_at,
    pg_dump_command,
    prune,
    schedule_daily_backup,
    verify,
)
from bot.runtime import Runtime
from bot.storage.db import make_engine, upgrade_database
from bot.transport.web import health
from models import Timer
from models.timer import PENDING
from models.vocab import TimerKind
from tests.support.sessions import committing_sessions

TOKEN = "123456789:AAHfakeTokenForTestsOnly_abcdefghijklmn"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _writer(path: Path, stop: threading.Event, started: threading.Event) -> None:
    """Insert numbered rows, one transaction each, as fast as it can until told to stop."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    n = 0
    while not stop.is_set():
        n += 1
        connection.execute(
            "INSERT INTO bot_state (key, value, updated_at) VALUES (?, ?, ?)",
            (f"row-{n:07d}", str(n), "2026-11-28 12:00:00"),
        )
        if n == 200:
            started.set()
    connection.close()


def _rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT key, value FROM bot_state ORDER BY key").fetchall()


def test_backup_while_writing_then_restore_and_compare(tmp_path: Path) -> None:
    db = tmp_path / "flexus.db"
    upgrade_database(f"sqlite+aiosqlite:///{db}")
    stop, started = threading.Event(), threading.Event()
    writer = threading.Thread(target=_writer, args=(db, stop, started))
    writer.start()
    try:
        assert started.wait(30)
        result = backup_sqlite(db, tmp_path / "copies" / "flexus-copy.db")
        assert writer.is_alive()  # the copy was taken with writes going on
    finally:
        stop.set()
        writer.join()
    assert result.path == tmp_path / "copies" / "flexus-copy.db"
    assert result.tables == verify(result.path) >= 10
    assert not list((tmp_path / "copies").glob("*.partial"))
    assert not (tmp_path / "copies" / "flexus-copy.db-wal").exists()

    # Restore: the copy becomes the database; the migrations see it as up to date.
    restored = tmp_path / "restored" / "flexus.db"
    restored.parent.mkdir()
    restored.write_bytes(result.path.read_bytes())
    upgrade_database(f"sqlite+aiosqlite:///{restored}")
    copied, source = _rows(restored), _rows(db)
    # A consistent snapshot: exactly the first N committed rows, none torn or missing.
    assert 200 <= len(copied) < len(source)
    assert copied == source[: len(copied)]
    assert [int(v) for _, v in copied] == list(range(1, len(copied) + 1))


def test_backup_refuses_to_overwrite_and_names_missing_databases(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="there is no database at"):
        backup_sqlite(tmp_path / "none.db", tmp_path / "x.db")
    db = tmp_path / "flexus.db"
    upgrade_database(f"sqlite+aiosqlite:///{db}")
    backup_sqlite(db, tmp_path / "x.db")
    with pytest.raises(BackupError, match="already exists"):
        backup_sqlite(db, tmp_path / "x.db")
    folder = tmp_path / "out"
    folder.mkdir()
    assert backup_target(folder, now=NOW) == folder / "flexus-20261128-120000.db"
    assert backup_target(f"{tmp_path}/new/", now=NOW) == tmp_path / "new/flexus-20261128-120000.db"
    assert backup_target(tmp_path / "mine.db", now=NOW) == tmp_path / "mine.db"


def test_a_damaged_copy_is_not_kept(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises((BackupError, sqlite3.Error)):
        verify(junk)


def test_prune_keeps_recent_copies_and_other_files(tmp_path: Path) -> None:
    names = [
        "flexus-20261101-033000.db",  # 27 days old
        "flexus-20261121-150000.db",  # 6 days 21 hours old
        "flexus-20261127-033000.db",
        "notes.txt",
        "flexus-mine.db",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    removed = prune(tmp_path, keep_days=7, now=NOW)
    assert [p.name for p in removed] == ["flexus-20261101-033000.db"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])


def test_pg_dump_command_never_holds_the_password() -> None:
    line = pg_dump_command(
        "postgresql+asyncpg://flexus:MiClave@db.local:5433/flexus", Path("/b/f.dump")
    )
    assert "MiClave" not in line
    assert (
        line == "pg_dump --format=custom --file=/b/f.dump postgresql://flexus@db.local:5433/flexus"
    )


def test_next_backup_is_the_next_local_time() -> None:
    spec = BackupSpec(enabled=True, at="03:30")
    tz = load_protocol().support.tz
    before = datetime(2026, 11, 28, 3, 0, tzinfo=tz)
    assert next_backup_at(before, spec, tz) == datetime(2026, 11, 28, 3, 30, tzinfo=tz)
    at = datetime(2026, 11, 28, 3, 30, tzinfo=tz)
    assert next_backup_at(at, spec, tz) == datetime(2026, 11, 29, 3, 30, tzinfo=tz)


def _config(url: str, *, backup: bool) -> Config:
    settings = load_settings(_env_file=None, telegram_bot_token=TOKEN, database_url=url)
    protocol = load_protocol().model_copy(update={"backup": BackupSpec(enabled=backup)})
    return Config(settings=settings, protocol=protocol)


async def _pending_backups(sessions: object) -> list[datetime]:
    async with sessions() as session:  # type: ignore[operator]
        rows = await session.scalars(
            select(Timer.due_at).where(
                Timer.kind == TimerKind.DAILY_BACKUP, Timer.status == PENDING
            )
        )
        return list(rows.all())


async def test_daily_backup_timer_is_kept_single_and_removed_when_off(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = committing_sessions(engine)
    try:
        for _ in range(2):  # two starts: still one pending timer
            async with sessions() as session:
                await schedule_daily_backup(
                    session, config=_config(database_url, backup=True), now=NOW
                )
                await session.commit()
        pending = await _pending_backups(sessions)
        on_sqlite = database_url.startswith("sqlite")
        # PostgreSQL is backed up with pg_dump: no timer there.
        assert len(pending) == (1 if on_sqlite else 0)
        if on_sqlite:
            tz = load_protocol().support.tz
            assert pending[0] == datetime(2026, 11, 29, 3, 30, tzinfo=tz)
        async with sessions() as session:
            await schedule_daily_backup(
                session, config=_config(database_url, backup=False), now=NOW
            )
            await session.commit()
        assert await _pending_backups(sessions) == []
    finally:
        await engine.dispose()


# --- the health check: timers and outbox overdue ----------------------------------------------


async def test_health_is_503_with_an_overdue_timer_and_200_without(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = committing_sessions(engine)
    clock = Clock()
    runtime = Runtime(
        config=_config(database_url, backup=False), engine=engine, sessions=sessions, clock=clock
    )
    try:
        async with sessions() as session:
            session.add(
                Timer(
                    kind="confirmation",
                    due_at=clock.now() + timedelta(minutes=5),
                    status=PENDING,
                    created_at=clock.now(),
                )
            )
            await session.commit()
        status, report = await health(runtime, polling=False)
        assert (status, report["status"]) == (200, "ok")
        assert report["timers_oldest_overdue_seconds"] == 0

        async with sessions() as session:
            session.add(
                Timer(
                    kind="confirmation",
                    due_at=clock.now() - timedelta(minutes=10),
                    status=PENDING,
                    created_at=clock.now(),
                )
            )
            await session.commit()
        status, report = await health(runtime, polling=False)
        assert status == 503
        assert report["status"].startswith("a timer is overdue by 6")
        assert report["timers_oldest_overdue_seconds"] >= 600
    finally:
        await engine.dispose()
