"""Two copies of the real bot process on one PostgreSQL database and one fake Bot API, each
calling the API under its own path (TELEGRAM_API_URL=<fake>/<name>, so `Call.via` says which
copy made a call), with a short lease and its own /healthz port. Shared by the end-to-end tests
(tests/e2e/test_two_copies.py) and the benchmark (tests/bench/bench_failover.py)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.bot_process import BotProcess
from tests.support.fakebotapi import FakeBotAPI
from tests.support.reliability import PROTOCOL, START, make_bot

STANDING_BY = "is standing by"
NOW_ACTIVE = "is now the active one"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Copy:
    name: str
    bot: BotProcess
    port: int

    def health(self, path: str = "/healthz") -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read())

    def settled_health(
        self, path: str = "/healthz", timeout: float = 15.0
    ) -> tuple[int, dict[str, Any]]:
        """/healthz once the copy has had time to poll (a copy that never got an answer from
        getUpdates yet is not healthy)."""
        deadline = time.monotonic() + timeout
        while True:
            code, report = self.health(path)
            if code == 200 or time.monotonic() > deadline:
                return code, report
            time.sleep(0.1)

    def log_count(self, line: str) -> int:
        if not self.bot.log_path.exists():
            return 0
        return self.bot.log().count(line)

    def wait_log(self, line: str, count: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.log_count(line) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} never logged {line!r}:\n{self.bot.log()[-3000:]}"
                )
            if self.bot.process is not None and self.bot.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.bot.log()[-3000:]}")
            time.sleep(0.05)


@dataclass
class Pair:
    """Copies `a` and `b`, each in its own folder, with the bot's clock at START moved on with
    real time (as tests/support/reliability.Lifeline does for one copy)."""

    api: FakeBotAPI
    database_url: str
    root: Path
    lease_seconds: float = 3.0
    copies: dict[str, Copy] = field(default_factory=dict)
    t0: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        return START + timedelta(seconds=time.monotonic() - self.t0)

    def copy(self, name: str, **extra: str) -> Copy:
        if name not in self.copies:
            workdir = self.root / name
            workdir.mkdir(parents=True, exist_ok=True)
            port = free_port()
            bot = make_bot(
                self.api,
                workdir,
                database_url=extra.pop("DATABASE_URL", self.database_url),
                protocol=PROTOCOL,
                TELEGRAM_API_URL=f"{self.api.url}/{name}",
                LEASE_SECONDS=str(self.lease_seconds),
                COPY_NAME=name,
                HTTP_PORT=str(port),
                **extra,
            )
            self.copies[name] = Copy(name, bot, port)
        return self.copies[name]

    def start_active(self, name: str) -> Copy:
        copy = self.copy(name)
        mark = self.api.mark()
        copy.bot.start_only(FLEXUS_NOW=self.now().isoformat())
        self.api.wait_for(
            lambda c: c.method == "getUpdates" and c.via == name, after=mark, timeout=60
        )
        return copy

    def start_standby(self, name: str, **env: str) -> Copy:
        copy = self.copy(name)
        before = copy.log_count(STANDING_BY)
        copy.bot.start_only(FLEXUS_NOW=self.now().isoformat(), **env)
        copy.wait_log(STANDING_BY, before + 1, timeout=60)
        return copy

    def polls(self, name: str, after: int, timeout: float = 60.0) -> float:
        """time.monotonic() when copy `name` first polled Telegram after call `after`."""
        call = self.api.wait_for(
            lambda c: c.method == "getUpdates" and c.via == name, after=after, timeout=timeout
        )
        return call.at

    def stop_all(self) -> None:
        for copy in self.copies.values():
            if copy.bot.process is not None:
                copy.bot.kill()
