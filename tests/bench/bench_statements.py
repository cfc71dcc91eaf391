"""Benchmark (prints figures, asserts nothing): the SQL statements a vote costs.

    .venv/bin/python -m tests.bench.bench_statements [--votes 300] [--reports 200]

Runs the real bot (`flexus-bot run`, SQLite) against the fake Bot API with an SQLAlchemy
`before_cursor_execute` listener that counts every statement it sends to the database, by kind
and table. An incident is opened and confirmed first; then two bursts of votes by people the
bot has not seen: 10 and 10 + `--votes`. The difference between the two runs, divided by
`--votes`, is what one vote costs, the delivery worker's share included (start-up and the
incident itself cancel out). Transaction ends (COMMIT, ROLLBACK) go to the driver, not through
the listener, and are not counted.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.bench_vs_bare import ANA, Bot, burst
from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, TOKEN
from tests.support.fakebotapi import FakeBotAPI, command_update, press_update, user

COUNTS_FILE = "FLEXUS_BENCH_STATEMENTS"  # where the counting bot writes its counts at exit


def statement_kind(statement: str) -> str:
    """ "SELECT members", "INSERT votes", "BEGIN IMMEDIATE", "SAVEPOINT" ..."""
    words = statement.split()
    if not words:
        return "?"
    verb = words[0].upper()
    if verb == "SELECT":
        table = re.search(r"\bFROM\s+(\w+)", statement, re.IGNORECASE)
        return f"SELECT {table[1] if table else '?'}"
    if verb in ("INSERT", "DELETE") and len(words) > 2:
        return f"{verb} {words[2]}"
    if verb == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1]}"
    if verb in ("BEGIN", "RELEASE"):
        return " ".join(words[:2]).upper()
    return verb


def run_counting_bot() -> int:
    """`flexus-bot run` with every statement counted (run by the benchmark, not by people)."""
    import os

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: collections.Counter[str] = collections.Counter()
    out = os.environ[COUNTS_FILE]

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(*args: object) -> None:
        counts[statement_kind(str(args[2]))] += 1

    atexit.register(lambda: Path(out).write_text(json.dumps(counts)))
    from bot.cli import main

    return main(["run"])


def one_run(votes: int, reports: int = 0) -> dict[str, int]:
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    workdir = Path(tempfile.mkdtemp())
    counts = workdir / "counts.json"
    bot = Bot(False, api, workdir)
    bot.command = [sys.executable, "-m", "tests.bench.bench_statements", "--counting-bot"]
    bot.extra_env = {COUNTS_FILE: str(counts)}
    try:
        bot.start()
        time.sleep(3.5)  # past the start-up grace of stored timers
        api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
        api.wait_idle(quiet=0.5)
        presses = [
            press_update(GROUP_ADMIN, 5000, user(10_000 + n, f"V{n}"), "v:1:f")
            for n in range(votes)
        ]
        burst(api, presses, "answerCallbackQuery", votes)
        api.wait_idle(quiet=1.0, timeout=120)
        if reports:
            said = [
                command_update(GROUP_CAJA, user(50_000 + n, f"R{n}"), "/caido")
                for n in range(reports)
            ]
            burst(api, said, "setMessageReaction", reports)
            api.wait_idle(quiet=1.0, timeout=120)
    finally:
        bot.stop()
        api.stop()
    found: dict[str, int] = json.loads(counts.read_text())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--votes", type=int, default=300)
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--counting-bot", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counting_bot:
        sys.exit(run_counting_bot())
    base, more = one_run(10), one_run(10 + args.votes)
    per_vote = {k: (more.get(k, 0) - base.get(k, 0)) / args.votes for k in {*base, *more}}
    print(f"SQL statements per vote ({args.votes} votes by people the bot had not seen):")
    for kind, count in sorted(per_vote.items(), key=lambda kv: -kv[1]):
        if abs(count) >= 0.005:
            print(f"  {count:6.2f}  {kind}")
    print(f"  {sum(per_vote.values()):6.2f}  in all")
    if args.reports:
        said = one_run(10, args.reports)
        per_report = {k: (said.get(k, 0) - base.get(k, 0)) / args.reports for k in {*base, *said}}
        print(
            f"SQL statements per /caido ({args.reports} at once by people not seen, the incident open):"
        )
        for kind, count in sorted(per_report.items(), key=lambda kv: -kv[1]):
            if abs(count) >= 0.005:
                print(f"  {count:6.2f}  {kind}")
        print(f"  {sum(per_report.values()):6.2f}  in all")


if __name__ == "__main__":
    main()
