"""flexus-bot: run the bot, migrate or back up the database, check the configuration."""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import Config, ConfigError, load_config, shown_url
from bot.db import DatabaseProblem


def _fail(message: str) -> int:
    print(f"flexus-bot: {message}", file=sys.stderr, flush=True)
    return 2


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def print_sources(config: Config) -> None:
    """Every command's first lines: which home, .env, database and protocol file it uses."""
    home, settings = config.home, config.settings
    if home is not None:
        print(f"home: {home.folder} ({home.found_by})")
        print(f".env: {home.env_file or 'none (settings from the environment only)'}")
    print(f"database: {shown_url(settings.database_url)}")
    print(f"protocol file: {settings.flexus_config or 'built-in defaults'}", flush=True)


def cmd_run(config: Config, *, webhook: bool = False) -> int:
    import asyncio

    from sqlalchemy.engine import make_url
    from telegram.error import InvalidToken

    from bot.db import prepare_database
    from bot.logs import setup_logging
    from bot.serve import serve

    config.settings.check_token()
    if webhook:
        _check_webhook(config)
    secrets = [config.settings.telegram_bot_token]
    password = make_url(config.settings.database_url).password
    if password:
        secrets.append(str(password))  # never in the log, whatever prints the URL
    setup_logging(config.settings.log_level, secrets)
    if not config.settings.team_chat_ids:
        print(
            "flexus-bot: warning: TEAM_CHAT_IDS is empty, so every group will be refused",
            file=sys.stderr,
        )
    # The first start creates the database; it waits for a PostgreSQL that is still starting.
    prepare_database(
        config.settings.database_url, create=True, wait_seconds=config.settings.db_wait_seconds
    )
    try:
        # Reports sent while the bot was down still count: updates Telegram kept are handled.
        # A network outage at start-up is waited out (with back-off); a rejected token is not.
        asyncio.run(serve(config, webhook=webhook))
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather")
    return 0


def _check_webhook(config: Config) -> None:
    settings = config.settings
    if not settings.webhook_url.startswith("https://"):
        raise ConfigError("WEBHOOK_URL must be the public https:// address Telegram posts to")
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", settings.webhook_secret):
        raise ConfigError(
            "WEBHOOK_SECRET must be 16 to 256 letters, digits, '_' or '-' "
            "(Telegram sends it back on every call)"
        )


def cmd_db_upgrade(config: Config, *, create: bool) -> int:
    from bot.db import prepare_database

    _quiet_logging()
    prepare_database(
        config.settings.database_url, create=create, wait_seconds=config.settings.db_wait_seconds
    )
    print("database is up to date")
    return 0


def cmd_db_backup(config: Config, dest: str | None) -> int:
    from bot.backup import backup_folder, backup_name, backup_sqlite, backup_target, pg_dump_command
    from bot.clock import Clock
    from bot.db import sqlite_path

    now = Clock().now()
    source = sqlite_path(config.settings.database_url)
    if source is None:
        target = Path(dest) if dest else backup_folder(config) / backup_name(now)
        target = target.with_suffix(".dump") if target.suffix == ".db" else target
        print("PostgreSQL is backed up with its own tool; run (password from PGPASSWORD):")
        print(f"  {pg_dump_command(config.settings.database_url, target)}")
        print("restore: pg_restore --clean --if-exists --dbname=<URL> <file> (bot stopped)")
        return 2
    target = backup_target(dest, now=now) if dest else backup_folder(config) / backup_name(now)
    result = backup_sqlite(source, target)
    print(f"backup written: {result.path} ({result.tables} tables, {result.size // 1024} KiB)")
    print("it opens and passes SQLite's integrity check")
    return 0


def cmd_check(config: Config, *, online: bool = False) -> int:
    from bot import texts
    from bot.clock import Clock
    from bot.security import mode_warnings
    from bot.support_window import support_status_at

    config.settings.check_token()
    settings, protocol = config.settings, config.protocol
    status = support_status_at(Clock.from_setting(settings.flexus_now).now(), protocol.support)
    print("configuration OK" + ("" if online else " (offline: `check --online` tries it out)"))
    print(
        f"  team chats: {', '.join(map(str, settings.team_chat_ids)) or 'none (set TEAM_CHAT_IDS)'}"
    )
    print(
        f"  admins: {', '.join(map(str, settings.admin_user_ids)) or 'none (set ADMIN_USER_IDS)'}"
    )
    print(f"  sectors: {', '.join(protocol.team.sectors)}")
    for contact in protocol.gerencia:
        role = "backup" if contact.backup else "main"
        reach = (
            f"telegram_id {contact.telegram_id}"
            if contact.telegram_id
            else "no telegram_id: mentioned by name, the coordinator confirms server access"
        )
        print(f"  gerencia ({role}): {contact.name} ({reach})")
    at = status.at
    print(
        f"  ahora: {texts.WEEKDAYS[at.weekday()]} {at:%d/%m/%Y %H:%M} ({protocol.support.timezone})"
    )
    print(_plain(texts.support_block(status, protocol.support.phone)))
    env_file = config.home.env_file if config.home is not None else None
    for warning in mode_warnings(settings.database_url, env_file):
        print(f"  aviso: {warning}")
    print(
        "  el bot tiene que ser admin de cada grupo del equipo para enterarse al instante de "
        "quién entra o sale (si no, lo consulta a Telegram cada pocos minutos)"
    )
    if not online:
        return 0
    import asyncio

    from bot.checks import run_online_checks

    _quiet_logging()
    print("comprobaciones en línea:", flush=True)
    results = asyncio.run(run_online_checks(config))
    for result in results:
        print(result.render(), flush=True)
    failed = sum(1 for r in results if r.failed)
    if failed:
        print(f"{failed} problema(s): corregí lo indicado y volvé a ejecutar `make check-config`.")
        return 1
    print("todo en orden: el bot puede funcionar.")
    return 0


def _quiet_logging() -> None:
    """Commands other than `run` print their own lines; libraries keep to warnings."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flexus-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="apply migrations, then run the bot (long polling)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates on WEBHOOK_URL (served on HTTP_HOST:HTTP_PORT) instead of polling",
    )
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply every pending migration")
    upgrade.add_argument(
        "--create", action="store_true", help="create the database if it does not exist yet"
    )
    backup = db_sub.add_parser(
        "backup", help="copy the SQLite database while the bot runs, and verify the copy"
    )
    backup.add_argument(
        "dest", nargs="?", help="file or folder for the copy (default: backup.folder in the home)"
    )
    check = sub.add_parser("check", help="validate the configuration and show the support window")
    check.add_argument(
        "--online",
        action="store_true",
        help="also ask Telegram (token, team chats, Gerencia) and the database",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bot.backup import BackupError

    args = build_parser().parse_args(argv)
    os.umask(0o077)  # what the bot writes (database, backups) is for its own user only
    try:
        config = load_config()
        print_sources(config)
        if args.command == "run":
            return cmd_run(config, webhook=args.webhook)
        if args.command == "db" and args.db_command == "backup":
            return cmd_db_backup(config, args.dest)
        if args.command == "db":
            return cmd_db_upgrade(config, create=args.create)
        return cmd_check(config, online=args.online)
    except (ConfigError, DatabaseProblem, BackupError) as exc:
        return _fail(str(exc))
    except ValueError as exc:  # e.g. a malformed FLEXUS_NOW
        return _fail(f"invalid setting: {exc}")


if __name__ == "__main__":
    sys.exit(main())
