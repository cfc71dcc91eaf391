"""Database engine, sessions and migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file (data/ by default) so a fresh install just works."""
    parsed = make_url(url)
    if is_sqlite(url) and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, *, reads_only: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite: WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE writes.

    `reads_only` engines start plain (deferred) transactions: under WAL they read a snapshot
    without waiting for the writer.
    """
    ensure_sqlite_folder(url)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        _tune_sqlite(engine, begin="BEGIN" if reads_only else "BEGIN IMMEDIATE")
    return engine


def _tune_sqlite(engine: AsyncEngine, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands so every transaction can start IMMEDIATE:
        # concurrent writers then queue on busy_timeout instead of failing on lock upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
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
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["database_url"] = url
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply migrations. Synchronous: call it before the bot's event loop starts."""
    from alembic import command

    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
