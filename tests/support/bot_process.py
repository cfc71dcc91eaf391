"""The real `flexus-bot run` process against the fake Bot API, and what the end-to-end tests
and the benchmarks share about it (the fixtures that start them are in tests/e2e/conftest.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.storage.db import make_engine, upgrade_database
from tests.support import forkserver
from tests.support.fakebotapi import Call, FakeBotAPI, user
from tests.support.report_fixture import store_incidents
from tests.support.sessions import committing_sessions

TOKEN = "123456789:AAHfakeTokenForTestsOnly_abcdefghijklmn"
GROUP_CAJA = -1001001
GROUP_ADMIN = -1001002
ADMIN_ID = 7000


@dataclass
class BotProcess:
    api: FakeBotAPI
    workdir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | forkserver.ForkedProcess | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.api.store_settled = self.store_settled

    def store_settled(self, last_update: int) -> bool | None:
        """Every update up to `last_update` stored and handled, and no message it caused still
        waiting for its first try (rows in a back-off wait on purpose)."""
        url = self.env.get("DATABASE_URL", "")
        if not url.startswith("sqlite"):
            return None  # not read from here: the fake waits for a quiet spell instead
        try:
            [(newest, unhandled)] = db_rows(
                self,
                "select coalesce(max(update_id), 0), count(*) filter (where status = 'received') "
                "from inbox_updates",
            )
            [(unsent,)] = db_rows(
                self,
                "select count(*) from outbox where status = 'pending' "
                "and next_attempt_at = created_at",
            )
        except sqlite3.Error:  # not created yet, or busy: not settled
            return False
        return newest >= last_update and unhandled == 0 and unsent == 0

    @property
    def log_path(self) -> Path:
        return self.workdir / "bot.log"

    def start_only(self, **env: str) -> None:
        """Start the process without waiting for it to be ready."""
        self.env.update(env)
        self.process = forkserver.popen(
            ["run"], cwd=self.workdir, env=self.env, stdout=self.log_path
        )
        self.starts += 1

    def start(self, **env: str) -> None:
        mark = self.api.mark()
        self.start_only(**env)
        # Ready once it polls for updates.
        self.api.wait_for(lambda c: c.method == "getUpdates", timeout=30, after=mark)

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        self.process = None
        return code

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process = None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def write_protocol(path: Path, extra: str = "") -> Path:
    path.write_text(
        f'[team]\nchat_sectors = {{ "{GROUP_CAJA}" = "Caja", "{GROUP_ADMIN}" = "Administración" }}\n'
        + extra,
        encoding="utf-8",
    )
    return path


def bot_env(api: FakeBotAPI, workdir: Path, protocol: str = "", **settings: str) -> dict[str, str]:
    """The environment of a bot process in `workdir` talking to `api`: the two team chats, one
    admin, flood limits lifted (tests are not about them), and `settings` on top."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DATABASE_", "FLEXUS_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.url,
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'flexus.db'}",
        TEAM_CHAT_IDS=f"{GROUP_CAJA},{GROUP_ADMIN}",
        ADMIN_USER_IDS=str(ADMIN_ID),
        FLEXUS_CONFIG=str(write_protocol(workdir / "protocol.toml", protocol)),
        LOG_LEVEL="DEBUG",
        TELEGRAM_GROUP_MSGS_PER_MINUTE="100000",
        TELEGRAM_MSGS_PER_SECOND="100000",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def sent_to(api: FakeBotAPI, chat_id: int, fragment: str, after: int = 0) -> Call:
    """The first message (from call `after` on) delivered to `chat_id` containing `fragment`."""
    return api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat_id
            and fragment in c.text
            and c.result is not None
        ),
        after=after,
    )


BOT_ID = 999000  # the fake Bot API's bot


def cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DATABASE_", "FLEXUS_", "TEAM_", "ADMIN_", "DB_"))
    }
    clean["TEAM_CHAT_IDS"] = str(GROUP_CAJA)
    clean.update(env)
    return forkserver.run(args, cwd=cwd, env=clean, timeout=90)


class MembersAPI(FakeBotAPI):
    """Answers getChatMember for the bot itself with admin rights per chat."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.bot_rights: dict[int, dict[str, Any]] = {}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getChatMember" and int(params.get("user_id") or 0) == BOT_ID:
            chat_id = int(params.get("chat_id") or 0)
            if chat_id in self.bot_rights:
                return {"user": user(BOT_ID, "FLEXUS Guardia"), **self.bot_rights[chat_id]}
        return super()._result(method, params)


def db_rows(bot: BotProcess, sql: str) -> list[tuple[Any, ...]]:
    path = Path(bot.env["DATABASE_URL"].split("///", 1)[1])
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def seed(bot: BotProcess) -> None:
    """The twenty incidents of tests/support/report_fixture.py, before the bot starts."""
    url = bot.env["DATABASE_URL"]
    upgrade_database(url)

    async def store() -> None:
        engine = make_engine(url)
        try:
            await store_incidents(committing_sessions(engine))
        finally:
            await engine.dispose()

    asyncio.run(store())


# Gerencia (Diego, Laura as backup) and deadlines short enough for a run to see them fall due:
# the whole protocol's tests (test_full_protocol.py, test_reliability.py).
FULL_PROTOCOL = """
[[gerencia]]
name = "Diego Alvarado"
telegram_id = 301

[[gerencia]]
name = "Laura Backup"
telegram_id = 302
backup = true

[deadlines]
confirmation_minutes = 5
coordinator_reminder_minutes = 120
access_repeat_minutes = 0.02
access_escalate_after = 1
ack_reminder_minutes = 0.03
ack_max_minutes = 120
"""
