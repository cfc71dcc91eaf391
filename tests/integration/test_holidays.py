"""National holidays: computed once by a child process, kept in the database, never loaded
into the bot's own process (bot.support.holiday_dates)."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core import config
from bot.core.clock import Clock
from bot.core.config import Config, load_protocol, load_settings
from bot.runtime import Runtime
from bot.support import holiday_dates, hours
from models.state import BotState
from tests.support.sessions import committing_sessions

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def make_runtime(engine: AsyncEngine, database_url: str) -> Runtime:
    settings = load_settings(_env_file=None, database_url=database_url, team_chat_ids=[-1])
    return Runtime(
        config=Config(settings=settings, protocol=load_protocol()),
        engine=engine,
        sessions=committing_sessions(engine),
        clock=Clock(NOW),
    )


@pytest.fixture(autouse=True)
def forget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holiday_dates, "_known", {})


def refuse(*_: Any, **__: Any) -> Any:
    raise AssertionError("must not be called")


async def test_the_child_computes_them_once_and_the_database_keeps_them(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime(engine, database_url)
    monkeypatch.setattr(holiday_dates, "compute", refuse)  # not in this process
    await holiday_dates.ensure(runtime, [2026, 2027])
    assert hours.holiday_name(date(2026, 12, 25), runtime.protocol.support) == "Navidad"
    assert hours.holiday_name(date(2027, 7, 9), runtime.protocol.support)
    async with runtime.sessions() as session:
        keys = set((await session.scalars(select(BotState.key))).all())
    version = holiday_dates.library_version()
    assert {f"holidays:AR:2026:{version}", f"holidays:AR:2027:{version}"} <= keys

    # The next start reads them back: no child process, no library.
    monkeypatch.setattr(holiday_dates, "_known", {})
    monkeypatch.setattr(holiday_dates, "from_child", refuse)
    await holiday_dates.ensure(runtime, [2026, 2027])
    status = hours.support_status_at(
        datetime(2026, 12, 25, 12, 0, tzinfo=runtime.tz), runtime.protocol.support
    )
    assert status.holiday_name == "Navidad"


async def test_a_new_library_version_computes_them_again(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime(engine, database_url)
    await holiday_dates.ensure(runtime, [2026])
    monkeypatch.setattr(holiday_dates, "_known", {})
    monkeypatch.setattr(holiday_dates, "library_version", lambda: "999.0")
    asked: list[list[int]] = []
    real = holiday_dates.from_child

    async def counted(country: str, years: list[int]) -> Any:
        asked.append(years)
        return await real(country, years)

    monkeypatch.setattr(holiday_dates, "from_child", counted)
    await holiday_dates.ensure(runtime, [2026])
    assert asked == [[2026]]


async def test_if_the_child_fails_the_bot_computes_them_itself(
    engine: AsyncEngine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = make_runtime(engine, database_url)

    async def broken(*_: Any) -> Any:
        raise RuntimeError("no python here")

    monkeypatch.setattr(holiday_dates, "from_child", broken)
    with caplog.at_level(logging.WARNING):
        await holiday_dates.ensure(runtime, [2026])
    assert holiday_dates.known_holidays("AR", 2026)
    assert "no python here" in caplog.text


def test_the_country_list_is_the_librarys_without_loading_it() -> None:
    import holidays

    config.supported_countries.cache_clear()
    assert config.supported_countries() == frozenset(holidays.list_supported_countries())


def test_the_bot_process_does_not_load_the_holidays_library() -> None:
    code = (
        "import sys\n"
        "import bot.app, bot.cli, bot.serve\n"
        "from bot.core.config import load_protocol\n"
        "load_protocol()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'holidays')\n"
        "print(loaded)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"


async def test_on_new_years_day_nothing_is_computed_in_the_bot(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime(engine, database_url)
    runtime.clock = Clock(datetime(2027, 1, 1, 12, 0, tzinfo=UTC))
    await holiday_dates.ensure(runtime, holiday_dates.years_around_today(runtime))
    monkeypatch.setattr(holiday_dates, "compute", refuse)
    status = hours.support_status_at(runtime.clock.now(), runtime.protocol.support)
    assert status.holiday_name == "Año Nuevo"  # and the day before (2026) was known too


async def test_the_childs_answer_does_not_depend_on_its_locale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONIOENCODING", "ascii")
    found = await holiday_dates.from_child("AR", [2026])
    assert found[2026][date(2026, 1, 1)] == "Año Nuevo"


def test_the_protocol_files_country_is_checked_against_the_library() -> None:
    from pydantic import ValidationError

    from bot.core.config import SupportSpec

    assert SupportSpec(holiday_country="ar").holiday_country == "AR"
    assert SupportSpec(holiday_country="ARG").holiday_country == "ARG"  # an alias the library takes
    with pytest.raises(ValidationError, match="unknown holiday country 'XX'"):
        SupportSpec(holiday_country="XX")
