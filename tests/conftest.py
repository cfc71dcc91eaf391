"""Shared fixtures: a real database built by the migrations.

SQLite always; PostgreSQL too when TEST_POSTGRES_URL points at a server (`.ci/run` starts one),
e.g. postgresql+asyncpg://postgres@127.0.0.1:54329/postgres. Each test gets a fresh database: a
copy of one the migrations built once per test process (a file copy on SQLite, a database made
from a template on PostgreSQL), not the migrations run again for every test.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.core.config import Protocol, load_protocol
from bot.storage.db import make_engine, upgrade_database
from tests.support import forkserver
from tests.support.sessions import committing_sessions

# `python -m bot` runs fork from one interpreter that imported the bot once (see
# tests/support/forkserver.py); FLEXUS_TEST_FORK=0 starts a fresh interpreter each time.
forkserver.ENABLED = os.environ.get("FLEXUS_TEST_FORK", "1") != "0"

# CI explores the same examples every run: a failure there is reproducible, not a coin toss.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    return POSTGRES_URL


def fresh_postgres_database() -> tuple[str, str]:
    """Create an empty database on the test server; returns (its URL, its name)."""
    name = f"flexus_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    return url, name


def drop_postgres_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database the migrations built, once per test process."""
    path = tmp_path_factory.mktemp("migrated") / "flexus.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    """A PostgreSQL database the migrations built, once per test process: the template each
    test's database is made from."""
    url, name = fresh_postgres_database()
    upgrade_database(url)
    yield name
    drop_postgres_database(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "flexus.db"
        template: Path = request.getfixturevalue("migrated_sqlite")
        # SQLite's own copy: whole and consistent whatever its journal holds.
        with sqlite3.connect(template) as source, sqlite3.connect(path) as copy:
            source.backup(copy)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url, name = copy_of_postgres(request.getfixturevalue("migrated_postgres"))
    yield url
    drop_postgres_database(name)


def copy_of_postgres(template_name: str) -> tuple[str, str]:
    """A new database made from the migrated template: (its URL, its name)."""
    name = f"flexus_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), name


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return committing_sessions(engine)


@pytest.fixture
def protocol() -> Protocol:
    return load_protocol()
