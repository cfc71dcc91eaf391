"""Fixtures of the end-to-end tests: the fake Bot API on 127.0.0.1 and the bot process.

The bot's database starts as a copy of one built once per test process: migrated, and with the
national holidays of 2025–2027 stored as the bot stores them. A first start then does what any
later start does, instead of running every migration and the holidays' helper process again
for each of a hundred tests (the tests of a first start make their own database)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.clock import Clock
from bot.core.config import Config, load_protocol, load_settings
from bot.runtime import Runtime
from bot.storage.db import make_engine, upgrade_database
from bot.support import holiday_dates
from tests.support.bot_process import TOKEN, BotProcess, bot_env
from tests.support.fakebotapi import FakeBotAPI
from tests.support.sessions import committing_sessions

HOLIDAY_YEARS = [2025, 2026, 2027]  # around the dates the scenarios set with FLEXUS_NOW


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e-template") / "flexus.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_database(url)

    async def store_holidays() -> None:
        engine = make_engine(url)
        runtime = Runtime(
            config=Config(
                settings=load_settings(_env_file=None, database_url=url), protocol=load_protocol()
            ),
            engine=engine,
            sessions=committing_sessions(engine),
            clock=Clock(),
        )
        try:
            await holiday_dates.ensure(runtime, HOLIDAY_YEARS)
        finally:
            await engine.dispose()

    asyncio.run(store_holidays())
    return path


@pytest.fixture
def fake_api() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(TOKEN).start()
    # Everyone the scenarios use is in the team's groups; a stranger is set to "left" by the
    # test that needs one.
    api.default_member_status = "member"
    yield api
    api.stop()


@pytest.fixture
def bot(fake_api: FakeBotAPI, tmp_path: Path, database_template: Path) -> Iterator[BotProcess]:
    shutil.copy(database_template, tmp_path / "flexus.db")
    process = BotProcess(api=fake_api, workdir=tmp_path, env=bot_env(fake_api, tmp_path))
    yield process
    if process.process is not None:
        process.kill()
