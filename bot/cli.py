"""flexus-bot: run the bot, migrate the database, check the configuration."""

from __future__ import annotations

import argparse
import html
import re
import sys
from collections.abc import Sequence

from bot.config import Config, ConfigError, load_config


def _fail(message: str) -> int:
    print(f"flexus-bot: {message}", file=sys.stderr)
    return 2


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def cmd_run(config: Config, *, webhook: bool = False) -> int:
    import asyncio

    from telegram.error import InvalidToken

    from bot.db import upgrade_database
    from bot.logs import setup_logging
    from bot.serve import serve

    config.settings.check_token()
    if webhook:
        _check_webhook(config)
    setup_logging(config.settings.log_level, [config.settings.telegram_bot_token])
    if not config.settings.team_chat_ids:
        print(
            "flexus-bot: warning: TEAM_CHAT_IDS is empty, so every group will be refused",
            file=sys.stderr,
        )
    upgrade_database(config.settings.database_url)
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


def cmd_db_upgrade(config: Config) -> int:
    from bot.db import upgrade_database

    upgrade_database(config.settings.database_url)
    print("database is up to date")
    return 0


def cmd_check(config: Config) -> int:
    from bot import texts
    from bot.clock import Clock
    from bot.support_window import support_status_at

    config.settings.check_token()
    settings, protocol = config.settings, config.protocol
    status = support_status_at(Clock.from_setting(settings.flexus_now).now(), protocol.support)
    print("configuration OK")
    print(f"  protocol file: {settings.flexus_config or 'built-in defaults'}")
    print(f"  database: {settings.database_url}")
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
    print(f"  now: {status.at:%A %d/%m/%Y %H:%M} ({protocol.support.timezone})")
    print(_plain(texts.support_block(status, protocol.support.phone)))
    return 0


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
    db_sub.add_parser("upgrade", help="apply every pending migration")
    sub.add_parser("check", help="validate the configuration and show the support window now")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config()
        if args.command == "run":
            return cmd_run(config, webhook=args.webhook)
        if args.command == "db":
            return cmd_db_upgrade(config)
        return cmd_check(config)
    except ConfigError as exc:
        return _fail(str(exc))
    except ValueError as exc:  # e.g. a malformed FLEXUS_NOW
        return _fail(f"invalid setting: {exc}")


if __name__ == "__main__":
    sys.exit(main())
