"""Backups: a consistent copy of the SQLite database while the bot runs, verified by opening it.

SQLite's online backup API copies a consistent snapshot page by page, even in WAL mode and
with writes going on (a plain `cp` of the file alone can miss the WAL and be torn). The copy
is written to a temporary name, checked (integrity_check, tables counted) and only then renamed.
PostgreSQL is backed up with its own tool, pg_dump (see `pg_dump_command`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import BackupSpec, Config
from bot.storage.db import sqlite_path
from bot.timers import store as timers
from models.vocab import TimerKind

log = logging.getLogger(__name__)

NAME_FORMAT = "flexus-%Y%m%d-%H%M%S.db"
NAME_PATTERN = re.compile(r"^flexus-(\d{8}-\d{6})\.db$")


class BackupError(Exception):
    """The copy could not be made or does not open; the message is the one line to print."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    tables: int
    size: int


def backup_name(now: datetime) -> str:
    return now.astimezone(UTC).strftime(NAME_FORMAT)


def backup_target(dest: str | Path, *, now: datetime) -> Path:
    """A file name as given, or a dated file inside a folder (one that exists, or ends in /)."""
    path = Path(dest).expanduser()
    if path.is_dir() or str(dest).endswith(("/", os.sep)):
        return path / backup_name(now)
    return path


def backup_sqlite(source: Path, dest: Path) -> BackupResult:
    """Copy the database `source` to the file `dest` and verify the copy."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if dest.exists():
        raise BackupError(f"{dest} already exists: choose another name")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the folder {dest.parent}: {exc.strerror}") from None
    partial = dest.with_name(dest.name + ".partial")
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            out = sqlite3.connect(partial)
            try:
                src.backup(out)
                # One self-contained file: no -wal or -shm next to the copy.
                out.execute("PRAGMA journal_mode=DELETE")
            finally:
                out.close()
        finally:
            src.close()
        tables = verify(partial)
        os.replace(partial, dest)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {source} failed: {exc}") from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write {dest}: {exc.strerror or exc}") from None
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(path=dest, tables=tables, size=dest.stat().st_size)


def verify(path: Path) -> int:
    """Open a copy, check its integrity and return how many tables it has."""
    connection = sqlite3.connect(path)
    try:
        result = connection.execute("PRAGMA integrity_check").fetchone()
        if not result or result[0] != "ok":
            raise BackupError(f"the copy {path} is damaged: {result[0] if result else '?'}")
        (tables,) = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        ).fetchone()
    finally:
        connection.close()
    if tables == 0:
        raise BackupError(f"the copy {path} has no tables")
    return int(tables)


def prune(folder: Path, *, keep_days: int, now: datetime) -> list[Path]:
    """Delete the dated backups in `folder` older than `keep_days` (other files are left alone)."""
    limit = now - timedelta(days=keep_days)
    removed = []
    for path in sorted(folder.glob("flexus-*.db")):
        match = NAME_PATTERN.match(path.name)
        if match is None:
            continue
        taken = datetime.strptime(match[1], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
        if taken < limit:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def pg_dump_command(url: str, dest: Path) -> str:
    """The pg_dump line that backs up a PostgreSQL database (the password comes from PGPASSWORD
    or ~/.pgpass, never from the command line)."""
    parsed = make_url(url)
    user = f"{parsed.username}@" if parsed.username else ""
    port = f":{parsed.port}" if parsed.port else ""
    target = f"postgresql://{user}{parsed.host or 'localhost'}{port}/{parsed.database or ''}"
    return f"pg_dump --format=custom --file={shlex.quote(str(dest))} {shlex.quote(target)}"


# --- the daily automatic backup (a stored timer, like every other deadline) -----------------


def next_backup_at(now: datetime, spec: BackupSpec, tz: ZoneInfo) -> datetime:
    """The next local `backup.at` strictly after `now`."""
    local = now.astimezone(tz)
    at = datetime.combine(local.date(), spec.time_of_day, tzinfo=tz)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), spec.time_of_day, tzinfo=tz)
    return at.astimezone(UTC)


def backup_folder(config: Config) -> Path:
    """backup.folder, inside FLEXUS_HOME when relative."""
    folder = Path(config.protocol.backup.folder).expanduser()
    if folder.is_absolute():
        return folder
    if config.home is not None:
        return config.home.resolve(folder)
    db = sqlite_path(config.settings.database_url)
    return (db.parent.parent if db else Path.cwd()) / folder


async def schedule_daily_backup(session: AsyncSession, *, config: Config, now: datetime) -> bool:
    """Keep exactly one pending daily-backup timer when backups are on (SQLite only), none when
    they are off. Returns True when a timer was added (the caller commits)."""
    spec = config.protocol.backup
    return await timers.keep_one(
        session,
        kind=TimerKind.DAILY_BACKUP,
        wanted=spec.enabled and sqlite_path(config.settings.database_url) is not None,
        due_at=lambda: next_backup_at(now, spec, config.protocol.support.tz),
        now=now,
    )


async def take_daily_backup(config: Config, *, now: datetime) -> BackupResult | None:
    """The daily copy and the retention; failures are logged (the bot goes on)."""
    source = sqlite_path(config.settings.database_url)
    if source is None:
        return None
    folder = backup_folder(config)
    try:
        result = await asyncio.to_thread(backup_sqlite, source, folder / backup_name(now))
        removed = await asyncio.to_thread(
            prune, folder, keep_days=config.protocol.backup.keep_days, now=now
        )
    except BackupError as exc:
        log.error("daily backup failed: %s", exc)
        return None
    log.info(
        "daily backup: %s (%d tables, %d KiB); %d old copies removed",
        result.path,
        result.tables,
        result.size // 1024,
        len(removed),
    )
    return result
