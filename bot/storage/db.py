"""Database engine, sessions and migrations."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from bot.core.causes import cause_of, is_permanent
from bot.storage.file_modes import prepare_private_folder, protect_database_files

log = logging.getLogger(__name__)


def _migrations_dir() -> Path:
    """The migrations: inside the installed package (bot/migrations, mapped from alembic/ by
    pyproject.toml), or alembic/ next to the source tree when running from a checkout."""
    here = Path(__file__).resolve().parents[1]  # bot/
    installed = here / "migrations"
    return installed if (installed / "env.py").is_file() else here.parent / "alembic"


MIGRATIONS_DIR = _migrations_dir()
PROBE_TIMEOUT = 5.0  # seconds for one connection attempt while waiting for the database
WAIT_BACKOFF_MAX = 10.0


class DatabaseProblem(Exception):
    """The database cannot be used as configured; the message is the one line to print."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The SQLite file of a URL (None for PostgreSQL or an in-memory database)."""
    parsed = make_url(url)
    if is_sqlite(url) and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database).expanduser()
    return None


def where(url: str) -> str:
    """Where the database is, for messages: the file, or host:port/name (never the password)."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def sqlite_file(url: str) -> tuple[str, dict[str, Any]] | None:
    """What SQLite's driver opens for `url`: the file (or file: URI) and the connect options;
    None for PostgreSQL or an in-memory database."""
    if not is_sqlite(url):
        return None
    from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

    args, options = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    if not args or args[0] == ":memory:":
        return None
    return args[0], dict(options)


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file (data/ by default) so a fresh install just works."""
    path = sqlite_path(url)
    if path is None:
        return
    try:
        # 0700 folder, 0600 files: reports name people and what they wrote.
        prepare_private_folder(url)
    except OSError as exc:
        raise DatabaseProblem(
            f"cannot create the data folder {path.parent}: {exc.strerror or exc}"
        ) from None


def make_engine(url: str, *, reads_only: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite: WAL, foreign keys, BEGIN IMMEDIATE writes, and statements
    run on the event loop's thread with writers queued in the process (bot.storage.sqlite_loop).

    `reads_only` engines start plain (deferred) transactions: under WAL they read a snapshot
    without waiting for the writer.
    """
    ensure_sqlite_folder(url)
    on_loop = False
    file = sqlite_file(url) if "async_creator" not in kwargs else None
    if file is not None:
        from bot.storage.sqlite_loop import opener

        kwargs["async_creator"] = opener(file[0], **file[1])
        on_loop = True
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        _tune_sqlite(engine, begin="BEGIN" if reads_only else "BEGIN IMMEDIATE", on_loop=on_loop)
    return engine


def leased_engine_options(copy_id: str | None) -> dict[str, Any]:
    """PostgreSQL with several copies: every connection says which copy opened it, so the copy
    that takes over can end the sessions of the one it replaces (bot.storage.lease.end_sessions):
    a frozen copy's open transactions would otherwise hold their row locks for as long as it
    sleeps, or, for a machine that lost power, until TCP gives up (minutes to hours)."""
    return {"connect_args": {"server_settings": {"application_name": session_name(copy_id)}}}


def session_name(copy_id: str | None) -> str:
    """The application_name of a copy's database sessions (at most 63 bytes)."""
    return f"flexus-guardia {(copy_id or '').rsplit('|', 1)[-1]}"[:63]


def _tune_sqlite(engine: AsyncEngine, begin: str, *, on_loop: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands so every transaction can start IMMEDIATE:
        # concurrent writers then queue for the lock instead of failing on lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # On the loop's thread SQLite must never wait itself (bot.storage.sqlite_loop waits instead).
        cursor.execute("PRAGMA busy_timeout=0" if on_loop else "PRAGMA busy_timeout=15000")
        if on_loop:  # checkpoints on a worker thread instead (bot.storage.sqlite_loop)
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply migrations. Synchronous: call it before the bot's event loop starts."""
    from alembic import command

    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)


# The newest migration. A start-up finding the database there does not load Alembic at all
# (about 7 MB of memory and a tenth of a second); a test keeps this equal to Alembic's head.
HEAD_REVISION = "0013"


def head_revision() -> str:
    """Alembic's own answer (loads Alembic): the newest migration in alembic/versions."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return head or ""


@dataclass(frozen=True)
class DatabaseState:
    exists: bool  # False: no SQLite file, or a PostgreSQL database without our tables
    revision: str | None  # the migration it is at (None: never migrated)


async def database_state(url: str) -> DatabaseState:
    """Which migration the database is at, without creating anything. Raises when unreachable."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return DatabaseState(exists=False, revision=None)
    args = {"timeout": PROBE_TIMEOUT} if not is_sqlite(url) else {}
    engine = create_async_engine(url, poolclass=NullPool, connect_args=args)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(
                lambda sync: inspect(sync).has_table("alembic_version")
            )
            if not found:
                return DatabaseState(exists=path is not None, revision=None)
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            return DatabaseState(exists=True, revision=revision)
    finally:
        await engine.dispose()


def wait_for_database(url: str, *, seconds: float) -> DatabaseState:
    """Connect, waiting up to `seconds` with back-off (the database may be starting with the
    machine): one warning a try, naming the host, the port and the cause."""
    deadline = time.monotonic() + seconds
    delay = 1.0
    while True:
        try:
            return asyncio.run(asyncio.wait_for(database_state(url), PROBE_TIMEOUT * 2))
        except Exception as exc:
            cause = cause_of(exc)
            if is_sqlite(url) or is_permanent(exc):
                raise DatabaseProblem(f"cannot use the database at {where(url)}: {cause}") from None
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseProblem(
                    f"cannot reach the database at {where(url)} after {seconds:.0f} s "
                    f"({cause}); is PostgreSQL running? (DB_WAIT_SECONDS sets the wait)"
                ) from None
            pause = min(delay, left)
            log.warning(
                "the database at %s is not reachable (%s); trying again in %.0f s",
                where(url),
                cause,
                pause,
            )
            time.sleep(pause)
            delay = min(WAIT_BACKOFF_MAX, delay * 2)


def check_writable(url: str) -> None:
    """The SQLite file's folder (and the file) must be writable: WAL writes next to it."""
    path = sqlite_path(url)
    if path is None:
        return
    ensure_sqlite_folder(url)
    probe = path.parent / f".flexus-write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        if path.exists():
            with path.open("r+b"):
                pass
    except OSError as exc:
        raise DatabaseProblem(
            f"the data folder {path.parent} is not writable ({exc.strerror or exc}): "
            "the bot must write its database there"
        ) from None


def _not_there(url: str) -> str:
    what = "no database file" if sqlite_path(url) else "no FLEXUS tables in the database"
    return (
        f"{what} at {where(url)}: if that is the right place, run "
        "`flexus-bot db upgrade --create` to make a new, empty one; otherwise set "
        "FLEXUS_HOME or DATABASE_URL"
    )


def prepare_database(url: str, *, create: bool, wait_seconds: float) -> bool:
    """Wait for the database, refuse to create one unasked, apply the migrations.

    Returns True when a new database was created. A database that is not there is created
    only with `create` (`run` creates it at its first start; `db upgrade` needs `--create`),
    so a command started in the wrong folder does not quietly make an empty one.
    """
    path = sqlite_path(url)
    if path is not None and not path.exists() and not create:
        raise DatabaseProblem(_not_there(url))
    check_writable(url)
    state = wait_for_database(url, seconds=wait_seconds)
    fresh = not state.exists or state.revision is None
    if fresh and not create:
        raise DatabaseProblem(_not_there(url))
    if fresh:
        log.info("creating a new database at %s", where(url))
    try:
        if state.revision != HEAD_REVISION:
            upgrade_database(url)
        protect_database_files(url)
    except DatabaseProblem:
        raise
    except Exception as exc:
        raise DatabaseProblem(
            f"cannot migrate the database at {where(url)}: {cause_of(exc)}"
        ) from None
    return fresh


def downgrade_database(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """INSERT in the session's dialect, for ON CONFLICT clauses."""
    return insert_for(session.get_bind().dialect.name)(table)


def insert_for(dialect: str) -> Any:
    """The dialect's `insert` (with ON CONFLICT). SQLAlchemy's PostgreSQL dialect is imported
    only by a bot on PostgreSQL: 2.3 MB and 20 ms that a bot on SQLite does not need."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    return sqlite.insert


class SecondCopy(DatabaseProblem):
    """Another copy of the bot already runs on this SQLite database."""


def claim_sqlite_database(url: str) -> Any:
    """One bot process per SQLite file: a lock on `<file>.lock` held while the process lives,
    naming its process id and host. A second `run` on the same file is refused (the commands
    that only read take no lock). Returns the open lock file (keep it), or None on PostgreSQL."""
    import fcntl
    import os
    import socket

    path = sqlite_path(url)
    if path is None:
        return None
    lock_path = path.with_name(path.name + ".lock")
    try:
        handle = lock_path.open("a+")
    except OSError as exc:
        raise DatabaseProblem(f"cannot open {lock_path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SecondCopy(
            f"another copy of the bot already runs on {path} ({holder}): stop it first, or "
            "give this one its own DATABASE_URL"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
    handle.flush()
    return handle


def sqlite_holder(url: str) -> str | None:
    """Who runs the bot on this SQLite file now ("pid 123 on host srv"), or None. Read from the
    lock file without taking its lock (a `run` starting that instant must not be refused): the
    process named there, if it runs on this host and is alive."""
    import os
    import re
    import socket

    path = sqlite_path(url)
    if path is None:
        return None
    lock_path = path.with_name(path.name + ".lock")
    try:
        named = lock_path.read_text().strip()
    except OSError:
        return None
    found = re.fullmatch(r"pid (\d+) on host (\S+)", named)
    if found is None:
        return None
    if found[2] != socket.gethostname():
        return f"{named} (another host: not checked)"
    try:
        os.kill(int(found[1]), 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass
    return named
