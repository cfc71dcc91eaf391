"""Benchmark (prints figures, asserts nothing): a burst of reports and votes, kill -9, restart.

    .venv/bin/python -m tests.bench.bench_burst [--database-url URL] [--reports 30] [--votes 300]
        [--no-kill]

The real process against the fake Bot API: `--reports` people send /caido across the two team
chats at once; as soon as the alert card shows, `--votes` other people press "me falla" / "me
funciona" on it; the bot is killed (SIGKILL) as soon as the first vote is answered, so most
updates are still stored-but-unhandled or not yet fetched, and started again. Prints reports and
votes stored against those sent, the time from the first report to the alert in each chat, the
time until each chat's card shows the final tally, and duplicates (seen by the fake, reported by
the bot).

Without --database-url a temporary SQLite file is used. A PostgreSQL URL
(postgresql+asyncpg://user@host:port/db) names the server: a fresh database is created on it for
the run and dropped afterwards, so the command can be run again as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.fakebotapi import user
from tests.support.reliability import (
    CRITICAL,
    TEAM,
    KillSwitchAPI,
    Lifeline,
    burst,
    db_url,
    expected_burst,
    make_bot,
    reported_duplicates,
    seen,
    settled,
    wait_stored,
)

TIMEOUT = 180.0  # seconds: the longest wait for the burst to be handled


async def admin_sql(server_url: str, statement: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def fresh_database(url: str, workdir: Path) -> tuple[str, str | None]:
    """(the URL the bot uses, the PostgreSQL database to drop afterwards or None)."""
    if not url:
        return db_url(workdir), None
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path and Path(path).exists():
            sys.exit(f"{path} exists: give a new file (the counts need an empty database)")
        return url, None
    name = f"flexus_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin_sql(url, f'CREATE DATABASE "{name}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False), name


def final_tally(reports: int, votes: int) -> str:
    """The card's tally line once every report and vote is counted."""
    _, expected = expected_burst(reports, votes)
    names = {TEAM[0]: "Caja", TEAM[1]: "Administración"}
    counts = {(chat, choice): 0 for chat in TEAM for choice in ("fails", "works")}
    for n in range(reports):
        counts[(TEAM[n % 2], "fails")] += 1
    for n in range(votes):
        counts[(TEAM[n % 2], expected[3000 + n])] += 1

    def line(choice: str) -> str:
        parts = [f"{names[c]} {counts[(c, choice)]}" for c in TEAM if counts[(c, choice)]]
        return ", ".join(parts) or "—"

    return f"Afectados: {line('fails')} · Les funciona: {line('works')}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--reports", type=int, default=30)
    parser.add_argument("--votes", type=int, default=300)
    parser.add_argument("--no-kill", action="store_true", help="the same burst, no kill -9")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="flexus-burst-"))
    url, drop = fresh_database(args.database_url, workdir)
    api = KillSwitchAPI()
    api.start()
    bot = make_bot(api, workdir, database_url=url)
    try:
        life = Lifeline(bot)
        life.begin()
        mark = api.mark()
        reporters = [user(2000 + n, f"Reporta{n}") for n in range(args.reports)]
        first = burst(api, args.votes, reporters)
        pushed = time.monotonic()
        if not args.no_kill:
            api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
            killed_at = time.monotonic()
            handled_before = len(api.calls_of("answerCallbackQuery"))
            life.kill_and_restart()
            print(
                f"killed {killed_at - first:.2f} s after the first report, "
                f"{handled_before} of {args.votes} votes answered by then"
            )
        want_reports, want_votes = expected_burst(args.reports, args.votes)
        state = wait_stored(
            url,
            lambda s: len(s.votes) >= len(want_votes) and settled(life.now)(s),
            timeout=TIMEOUT,
        )
        done = time.monotonic()
        view = seen(api, state)
        stored_reports = len(set(state.reports) & want_reports)
        right_votes = sum(1 for who, choice in want_votes.items() if state.votes.get(who) == choice)
        backend = url.split(":")[0]
        print(f"database: {backend}; updates {dict(state.inbox)}")
        print(
            f"reports stored {stored_reports} of {args.reports} sent "
            f"({len(state.reports)} rows); votes counted {right_votes} of {len(want_votes)} "
            f"({args.reports} reporters + {args.votes} presses)"
        )
        tally = final_tally(args.reports, args.votes)
        for chat in TEAM:
            alerts = [c for c in api.sent(chat) if CRITICAL["alert"] in c.text]
            alert = f"{(alerts[0].at - first) * 1000:.0f} ms" if alerts else "never"
            shows = [
                c
                for c in api.calls_of("editMessageText", chat)
                if c.result is not None and tally in c.text
            ]
            card = api.text_of(chat, state.cards[chat]) if chat in state.cards else ""
            if shows and tally in card:
                final = f"{shows[0].at - first:.1f} s"
            else:
                now = re.findall(r"Afectados[^\n]*", card)
                final = f"never (it shows {now[0] if now else 'nothing'!r})"
            print(
                f"chat {chat}: first report → alert {alert} ({len(alerts)} cop"
                f"{'y' if len(alerts) == 1 else 'ies'}); first report → card with the final "
                f"tally {final}"
            )
        extra = sum(view.extra_copies.values())
        print(
            f"duplicates: seen by the fake {extra} (raw duplicate_sends {view.duplicate_sends}), "
            f"reported by the bot {reported_duplicates(bot)}"
        )
        print(
            f"last vote pushed → everything handled and sent: {done - pushed:.1f} s; "
            f"process alive: {'yes' if bot.process and bot.process.poll() is None else 'NO'}"
        )
    finally:
        if bot.process is not None:
            bot.kill()
        api.stop()
        if drop is not None:
            asyncio.run(
                admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
            )
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
