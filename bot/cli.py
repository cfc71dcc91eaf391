"""flexus-bot: run the bot, migrate or back up the database, check the configuration, export the
incidents, and administer team chats and admins."""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bot.core.config import Config, ConfigError, load_config, shown_url
from bot.storage.db import DatabaseProblem


def _fail(message: str) -> int:
    print(f"flexus-bot: {message}", file=sys.stderr, flush=True)
    return 2


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def print_sources(config: Config, out: TextIO | None = None) -> None:
    """Every command's first lines: which home, .env, database and protocol file it uses
    (on stderr for `export`, whose stdout is the file)."""
    home, settings = config.home, config.settings
    out = out or sys.stdout
    if home is not None:
        print(f"home: {home.folder} ({home.found_by})", file=out)
        print(f".env: {home.env_file or 'none (settings from the environment only)'}", file=out)
    print(f"database: {shown_url(settings.database_url)}", file=out)
    print(f"protocol file: {settings.flexus_config or 'built-in defaults'}", file=out, flush=True)


def cmd_run(config: Config, *, webhook: bool = False) -> int:
    import asyncio

    from sqlalchemy.engine import make_url
    from telegram.error import InvalidToken

    from bot.core.logs import setup_logging
    from bot.serve import serve
    from bot.storage.db import claim_sqlite_database, prepare_database

    config.settings.check_token()
    if webhook:
        _check_webhook(config)
    secrets = [config.settings.telegram_bot_token]
    password = make_url(config.settings.database_url).password
    if password:
        secrets.append(str(password))  # never in the log, whatever prints the URL
    setup_logging(config.settings.log_level, secrets)
    # The first start creates the database; it waits for a PostgreSQL that is still starting.
    prepare_database(
        config.settings.database_url, create=True, wait_seconds=config.settings.db_wait_seconds
    )
    # One process per SQLite file (a second copy would answer every update twice and race the
    # first for each message); the lock lives as long as the process. Taken once the folder is
    # known to be usable, so a folder problem is still told in its own words.
    lock = claim_sqlite_database(config.settings.database_url)
    try:
        # Reports sent while the bot was down still count: updates Telegram kept are handled.
        # A network outage at start-up is waited out (with back-off); a rejected token is not.
        asyncio.run(serve(config, webhook=webhook))
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather")
    finally:
        if lock is not None:
            lock.close()
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
    from bot.storage.db import prepare_database

    _quiet_logging()
    prepare_database(
        config.settings.database_url, create=create, wait_seconds=config.settings.db_wait_seconds
    )
    print("database is up to date")
    return 0


def cmd_db_backup(config: Config, dest: str | None) -> int:
    from bot.core.clock import Clock
    from bot.ops.backup import (
        backup_folder,
        backup_name,
        backup_sqlite,
        backup_target,
        pg_dump_command,
    )
    from bot.storage.db import sqlite_path

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
    import asyncio

    from bot import texts
    from bot.core.clock import Clock
    from bot.ops.checks import stored_setup
    from bot.storage.file_modes import mode_warnings
    from bot.support.hours import support_status_at

    config.settings.check_token()
    settings, protocol = config.settings, config.protocol
    status = support_status_at(Clock.from_setting(settings.flexus_now).now(), protocol.support)
    print("configuration OK" + ("" if online else " (offline: `check --online` tries it out)"))
    # What /habilitar and `admins add` stored counts as much as .env does.
    setup = asyncio.run(stored_setup(config))
    chats = ", ".join(_chat_line(c) for c in setup.chats.values())
    print(f"  team chats: {chats or 'none (write /habilitar in each group, or set TEAM_CHAT_IDS)'}")
    admins = ", ".join(map(str, sorted(setup.admins)))
    print(f"  admins: {admins or 'none (`flexus-bot admins add ID`, or set ADMIN_USER_IDS)'}")
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
    from bot.ops.checks import run_online_checks

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


def _chat_line(chat: Any) -> str:
    """A team chat for `check`: its id, and the topic its alerts go to in a group with topics."""
    if not chat.alert_topic_id:
        return str(chat.chat_id)
    name = f" «{chat.alert_topic_name}»" if chat.alert_topic_name else ""
    return f"{chat.chat_id} (alerts in topic {chat.alert_topic_id}{name})"


T = TypeVar("T")


def _with_database(config: Config, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(session)` on the bot's database (which must exist), then close it."""
    import asyncio

    from bot.storage.db import make_engine, make_session_factory, prepare_database

    _quiet_logging()
    url = config.settings.database_url
    prepare_database(url, create=False, wait_seconds=config.settings.db_wait_seconds)

    async def run() -> T:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _local(instant: Any, config: Config) -> str:
    if instant is None:
        return "—"
    return f"{instant.astimezone(config.protocol.support.tz):%Y-%m-%d %H:%M}"


def cmd_export(config: Config, *, since: str | None, until: str | None, fmt: str) -> int:
    """One row per incident on stdout: CSV for Excel (BOM, ";") or JSON."""
    from bot.core.clock import Clock
    from bot.reports import export
    from bot.reports.records import parse_day

    days = {}
    for name, value in (("--since", since), ("--until", until)):
        day = parse_day(value) if value else None
        if value and day is None:
            return _fail(f"{name} {value!r}: use a date like 2026-01-01 (or 01/01/2026)")
        days[name] = day
    spec = config.protocol.support
    now = Clock.from_setting(config.settings.flexus_now).now()

    async def work(session: Any) -> bytes:
        records = await export.export_records(
            session, since=days["--since"], until=days["--until"], spec=spec
        )
        print(f"{len(records)} incidents", file=sys.stderr, flush=True)
        return export.render(records, "json" if fmt == "json" else "csv", now=now, spec=spec)

    data = _with_database(config, work)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0


def cmd_chats(config: Config) -> int:
    """Every group that talked to the bot: id, enabled or not, sector, title, last seen."""
    from bot.team import admin

    rows = _with_database(config, admin.chats)
    if not rows:
        print("no group has talked to the bot yet: add it to a group and write /estado there")
        return 0
    print(
        f"{'chat id':<16} {'enabled':<8} {'sector':<20} {'alerts in':<20} {'last seen':<17} title"
    )
    for row in rows:
        enabled = "yes" if row.enabled else "no"
        if row.enabled and not row.reachable:
            enabled = "yes (unreachable)"
        topic = "—"
        if row.alert_topic_id:
            topic = f"topic {row.alert_topic_id}"
            topic += f" «{row.alert_topic_name}»" if row.alert_topic_name else ""
        print(
            f"{row.chat_id:<16} {enabled:<8} {row.sector or '—':<20} {topic:<20} "
            f"{_local(row.last_seen_at, config):<17} {row.title or ''}"
        )
    print("alerts in: the topic of a group with topics where /habilitar was written (—: General)")
    print("enable a group: an admin writes /habilitar in it (no restart needed)")
    return 0


def cmd_admins(config: Config, action: str, user_id: int | None) -> int:
    """admins add|remove ID, admins list: the admins stored in the database (plus ADMIN_USER_IDS)."""
    from bot.core.clock import Clock
    from bot.team import admin
    from models.vocab import AdminActionKind

    from_env = config.settings.admin_user_ids
    now = Clock.from_setting(config.settings.flexus_now).now()
    if action == "list":
        stored = _with_database(config, admin.admin_ids)
        if not stored and not from_env:
            print(
                "no admins yet: `flexus-bot admins add ID` (the person learns their id with /start)"
            )
        for uid in sorted(set(from_env) | stored):
            where = [
                w
                for w, on in (("ADMIN_USER_IDS", uid in from_env), ("database", uid in stored))
                if on
            ]
            print(f"{uid}  ({', '.join(where)})")
        return 0
    assert user_id is not None

    async def work(session: Any) -> bool:
        if action == "add":
            changed = await admin.add_admin(session, user_id=user_id, by=None, now=now)
        else:
            changed = await admin.remove_admin(session, user_id=user_id)
        if changed:
            admin.record(
                session,
                action=AdminActionKind.ADD_ADMIN
                if action == "add"
                else AdminActionKind.REMOVE_ADMIN,
                now=now,
                actor_id=None,
                target_id=user_id,
            )
        await session.commit()
        return changed

    changed = _with_database(config, work)
    if action == "add":
        print(f"admin {user_id} added" if changed else f"{user_id} was already an admin")
    else:
        print(
            f"admin {user_id} removed" if changed else f"{user_id} was not an admin in the database"
        )
        if user_id in from_env:
            print(f"{user_id} is still an admin through ADMIN_USER_IDS: remove it from .env too")
    if changed:
        print("a running bot sees the change within a minute (no restart needed)")
    return 0


def cmd_maintenance(config: Config, args: Any) -> int:
    """maintenance add|list|cancel: the same windows as /mantenimiento; a running bot tells the
    team chats within a minute."""
    from bot.core.clock import Clock
    from bot.protocol import maintenance
    from bot.team import admin
    from models.vocab import AdminActionKind, MaintenanceSource

    now = Clock.from_setting(config.settings.flexus_now).now()
    tz = config.protocol.support.tz

    def shown(window: maintenance.Planned) -> str:
        return (
            f"#{window.id}  {_local(window.starts_at, config)} – {_local(window.ends_at, config)}"
            f"  {window.reason}"
        )

    if args.maintenance_command == "list":
        windows = _with_database(config, lambda s: maintenance.upcoming(s, now, limit=50))
        for window in windows:
            print(shown(window) + ("  (under way)" if window.running(now) else ""))
        if not windows:
            print("no maintenance planned")
        return 0
    try:
        if args.maintenance_command == "add":
            command = maintenance.parse(" ".join(args.window), now, tz)
            if not isinstance(command, maintenance.PlanWindow):
                return _fail('give a window: "28/12 20:00-23:30 reason" or "ahora 45m reason"')

            async def plan(session: Any) -> maintenance.Planned:
                window = await maintenance.plan_window(
                    session,
                    start=command.start,
                    end=command.end,
                    reason=command.reason,
                    source=MaintenanceSource.CLI,
                    by=None,
                    now=now,
                    protocol=config.protocol,
                )
                admin.record(
                    session,
                    action=AdminActionKind.PLAN_MAINTENANCE,
                    now=now,
                    actor_id=None,
                    detail=f"#{window.id} {window.starts_at.isoformat()}",
                )
                await session.commit()
                return window

            print("planned " + shown(_with_database(config, plan)))
        else:
            reason = " ".join(args.reason)

            async def cancel(session: Any) -> maintenance.Planned:
                window = await maintenance.cancel_window(
                    session,
                    window_id=args.window_id,
                    reason=reason,
                    by=None,
                    now=now,
                    announced=False,
                )
                admin.record(
                    session,
                    action=AdminActionKind.CANCEL_MAINTENANCE,
                    now=now,
                    actor_id=None,
                    detail=f"#{window.id} {reason}",
                )
                await session.commit()
                return window

            print("cancelled " + shown(_with_database(config, cancel)))
    except maintenance.MaintenanceRefused as refused:
        other = f" (window {shown(refused.other)})" if refused.other else ""
        return _fail(f"not done: {refused.problem.value.replace('_', ' ')}{other}")
    print("a running bot tells the team chats within a minute")
    return 0


def cmd_audit(config: Config, *, limit: int) -> int:
    """Every admin action, oldest first: when, who, what, where, to whom."""
    from bot.team import admin

    async def work(session: Any) -> list[admin.ActionRow]:
        return await admin.actions(session, limit=limit)

    rows = _with_database(config, work)
    if not rows:
        print("no admin actions recorded yet")
        return 0
    print(f"{'when':<17} {'who':<28} {'action':<20} {'chat':<15} {'target':<12} detail")
    for row in reversed(rows):
        who = (
            "command line"
            if row.actor_id is None
            else f"{row.actor_name or ''} ({row.actor_id})".strip()
        )
        print(
            f"{_local(row.at, config):<17} {who[:28]:<28} {row.action:<20} "
            f"{row.chat_id if row.chat_id is not None else '':<15} "
            f"{row.target_id if row.target_id is not None else '':<12} {row.detail or ''}"
        )
    return 0


def cmd_status(config: Config) -> int:
    """Which copy of the bot is active, since when, and each copy's last sign of life."""
    import asyncio

    from bot.ops.copies import status, uses_lease
    from bot.storage.db import is_sqlite, prepare_database, sqlite_holder

    _quiet_logging()
    settings = config.settings
    if is_sqlite(settings.database_url):
        running = sqlite_holder(settings.database_url)
        print("SQLite: one copy of the bot at a time (no standby)")
        print(f"running: {running}" if running else "running: no (no process holds the database)")
        return 0
    prepare_database(settings.database_url, create=False, wait_seconds=settings.db_wait_seconds)
    if not uses_lease(settings):
        print("LEASE_SECONDS=0: one copy only, no lease (several copies would all act)")
    holder, copies = asyncio.run(status(config))
    if holder is None or not holder.live:
        last = f" (last: {holder.host}, epoch {holder.epoch})" if holder and holder.host else ""
        print(f"active: none{last}: a standby copy takes over within a second")
    else:
        renewed = (holder.now - holder.renewed_at).total_seconds() if holder.renewed_at else 0
        print(
            f"active: {holder.host} (pid {holder.pid}) since {_local(holder.since, config)} "
            f"(lease epoch {holder.epoch}), renewed {renewed:.0f} s ago"
        )
    if not copies:
        print("no copy has run yet")
        return 0
    print(f"{'copy':<24} {'pid':<8} {'role':<8} {'started':<17} last seen")
    for copy in copies:
        print(
            f"{copy.name[:24]:<24} {copy.pid:<8} {copy.role:<8} "
            f"{_local(copy.started_at, config):<17} {copy.seen_ago:.0f} s ago"
        )
    print("silent: no sign of life for 15 s without a clean stop (killed, machine off, cut off)")
    print("replaced: it was active until another copy took over (it may be gone)")
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
    export = sub.add_parser(
        "export", help="write one row per incident to stdout (CSV for Excel, or JSON)"
    )
    export.add_argument("--since", help="first day, e.g. 2026-01-01 (default: the first incident)")
    export.add_argument("--until", help="last day, included (default: the latest incident)")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    sub.add_parser("chats", help="list every group that talked to the bot, enabled or not")
    sub.add_parser(
        "status", help="which copy of the bot is active, since when, and each copy's last sign"
    )
    admins = sub.add_parser("admins", help="manage the bot's admins (besides ADMIN_USER_IDS)")
    admins_sub = admins.add_subparsers(dest="admins_command", required=True)
    for name, text in (("add", "make a person an admin"), ("remove", "remove an admin")):
        one = admins_sub.add_parser(name, help=text)
        one.add_argument("user_id", type=int, help="their Telegram id (private /start shows it)")
    admins_sub.add_parser("list", help="list the admins")
    planned = sub.add_parser("maintenance", help="planned maintenance of FLEXUS")
    planned_sub = planned.add_subparsers(dest="maintenance_command", required=True)
    add = planned_sub.add_parser(
        "add",
        help='plan a window, as in the chat: "28/12 20:00-23:30 reason" or "ahora 45m reason"',
    )
    add.add_argument("window", nargs="+", help="[DD/MM] HH:MM-HH:MM reason, or: ahora 45m reason")
    planned_sub.add_parser("list", help="the windows under way or to come")
    cancel = planned_sub.add_parser("cancel", help="cancel a window that has not ended")
    cancel.add_argument("window_id", type=int)
    cancel.add_argument("reason", nargs="*", help="why (told to the team)")
    audit = sub.add_parser("audit", help="show the admin actions: who did what, when")
    audit.add_argument("--limit", type=int, default=200, help="latest N actions (default 200)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bot.ops.backup import BackupError

    args = build_parser().parse_args(argv)
    os.umask(0o077)  # what the bot writes (database, backups) is for its own user only
    try:
        config = load_config()
        print_sources(config, sys.stderr if args.command == "export" else sys.stdout)
        if args.command == "export":
            return cmd_export(config, since=args.since, until=args.until, fmt=args.format)
        if args.command == "chats":
            return cmd_chats(config)
        if args.command == "status":
            return cmd_status(config)
        if args.command == "admins":
            return cmd_admins(config, args.admins_command, getattr(args, "user_id", None))
        if args.command == "audit":
            return cmd_audit(config, limit=args.limit)
        if args.command == "maintenance":
            return cmd_maintenance(config, args)
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
