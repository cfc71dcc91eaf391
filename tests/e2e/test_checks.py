"""The bot's own checks through the real process, against a TCP server on 127.0.0.1 the test
switches off: the bot opens the incident itself when nobody reports, a check down confirms a
report at once, the card says what the checks see, the office's push and /healthz answer on
the bot's HTTP server, and during planned maintenance the checks raise nothing."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    BotProcess,
    bot_env,
    db_rows,
    sent_to,
)
from tests.support.fakebotapi import FakeBotAPI, command_update, user
from tests.support.outage import ANA, CHATS, LUIS, MARTA, Outage

SECRET = "office-push-secret-0001"
ADMIN = user(ADMIN_ID, "Admin", "Sistemas")
NOW = "2026-12-10T10:00:00-03:00"  # a Thursday, support open


class Server:
    """A TCP server on 127.0.0.1 that accepts and closes, until switched off."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            connection.close()

    def off(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def flexus() -> Iterator[Server]:
    server = Server()
    yield server
    if server.running:
        server.off()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def protocol(port: int, extra: str = "") -> str:
    return f"""
[[check]]
name = "Servidor FLEXUS"
kind = "tcp"
target = "127.0.0.1:{port}"
every_seconds = 1
timeout_seconds = 1
down_after = 2
up_after = 1

[[check]]
name = "Oficina"
kind = "push"
role = "office"
secret = "{SECRET}"
every_seconds = 60

[checks]
open_after_minutes = 0.02
{extra}
"""


def start(bot: BotProcess, api: FakeBotAPI, tmp_path: Path, text: str) -> int:
    port = free_port()
    bot.env = bot_env(api, tmp_path, text, HTTP_PORT=str(port))
    bot.start(FLEXUS_NOW=NOW)
    return port


def state_of(bot: BotProcess, name: str) -> str | None:
    rows = db_rows(bot, f"select state from check_states where name = '{name}'")
    return rows[0][0] if rows else None


def wait_state(bot: BotProcess, name: str, state: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while state_of(bot, name) != state:
        assert time.monotonic() < deadline, f"{name} never became {state}"
        time.sleep(0.1)


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_the_bot_opens_the_incident_when_nobody_reports(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path, flexus: Server
) -> None:
    port = start(bot, fake_api, tmp_path, protocol(flexus.port))
    wait_state(bot, "Servidor FLEXUS", "up")
    # The office's job reaches the bot: the push answers; a wrong secret is nothing.
    assert get(port, f"/push/{SECRET}")[0] == 200
    assert get(port, "/push/not-the-secret-at-all")[0] == 404
    _, body = get(port, "/healthz")
    assert json.loads(body)["checks"]["Servidor FLEXUS"] == "up"

    flexus.off()
    for chat in CHATS:
        alert = sent_to(fake_api, chat, "FLEXUS con problemas")
        assert "Detectado por el chequeo automático: Servidor FLEXUS no responde" in alert.text
        assert "🔎 Chequeo automático: Servidor FLEXUS no responde desde las" in alert.text
    # People confirm as for any report.
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
    fake_api.settled()
    assert db_rows(bot, "select count(*) from incidents") == [(1,)]
    fake_api.push(command_update(GROUP_ADMIN, ANA, "/chequeos"))
    listed = sent_to(fake_api, GROUP_ADMIN, "Chequeos automáticos", after=mark)
    assert "Servidor FLEXUS: 🔴 no responde" in listed.text
    assert "rechaza la conexión" in listed.text
    moves = db_rows(bot, "select state, reason from check_transitions order by id")
    assert moves[:2] == [("up", None), ("down", "refused")]


def test_a_check_down_confirms_a_report_at_once(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path, flexus: Server
) -> None:
    flexus.off()
    start(bot, fake_api, tmp_path, protocol(flexus.port, "open_incidents = false"))
    wait_state(bot, "Servidor FLEXUS", "down")
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
    # One person, one sector: general at once, because the server check agrees.
    for chat in CHATS:
        sent_to(fake_api, chat, "<b>Falla general de FLEXUS")
    assert db_rows(bot, "select status from incidents") == [("general",)]


def test_checks_see_flexus_working_and_raise_nothing_during_maintenance(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path, flexus: Server
) -> None:
    start(bot, fake_api, tmp_path, protocol(flexus.port))
    wait_state(bot, "Servidor FLEXUS", "up")
    fake_api.push(command_update(GROUP_CAJA, ADMIN, "/mantenimiento ahora 30m Reinicio"))
    sent_to(fake_api, GROUP_CAJA, "Mantenimiento de FLEXUS hasta las")
    flexus.off()
    wait_state(bot, "Servidor FLEXUS", "down")
    time.sleep(2.5)  # past open_after_minutes (1.2 s): the bot opens nothing
    fake_api.settled()
    assert db_rows(bot, "select count(*) from incidents") == [(0,)]
    assert not [c for c in fake_api.sent() if "FLEXUS con problemas" in c.text]


def test_before_the_workday_a_check_down_is_posted_with_the_support_window(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path, flexus: Server
) -> None:
    flexus.off()
    port = free_port()
    bot.env = bot_env(
        fake_api, tmp_path, protocol(flexus.port, "open_incidents = false"), HTTP_PORT=str(port)
    )
    # Thursday 07:44:55: the morning check is at 07:45, 15 minutes before 08:00.
    bot.start(FLEXUS_NOW="2026-12-10T07:44:55-03:00")
    for chat in CHATS:
        morning = sent_to(fake_api, chat, "☀️ 07:45")
        assert "Servidor FLEXUS rechaza la conexión." in morning.text
        assert "Soporte abre a las 08:00 (comercial)." in morning.text
    pending = db_rows(
        bot, "select due_at from timers where kind = 'morning_check' and status = 'pending'"
    )
    assert pending == [("2026-12-11 10:45:00.000000",)]  # Friday 07:45 in Córdoba


def test_the_coordinator_hears_when_flexus_answers_again(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path, flexus: Server
) -> None:
    start(bot, fake_api, tmp_path, protocol(flexus.port, "open_incidents = false"))
    wait_state(bot, "Servidor FLEXUS", "up")
    outage = Outage(fake_api)
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    alert = sent_to(fake_api, GROUP_CAJA, "FLEXUS con problemas")
    # Every check answers: the card says it may be local.
    assert "Los chequeos automáticos ven FLEXUS funcionando" in alert.text
    outage.press(MARTA, "v:1:f", (GROUP_ADMIN,))
    outage.press(LUIS, "y:1", (GROUP_ADMIN,))
    flexus.off()
    wait_state(bot, "Servidor FLEXUS", "down")
    mark = fake_api.mark()
    again = Server(port=flexus.port)
    try:
        panel = sent_to(fake_api, GROUP_ADMIN, "responde de nuevo desde las", after=mark)
        assert "Si soporte terminó, pedí que validen los sectores." in panel.text
        assert "va:1" in [d for _, d in panel.buttons]
    finally:
        again.off()
    assert db_rows(bot, "select status from incidents") == [("general",)]  # never closed by it
