"""Copies of the bot that should not exist: a second process on the same SQLite file refuses
to start, naming the first; a copy elsewhere polling with the same token (409 Conflict) is told
to each admin once, and /healthz turns unhealthy while it lasts."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

from tests.support import forkserver
from tests.support.bot_process import ADMIN_ID, BotProcess, cli, sent_to
from tests.support.fakebotapi import FakeBotAPI

CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_second_copy_on_the_same_sqlite_file_refuses_to_start(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    second = forkserver.run(["run"], cwd=bot.workdir, env=bot.env, timeout=60)
    assert second.returncode == 2
    assert f"pid {bot.process.pid if bot.process else 0} on host" in second.stderr
    assert "another copy of the bot already runs on" in second.stderr
    assert bot.process is not None and bot.process.poll() is None  # the first one goes on
    # Commands that only read keep working beside it.
    env = {k: v for k, v in bot.env.items() if k.startswith(("DATABASE_", "FLEXUS_"))}
    chats = cli(bot.workdir, "chats", **env)
    assert chats.returncode == 0, chats.stderr
    status = cli(bot.workdir, "status", **env)
    assert status.returncode == 0, status.stderr
    assert f"running: pid {bot.process.pid} on host" in status.stdout


def test_another_copy_with_the_same_token_is_told_once_and_makes_the_bot_unhealthy(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    port = free_port()
    bot.start(HTTP_PORT=str(port))
    fake_api.fail("getUpdates", code=409, description=CONFLICT, times=3)
    told = sent_to(fake_api, ADMIN_ID, "Otra copia del bot está usando el mismo token")
    assert "puede perder reportes" in told.text
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            status, body = answer.status, answer.read().decode()
    except urllib.error.HTTPError as unhealthy:
        status, body = unhealthy.code, unhealthy.read().decode()
    assert status == 503
    assert "another copy of the bot uses the same token" in json.loads(body)["status"]
    fake_api.wait_for(lambda c: c.method == "getUpdates" and c.fault is None, timeout=60)
    fake_api.settled()
    assert len([c for c in fake_api.sent(ADMIN_ID) if "Otra copia" in c.text]) == 1
    assert bot.log().count("another copy of the bot is taking this token's updates") == 1
