"""Running like a service, through the real `flexus-bot` process: one home whatever the
working folder, one line per start-up failure, `check --online`, the health check, the
heartbeat, the downtime notice and the daily backup."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.ops.backup import verify
from bot.storage.db import head_revision
from tests.conftest import POSTGRES_URL, drop_postgres_database, fresh_postgres_database
from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    TOKEN,
    BotProcess,
    MembersAPI,
    cli,
    write_protocol,
)
from tests.support.fakebotapi import FakeBotAPI, command_update, user

HEAD = head_revision()
GROUP_KICKED = -1001003
GROUP_GONE = -1001004
DIEGO, MARINA = 8001, 8002


def one_failure_line(result: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit code 2 and said why in exactly one line, without a traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("flexus-bot:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- 1. one home --------------------------------------------------------------------------


def test_working_folder_trap_reproduced_then_fixed(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "flexus", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={TOKEN}\nDATABASE_URL=sqlite:///data/flexus.db\n"
    )
    created = cli(home, "db", "upgrade", "--create")
    assert created.returncode == 0, created.stderr
    assert (home / "data" / "flexus.db").exists()

    # The trap: started from another folder, with the token in the environment, `db upgrade`
    # used to make a new, empty data/flexus.db there. Now it refuses, in one line.
    trap = cli(elsewhere, "db", "upgrade", TELEGRAM_BOT_TOKEN=TOKEN)
    line = one_failure_line(trap)
    assert f"no database file at {elsewhere}/data/flexus.db" in line and "--create" in line
    assert not (elsewhere / "data").exists()
    assert trap.stdout.splitlines()[:2] == [
        f"home: {elsewhere} (no .env found: the working folder)",
        ".env: none (settings from the environment only)",
    ]

    # Fixed: with FLEXUS_HOME, any folder finds the same .env, database and protocol file.
    (home / "protocol.toml").write_text('[support]\nphone = "0800-FLEXUS"\n')
    found = cli(elsewhere, "check", FLEXUS_HOME=str(home))
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[:4] == [
        f"home: {home} (FLEXUS_HOME)",
        f".env: {home}/.env",
        f"database: sqlite+aiosqlite:///{home}/data/flexus.db",
        f"protocol file: {home}/protocol.toml",
    ]
    assert "0800-FLEXUS" in found.stdout
    upgraded = cli(elsewhere, "db", "upgrade", FLEXUS_HOME=str(home))
    assert upgraded.returncode == 0, upgraded.stderr
    assert not (elsewhere / "data").exists()


def test_check_hides_the_password_and_speaks_spanish(tmp_path: Path) -> None:
    result = cli(
        tmp_path,
        "check",
        TELEGRAM_BOT_TOKEN=TOKEN,
        DATABASE_URL="postgresql://flexus:MiClave@127.0.0.1:5432/flexus",
        FLEXUS_NOW="2026-11-28T12:00:00-03:00",
    )
    assert result.returncode == 0, result.stderr
    assert "database: postgresql+asyncpg://flexus:***@127.0.0.1:5432/flexus" in result.stdout
    assert "MiClave" not in result.stdout + result.stderr
    assert "ahora: sábado 28/11/2026 12:00" in result.stdout
    assert "Saturday" not in result.stdout


# --- 6. one line per start-up failure -----------------------------------------------------


def test_unreachable_database_is_waited_for_then_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = cli(
        tmp_path,
        "run",
        TELEGRAM_BOT_TOKEN=TOKEN,
        DATABASE_URL=f"postgresql://flexus:MiClave@127.0.0.1:{port}/flexus",
        DB_WAIT_SECONDS="3",
    )
    line = one_failure_line(result)
    assert line.startswith(f"flexus-bot: cannot reach the database at 127.0.0.1:{port}/flexus")
    assert "connection refused" in line and "after 3 s" in line
    warnings = [w for w in result.stderr.splitlines() if "is not reachable" in w]
    assert len(warnings) >= 2  # one a try, with back-off
    assert all(f"127.0.0.1:{port}" in w and "connection refused" in w for w in warnings)
    assert "MiClave" not in result.stdout + result.stderr


@pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set")
def test_plain_postgresql_url_is_accepted(tmp_path: Path) -> None:
    url, name = fresh_postgres_database()
    try:
        plain = url.replace("postgresql+asyncpg://", "postgresql://")
        result = cli(tmp_path, "db", "upgrade", "--create", DATABASE_URL=plain)
        assert result.returncode == 0, result.stderr
        assert "database is up to date" in result.stdout
        again = cli(
            tmp_path, "db", "upgrade", DATABASE_URL=plain.replace("postgresql", "postgres", 1)
        )
        assert again.returncode == 0, again.stderr
    finally:
        drop_postgres_database(name)


def test_missing_home_or_uncreatable_folder_is_one_line(tmp_path: Path) -> None:
    missing = cli(tmp_path, "run", TELEGRAM_BOT_TOKEN=TOKEN, FLEXUS_HOME=str(tmp_path / "nope"))
    assert one_failure_line(missing) == (
        f"flexus-bot: FLEXUS_HOME: the folder {tmp_path}/nope does not exist"
    )
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = cli(
        tmp_path,
        "run",
        TELEGRAM_BOT_TOKEN=TOKEN,
        DATABASE_URL=f"sqlite:///{blocked}/data/flexus.db",
    )
    assert one_failure_line(result) == (
        f"flexus-bot: cannot create the data folder {blocked}/data: Not a directory"
    )


def test_read_only_data_folder_is_one_line(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        data = Path("/sys")  # root may write almost anywhere, but not into sysfs
        if os.access(data, os.W_OK) and _can_write(data):
            pytest.skip("no folder here that root cannot write to")
    else:
        data = tmp_path / "data"
        data.mkdir()
        data.chmod(0o555)
    result = cli(tmp_path, "run", TELEGRAM_BOT_TOKEN=TOKEN, DATABASE_URL=f"sqlite:///{data}/f.db")
    assert one_failure_line(result) == (
        f"flexus-bot: the data folder {data} is not writable (Permission denied): "
        "the bot must write its database there"
    )


def _can_write(folder: Path) -> bool:
    try:
        (folder / ".flexus-probe").write_bytes(b"")
    except OSError:
        return False
    (folder / ".flexus-probe").unlink()
    return True


def test_unreachable_telegram_names_the_cause(bot: BotProcess) -> None:
    port = free_port()  # nothing listens there: connection refused
    bot.start_only(TELEGRAM_API_URL=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while "cannot reach Telegram at start-up" not in bot.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    bot.kill()
    warnings = [w for w in bot.log().splitlines() if "cannot reach Telegram at start-up" in w]
    assert warnings, bot.log()
    assert (
        "(connection refused); trying again in 1 s (behind a proxy? set HTTPS_PROXY)"
        in (warnings[0])
    )
    assert "Traceback" not in bot.log()


# --- 5. check --online --------------------------------------------------------------------


@pytest.fixture
def members_api() -> Iterator[MembersAPI]:
    api = MembersAPI(TOKEN).start()
    yield api
    api.stop()


def test_check_online_reports_each_problem_in_one_spanish_line(
    tmp_path: Path, members_api: MembersAPI
) -> None:
    api = members_api
    api.bot_rights[GROUP_CAJA] = {"status": "administrator", "can_pin_messages": True}
    api.bot_rights[GROUP_ADMIN] = {"status": "administrator", "can_pin_messages": False}
    api.bot_rights[GROUP_KICKED] = {"status": "kicked"}
    api.fail(
        "getChatMember", chat_id=GROUP_GONE, code=400, description="Bad Request: chat not found"
    )
    api.fail(
        "sendChatAction",
        chat_id=MARINA,
        code=403,
        description="Forbidden: bot can't initiate conversation with a user",
    )
    protocol = write_protocol(
        tmp_path / "protocol.toml",
        f'[[gerencia]]\nname = "Diego Alvarado"\ntelegram_id = {DIEGO}\n'
        f'[[gerencia]]\nname = "Marina Ruiz"\ntelegram_id = {MARINA}\nbackup = true\n',
    )
    env = dict(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.url,
        TEAM_CHAT_IDS=f"{GROUP_CAJA},{GROUP_ADMIN},{GROUP_KICKED},{GROUP_GONE}",
        FLEXUS_CONFIG=str(protocol),
    )
    assert cli(tmp_path, "db", "upgrade", "--create", **env).returncode == 0
    result = cli(tmp_path, "check", "--online", **env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    checks = lines[lines.index("comprobaciones en línea:") + 1 :]
    assert checks == [
        f"  ✓ Base de datos en {tmp_path}/data/flexus.db: al día (migración {HEAD}).",
        "  ✓ Telegram acepta el token: el bot es @flexus_guardia_bot.",
        f"  ✓ Grupo {GROUP_CAJA}: el bot es administrador y puede fijar mensajes.",
        f"  ✗ Grupo {GROUP_ADMIN}: el bot es administrador pero no puede fijar mensajes. "
        "Activale el permiso «Fijar mensajes» en la administración del grupo.",
        f"  ✗ Grupo {GROUP_KICKED}: el bot lo expulsaron del grupo. Agregalo de nuevo al grupo.",
        f"  ✗ Grupo {GROUP_GONE}: el bot no está en el grupo o el id es incorrecto "
        "(Telegram: Bad Request: chat not found). Agregá el bot al grupo o corregí TEAM_CHAT_IDS.",
        "  ✓ Gerencia: Diego Alvarado inició el bot y puede recibir mensajes privados.",
        f"  ✗ Gerencia: Marina Ruiz ({MARINA}) no inició el bot (Telegram: Forbidden: bot can't "
        "initiate conversation with a user). Que abra @flexus_guardia_bot y toque «Iniciar»; "
        "mientras tanto los pedidos de acceso van al grupo.",
        "4 problema(s): corregí lo indicado y volvé a ejecutar `make check-config`.",
    ]
    asked = {c.params["chat_id"] for c in api.calls_of("getChatMember")}
    assert asked == {GROUP_CAJA, GROUP_ADMIN, GROUP_KICKED, GROUP_GONE}


def test_check_online_with_a_rejected_token_and_an_old_database(
    tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    from bot.storage.db import upgrade_database

    upgrade_database(f"sqlite+aiosqlite:///{tmp_path}/data/flexus.db", "0003")
    fake_api.fail("getMe", code=401, description="Unauthorized")
    result = cli(
        tmp_path, "check", "--online", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake_api.url
    )
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("  ✗")]
    assert failed == [
        f"  ✗ La base de datos está en la migración 0003 y el bot usa la {HEAD}: ejecutá "
        "`flexus-bot db upgrade` (o reiniciá el bot, que migra al arrancar).",
        "  ✗ Telegram rechazó el token (TELEGRAM_BOT_TOKEN): copiá de nuevo el token que da "
        "@BotFather (/mybots → API Token) en .env.",
    ]
    assert TOKEN not in result.stdout + result.stderr


# --- 3. alive: health, heartbeat, downtime notice ------------------------------------------


class Pings:
    """A push monitor (Uptime Kuma style) on 127.0.0.1 that counts GETs."""

    def __init__(self, status: int = 200) -> None:
        self.count = 0
        self.cond = threading.Condition()
        pings = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with pings.cond:
                    pings.count += 1
                    pings.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/ping/abc"

    def wait(self, at_least: int, timeout: float = 30) -> int:
        with self.cond:
            self.cond.wait_for(lambda: self.count >= at_least, timeout)
            return self.count


def stop_failing(api: FakeBotAPI, method: str) -> None:
    with api._cond:
        api._failures = [f for f in api._failures if f.method != method]


def wait_log(bot: BotProcess, fragment: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while fragment not in bot.log():
        assert time.monotonic() < deadline, f"no {fragment!r} in the log"
        time.sleep(0.05)


def test_heartbeat_only_while_healthy(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    pings = Pings()
    port = free_port()
    fake_api.fail("getUpdates", code=502, description="Bad Gateway")
    bot.start_only(HEARTBEAT_URL=pings.url, HEARTBEAT_INTERVAL_SECONDS="0.3", HTTP_PORT=str(port))
    wait_log(
        bot, "not healthy (no updates from Telegram in the last 2 minutes): heartbeat withheld"
    )
    sick = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    assert sick.status_code == 503 and "no updates from Telegram" in sick.json()["status"]
    assert pings.count == 0
    stop_failing(fake_api, "getUpdates")
    assert pings.wait(2) >= 2
    wait_log(bot, "healthy again")
    well = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    assert well.status_code == 200 and well.json()["status"] == "ok"
    assert well.json()["timers_oldest_overdue_seconds"] == 0
    assert bot.stop() == 0
    assert bot.log().count("heartbeat withheld") == 1  # once per outage, not per beat
    pings.server.shutdown()


def test_heartbeat_url_errors_are_logged_once(bot: BotProcess) -> None:
    monitor = Pings(status=500)
    bot.start(HEARTBEAT_URL=monitor.url, HEARTBEAT_INTERVAL_SECONDS="0.2")
    assert monitor.wait(4) >= 4  # four beats, all refused by the monitor
    assert bot.log().count("HEARTBEAT_URL answers HTTP 500") == 1
    assert "/ping/abc" not in bot.log()  # the monitor's URL (a secret) is not logged
    assert bot.stop() == 0
    monitor.server.shutdown()


def test_admins_hear_about_downtime_after_a_long_gap(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start(FLEXUS_NOW="2026-11-28T14:02:00-03:00")
    assert bot.stop() == 0
    mark = fake_api.mark()
    bot.start(FLEXUS_NOW="2026-11-28T14:31:00-03:00")
    notice = fake_api.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == ADMIN_ID, after=mark
    )
    assert notice.text == "Estuve fuera de servicio de 14:02 a 14:31"
    fake_api.push(command_update(GROUP_CAJA, user(101, "Ana"), "/soporte"))
    fake_api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == GROUP_CAJA, after=mark)
    assert bot.stop() == 0

    # A short restart (2 minutes) says nothing.
    mark = fake_api.mark()
    bot.start(FLEXUS_NOW="2026-11-28T14:33:00-03:00")
    fake_api.push(command_update(GROUP_CAJA, user(101, "Ana"), "/soporte"))
    fake_api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == GROUP_CAJA, after=mark)
    fake_api.settled()
    assert [c for c in fake_api.calls[mark:] if c.chat_id == ADMIN_ID] == []
    assert bot.stop() == 0


# --- 4. the daily backup -------------------------------------------------------------------


def test_daily_backup_runs_as_a_stored_timer(bot: BotProcess, tmp_path: Path) -> None:
    write_protocol(
        tmp_path / "protocol.toml", '[backup]\nenabled = true\nat = "03:30"\nkeep_days = 7\n'
    )
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "flexus-20261101-063000.db").write_text("old")
    (folder / "flexus-20261127-063000.db").write_text("recent")
    bot.start(FLEXUS_NOW="2026-11-28T03:29:57-03:00")
    deadline = time.monotonic() + 30
    while not (folder / "flexus-20261128-063000.db").exists():
        assert time.monotonic() < deadline, sorted(p.name for p in folder.iterdir())
        time.sleep(0.1)
    wait_log(bot, "daily backup: ")
    assert verify(folder / "flexus-20261128-063000.db") >= 10
    assert sorted(p.name for p in folder.iterdir()) == [
        "flexus-20261127-063000.db",
        "flexus-20261128-063000.db",
    ]
    with sqlite3.connect(tmp_path / "flexus.db") as connection:
        timers = connection.execute(
            "SELECT status, due_at FROM timers WHERE kind = 'daily_backup' ORDER BY id"
        ).fetchall()
    assert timers == [
        ("fired", "2026-11-28 06:30:00.000000"),
        ("pending", "2026-11-29 06:30:00.000000"),
    ]
    assert bot.stop() == 0
