"""Benchmark (prints figures, asserts nothing): many people type /caido at the same moment,
with Telegram's flood limits enforced strictly by the fake and the bot's default budget.

    .venv/bin/python -m tests.bench.bench_reports [--reports 200] [--runs 3]

Half the reports come from each of the two team chats, each from a different person. Printed
per run, from the moment the updates are queued in the fake: when the alert reached both
chats, when every report was stored and handled (read from the bot's database), when every
reporter had the bot's answer (the first its alert, the rest a 👍 on their message or their
name in a message naming those whose 👍 would have come late), how many were answered that way,
when the alert card in both chats counted every report, and the 429s. Reactions count against
the overall 30 a second but not against a group's 20 a minute (they are not messages); the bot
assumes the same.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.bench_broadcast import start_bot
from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, TOKEN
from tests.support.fakebotapi import FakeBotAPI, command_update, user


def handled(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
        row = connection.execute(
            "SELECT count(*) FROM inbox_updates WHERE status = 'handled'"
        ).fetchone()
    return int(row[0])


AFFECTED = re.compile(r"Afectados: (.*?) ·")
JOINED = re.compile(r"Anoté también a (.*): ya cuentan como afectados")


def named(text: str) -> list[str]:
    found = JOINED.search(text)
    if found is None:
        return []
    *first, last = re.split(r" [ye] ", found.group(1))
    return [n for part in first for n in part.split(", ")] + [last]


def run(count: int) -> dict[str, float]:
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    api.enforce_flood_limits(per_second=30, group_per_minute=20, reactions_per_group=False)
    workdir = Path(tempfile.mkdtemp())
    process = start_bot(api, workdir, [GROUP_CAJA, GROUP_ADMIN])
    figures: dict[str, float] = {}
    try:
        time.sleep(3.5)  # past the start-up grace of stored timers
        before = handled(workdir / "flexus.db")
        chats = [GROUP_CAJA if n % 2 else GROUP_ADMIN for n in range(count)]
        updates = [
            command_update(chat, user(50_000 + n, f"R{n}"), "/caido")
            for n, chat in enumerate(chats)
        ]
        mark = api.mark()
        pushed = time.monotonic()
        for update in updates:
            api.push(update)
        alerts: dict[int, float] = {}
        # Each reporter's answer: a 👍 on their message, or their name in a "joined" message.
        reporter = {
            (u["message"]["chat"]["id"], u["message"]["message_id"]): u["message"]["from"]
            for u in updates
        }
        # The bot names people by their full name; these reporters have a first name only.
        by_name = {(key[0], who["first_name"]): key for key, who in reporter.items()}
        answered: dict[tuple[int, int], float] = {}
        card_full: dict[int, float] = {}  # chat -> when its card first counted every report
        all_handled = all_answered = float("nan")
        figures["joined messages"] = figures["answered in a joined message"] = 0
        deadline = pushed + 300
        while time.monotonic() < deadline:
            for call in api.calls[mark:]:
                if call.fault is not None:
                    continue
                if call.method == "sendMessage" and "con problemas" in call.text:
                    alerts.setdefault(call.chat_id, call.at - pushed)
                if call.method == "setMessageReaction":
                    answered.setdefault((call.chat_id, call.params["message_id"]), call.at)
                tally = AFFECTED.search(call.text or "")
                if tally and sum(int(n) for n in re.findall(r"\d+", tally.group(1))) >= count:
                    card_full.setdefault(call.chat_id, call.at - pushed)
                if call.method == "sendMessage" and JOINED.search(call.text or ""):
                    for name in named(call.text):
                        key = by_name.get((call.chat_id, name))
                        if key is not None:
                            answered.setdefault(key, call.at)
            if all_handled != all_handled and handled(workdir / "flexus.db") - before >= count:
                all_handled = time.monotonic() - pushed
            if len(answered) >= count - 1 and len(alerts) == 2:
                all_answered = max(answered.values()) - pushed
                joined = [
                    c
                    for c in api.calls[mark:]
                    if c.method == "sendMessage" and JOINED.search(c.text or "")
                ]
                figures["joined messages"] = len(joined)
                figures["answered in a joined message"] = sum(len(named(c.text)) for c in joined)
            if all_handled == all_handled and all_answered == all_answered and len(card_full) == 2:
                break
            time.sleep(0.05)
        figures["alert in both chats (s)"] = max(alerts.values()) if len(alerts) == 2 else -1
        figures[f"all {count} stored and handled (s)"] = all_handled
        figures[f"all {count} answered (s)"] = all_answered
        figures[f"both cards count all {count} (s)"] = (
            max(card_full.values()) if len(card_full) == 2 else float("nan")
        )
        figures["429 answers"] = api.flood_429s
    finally:
        process.terminate()
        process.wait(timeout=30)
        api.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [run(args.reports) for _ in range(args.runs)]
    print(f"{args.reports} simultaneous /caido, strict flood limits, {args.runs} run(s)")
    print_runs(results)


def print_runs(results: list[dict[str, float]]) -> None:
    """Each figure: its median over the runs, then every run's."""
    width = max(len(key) for key in results[0])
    for key in results[0]:
        values = [r[key] for r in results]
        shown = "  ".join(f"{v:7.2f}" for v in values)
        print(f"  {key:{width}} median {statistics.median(values):7.2f}   runs: {shown}")


if __name__ == "__main__":
    sys.exit(main())
