"""The command line: configuration errors are one clear line and exit code 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import forkserver
from tests.support.bot_process import TOKEN


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "DATABASE_", "FLEXUS_", "TEAM_", "ADMIN_"))
    }
    clean.update(env)
    return forkserver.run(args, cwd=tmp_path, env=clean, timeout=60)


@pytest.mark.parametrize(
    ("token", "expected"),
    [(None, "TELEGRAM_BOT_TOKEN is not set"), ("not-a-token", "TELEGRAM_BOT_TOKEN is malformed")],
)
def test_bad_token_is_one_line_and_exit_2(tmp_path: Path, token: str | None, expected: str) -> None:
    env = {} if token is None else {"TELEGRAM_BOT_TOKEN": token}
    result = run_cli(tmp_path, "run", **env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_token_read_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n")
    result = run_cli(tmp_path, "check", FLEXUS_NOW="2026-11-28T12:00:00-03:00")
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert (
        "Soporte disponible: horario comercial hasta las 13:00 (después, guardia hasta las 22:00)"
        in result.stdout
    )
    assert TOKEN not in result.stdout


def test_bad_protocol_value_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[deadlines]\nconfirmation_minutes = -1\n[support]\ntimezone = "Mars/Base"\n')
    result = run_cli(tmp_path, "check", TELEGRAM_BOT_TOKEN=TOKEN, FLEXUS_CONFIG=str(bad))
    assert result.returncode == 2
    assert "deadlines.confirmation_minutes" in result.stderr
    assert "support.timezone: unknown time zone 'Mars/Base'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_team_chat_ids(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check", TELEGRAM_BOT_TOKEN=TOKEN, TEAM_CHAT_IDS="-100,abc")
    assert result.returncode == 2
    assert "TEAM_CHAT_IDS" in result.stderr and "'abc'" in result.stderr


def test_db_upgrade_creates_the_default_database(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "db", "upgrade", "--create")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "flexus.db").exists()
