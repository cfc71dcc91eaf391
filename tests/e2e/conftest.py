"""Fixtures of the end-to-end tests: the fake Bot API on 127.0.0.1 and the bot process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bot_process import TOKEN, BotProcess, bot_env
from tests.support.fakebotapi import FakeBotAPI


@pytest.fixture
def fake_api() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(TOKEN).start()
    # Everyone the scenarios use is in the team's groups; a stranger is set to "left" by the
    # test that needs one.
    api.default_member_status = "member"
    yield api
    api.stop()


@pytest.fixture
def bot(fake_api: FakeBotAPI, tmp_path: Path) -> Iterator[BotProcess]:
    process = BotProcess(api=fake_api, workdir=tmp_path, env=bot_env(fake_api, tmp_path))
    yield process
    if process.process is not None:
        process.kill()
