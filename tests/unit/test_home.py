"""FLEXUS_HOME: where .env, data/ and the protocol file are found; database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core import home as home_module
from bot.core.causes import cause_of
from bot.core.config import ConfigError, load_settings, normalize_database_url, shown_url
from bot.core.home import Home, HomeError, find_home


def test_env_in_the_working_folder_wins_then_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, project = tmp_path / "work", tmp_path / "project"
    work.mkdir()
    project.mkdir()
    monkeypatch.setattr(home_module, "PROJECT_DIR", project)
    assert find_home({}, cwd=work) == Home(work, None, "no .env found: the working folder")
    (project / ".env").write_text("X=1\n")
    found = find_home({}, cwd=work)
    assert (found.folder, found.env_file) == (project, project / ".env")
    (work / ".env").write_text("X=2\n")
    assert find_home({}, cwd=work).env_file == work / ".env"


def test_flexus_home_wins_and_must_exist(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("X=1\n")
    found = find_home({"FLEXUS_HOME": str(tmp_path)}, cwd=Path("/"))
    assert (found.folder, found.env_file, found.found_by) == (
        tmp_path,
        tmp_path / ".env",
        "FLEXUS_HOME",
    )
    with pytest.raises(HomeError, match=f"FLEXUS_HOME: the folder {tmp_path}/nope does not exist"):
        find_home({"FLEXUS_HOME": str(tmp_path / "nope")})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/flexus.db", "sqlite+aiosqlite:////srv/flexus/data/flexus.db"),
        ("sqlite+aiosqlite:///data/flexus.db", "sqlite+aiosqlite:////srv/flexus/data/flexus.db"),
        ("sqlite+aiosqlite:////var/lib/f.db", "sqlite+aiosqlite:////var/lib/f.db"),
        ("postgresql://u:p@h:5432/f", "postgresql+asyncpg://u:p@h:5432/f"),
        ("postgres://u:p@h/f", "postgresql+asyncpg://u:p@h/f"),
        ("postgresql+psycopg://u:p@h/f", "postgresql+asyncpg://u:p@h/f"),
        ("postgresql+asyncpg://u:p@h/f", "postgresql+asyncpg://u:p@h/f"),
    ],
)
def test_database_urls_get_the_async_driver_and_the_home(given: str, expected: str) -> None:
    home = Home(Path("/srv/flexus"), None, "test")
    assert normalize_database_url(given, home) == expected


def test_unsupported_or_malformed_database_urls_are_one_line() -> None:
    home = Home(Path("/srv"), None, "test")
    with pytest.raises(ConfigError, match="DATABASE_URL: mysql is not supported"):
        normalize_database_url("mysql://u@h/f", home)
    with pytest.raises(ConfigError, match="DATABASE_URL is not a database URL"):
        normalize_database_url("flexus.db", home)


def test_shown_url_hides_the_password() -> None:
    assert shown_url("postgresql+asyncpg://flexus:MiClave@db/f") == (
        "postgresql+asyncpg://flexus:***@db/f"
    )


def test_relative_paths_and_the_home_protocol_file(tmp_path: Path) -> None:
    (tmp_path / "protocol.toml").write_text("")
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///db/f.db\n")
    home = Home(tmp_path, tmp_path / ".env", "test")
    settings = load_settings(home)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/db/f.db"
    assert settings.flexus_config == str(tmp_path / "protocol.toml")
    settings = load_settings(home, flexus_config="other.toml")
    assert settings.flexus_config == str(tmp_path / "other.toml")


def test_causes_are_named() -> None:
    import socket

    def wrapped(inner: BaseException) -> RuntimeError:
        try:
            try:
                raise inner
            except OSError as exc:
                raise RuntimeError("httpx.ConnectError: All connection attempts failed") from exc
        except RuntimeError as outer:
            return outer

    assert cause_of(wrapped(ConnectionRefusedError(111, "refused"))) == "connection refused"
    dns = wrapped(socket.gaierror(-2, "Name or service not known"))
    assert cause_of(dns) == "DNS: the host name does not resolve"
    assert cause_of(dns, spanish=True) == "el nombre no se resuelve (DNS)"


def test_settings_come_from_the_environment_then_the_homes_env_then_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "TEAM_CHAT_IDS", "LOG_LEVEL", "HTTP_PORT", "COPY_NAME"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        "# the token BotFather gave\n"
        'TELEGRAM_BOT_TOKEN="123:from-the-file"\n'
        "team_chat_ids=-1001, -1002\n"
        "export LOG_LEVEL=debug\n"
        "NOT_A_SETTING=1\n"
        "HTTP_PORT=8080\n"
    )
    home = Home(tmp_path, tmp_path / ".env", "test")
    monkeypatch.setenv("HTTP_PORT", "9090")
    monkeypatch.setenv("copy_name", "caja-pc")
    settings = load_settings(home)
    assert settings.telegram_bot_token == "123:from-the-file"  # quotes are the file's
    assert settings.team_chat_ids == [-1001, -1002] and settings.log_level == "DEBUG"
    assert settings.http_port == 9090 and settings.copy_name == "caja-pc"  # any case
    assert settings.webhook_url == ""  # nobody set it: the default
    assert load_settings(home, http_port=7070).http_port == 7070  # the caller's word first
    assert load_settings(home, _env_file=None).telegram_bot_token == ""  # no .env read

    monkeypatch.setenv("HTTP_PORT", "ochenta")
    with pytest.raises(ConfigError, match=r"^HTTP_PORT: "):
        load_settings(home)
