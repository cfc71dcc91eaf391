"""The migration stairway: every revision upgrades, downgrades and upgrades again cleanly."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.db import alembic_config, downgrade_database, upgrade_database
from tests.conftest import drop_postgres_database, fresh_postgres_database


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("select name from sqlite_master where type='table'").fetchall()
    return {name for (name,) in rows} - {"alembic_version"}


def test_stairway_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "stairway.db"
    url = f"sqlite+aiosqlite:///{path}"
    script = ScriptDirectory.from_config(alembic_config(url))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations found"
    for revision in revisions:
        upgrade_database(url, revision.revision)
        downgrade_database(url, revision.down_revision or "base")
        upgrade_database(url, revision.revision)
    assert {"incidents", "votes", "reports", "members", "events", "timers"} <= _tables(path)
    downgrade_database(url, "base")
    assert _tables(path) == set()


def test_upgrade_creates_the_data_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "flexus.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    assert path.exists()


def test_stairway_on_postgresql(postgres_url: str) -> None:
    url, name = fresh_postgres_database()
    try:
        script = ScriptDirectory.from_config(alembic_config(url))
        for revision in reversed(list(script.walk_revisions())):
            upgrade_database(url, revision.revision)
            downgrade_database(url, revision.down_revision or "base")
            upgrade_database(url, revision.revision)
        assert {"incidents", "votes", "acknowledgements", "timers"} <= asyncio.run(_pg_tables(url))
        downgrade_database(url, "base")
        assert asyncio.run(_pg_tables(url)) == {"alembic_version"}
    finally:
        drop_postgres_database(name)


async def _pg_tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


def _model_differences(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from models import Base

    async def compare() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: list(
                        compare_metadata(
                            MigrationContext.configure(sync, opts={"compare_type": True}),
                            Base.metadata,
                        )
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def test_the_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    """A column added to a model without a migration (or the other way round) fails here."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'models.db'}"
    upgrade_database(url)
    assert _model_differences(url) == []


def test_the_migrations_build_exactly_the_models_on_postgresql(postgres_url: str) -> None:
    url, name = fresh_postgres_database()
    try:
        upgrade_database(url)
        assert _model_differences(url) == []
    finally:
        drop_postgres_database(name)
