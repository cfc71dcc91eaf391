"""The command line for the office's IT person: `chats`, `admins add|remove|list`, `audit` and
`export`, against the same database the running bot uses."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

from tests.support import forkserver
from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    BotProcess,
    db_rows,
    seed,
    sent_to,
)
from tests.support.fakebotapi import FakeBotAPI, command_update, user

PRESUPUESTOS = -1003003
NEW_ADMIN = user(555, "Nico", "Sistemas")


def cli(bot: BotProcess, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`flexus-bot ARGS` with the bot's own settings (same database, same protocol file)."""
    env = {**os.environ, **bot.env}
    return forkserver.run_bytes(args, cwd=bot.workdir, env=env, timeout=60)


def out(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_chats_admins_and_audit(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start()
    fake_api.push(command_update(PRESUPUESTOS, NEW_ADMIN, "/estado"))
    sent_to(fake_api, PRESUPUESTOS, "no está habilitado")
    bot.stop()

    listing = out(cli(bot, "chats")).splitlines()
    assert listing[0].startswith("home: ")  # every command says what it uses first
    rows = {line.split()[0]: line.split() for line in listing if line.startswith("-100")}
    assert rows[str(PRESUPUESTOS)][1] == "no" and rows[str(PRESUPUESTOS)][-1] == "Equipo"
    assert rows[str(GROUP_CAJA)][1:3] == ["yes", "Caja"]
    assert rows[str(GROUP_ADMIN)][1:3] == ["yes", "Administración"]

    # No admin but ADMIN_USER_IDS yet; the IT person adds one from the command line.
    assert f"{ADMIN_ID}  (ADMIN_USER_IDS)" in out(cli(bot, "admins", "list"))
    assert "admin 555 added" in out(cli(bot, "admins", "add", "555"))
    assert "555 was already an admin" in out(cli(bot, "admins", "add", "555"))
    assert "555  (database)" in out(cli(bot, "admins", "list"))

    # The new admin enables Presupuestos from the chat.
    mark = fake_api.mark()
    bot.start()
    fake_api.push(command_update(PRESUPUESTOS, NEW_ADMIN, "/habilitar Presupuestos"))
    assert "✅" in sent_to(fake_api, PRESUPUESTOS, "habilitado", after=mark).text
    bot.stop()
    listing = out(cli(bot, "chats"))
    row = next(line for line in listing.splitlines() if line.startswith(str(PRESUPUESTOS)))
    assert row.split()[1:3] == ["yes", "Presupuestos"]

    assert "admin 555 removed" in out(cli(bot, "admins", "remove", "555"))
    assert "was not an admin" in out(cli(bot, "admins", "remove", "555"))
    removed_env = out(cli(bot, "admins", "remove", str(ADMIN_ID)))
    assert "still an admin through ADMIN_USER_IDS" in removed_env
    assert db_rows(bot, "select user_id from admins") == []

    audit = out(cli(bot, "audit")).splitlines()
    start = next(i for i, line in enumerate(audit) if line.startswith("when"))
    actions = [line.split() for line in audit[start + 1 :]]
    assert [a[2:5] for a in actions] == [
        ["command", "line", "add_admin"],
        ["Nico", "Sistemas", "(555)"],
        ["command", "line", "remove_admin"],
    ]
    assert actions[0][-1] == "555" and actions[2][-1] == "555"
    assert "enable_chat" in actions[1] and str(PRESUPUESTOS) in actions[1]


def test_non_numeric_admin_id_is_refused(bot: BotProcess) -> None:
    result = cli(bot, "admins", "add", "nico")
    assert result.returncode == 2 and b"invalid int value" in result.stderr


def test_commands_need_an_existing_database(bot: BotProcess) -> None:
    database = Path(bot.env["DATABASE_URL"].split("///", 1)[1])
    database.unlink()  # the fixture's copy: this test is about a home with none
    result = cli(bot, "chats")
    assert result.returncode == 2
    assert b"no database file" in result.stderr and b"Traceback" not in result.stderr
    assert not database.exists()


def test_export_csv_for_excel_and_json(bot: BotProcess) -> None:
    seed(bot)
    result = cli(bot, "export", "--since", "2026-11-01", "--until", "2026-11-30")
    assert result.returncode == 0, result.stderr.decode()
    # stdout is the file alone; what the command uses goes to stderr.
    assert b"database: sqlite" in result.stderr and b"16 incidents" in result.stderr
    assert result.stdout.startswith(b"\xef\xbb\xbfnumero;abierto;cerrado;")
    assert result.stdout.count(b"\r\n") == 17
    rows = list(csv.reader(io.StringIO(result.stdout.decode("utf-8-sig")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == [str(n) for n in range(2, 18)]
    assert rows[1][1] == "02/11/2026 08:42"

    result = cli(bot, "export", "--since", "01/12/2026", "--format", "json")
    data = json.loads(result.stdout)
    assert [(r["numero"], r["tipo"]) for r in data] == [
        (18, "falla general"),
        (19, "falla general"),
        (20, "local"),
    ]

    bad = cli(bot, "export", "--since", "ayer")
    assert bad.returncode == 2 and bad.stdout == b""
    assert b"--since 'ayer': use a date like 2026-01-01" in bad.stderr
