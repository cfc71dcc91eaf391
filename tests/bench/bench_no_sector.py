"""Benchmark (prints figures, asserts nothing): the first outage after installing, when nobody
has picked a sector yet. Telegram's flood limits are enforced strictly by the fake; the bot runs
with its default budget.

    .venv/bin/python -m tests.bench.bench_no_sector [--votes 100] [--runs 3]

Two team chats tied to no sector. Someone reports; then `--votes` people, none of them with a
sector, press «A mí también me falla» on the alert at the same moment, half in each chat.
Printed per run, from the moment the presses are queued in the fake: when every press was
answered, when every voter had been named in a question; and, from the report on (the reporter
has no sector either), how many sector questions each group got, the most in one minute in one
group, and the 429s.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.bench_broadcast import start_bot
from tests.bench.bench_reports import print_runs
from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, TOKEN
from tests.support.fakebotapi import FakeBotAPI, busiest, command_update, press_update, user

CHATS = [GROUP_CAJA, GROUP_ADMIN]
QUESTION = "¿de qué sector"
TEAM = 'sectors = ["Caja", "Ventas", "Administración"]\n'  # no chat tied to a sector


def run(votes: int) -> dict[str, float]:
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    api.enforce_flood_limits(per_second=30, group_per_minute=20, reactions_per_group=False)
    workdir = Path(tempfile.mkdtemp())
    process = start_bot(api, workdir, CHATS, team=TEAM)
    figures: dict[str, float] = {}
    try:
        time.sleep(3.5)  # past the start-up grace of stored timers
        first = api.mark()  # questions are counted from here: the reporter has no sector either
        api.push(command_update(GROUP_CAJA, user(101, "Ana"), "/caido no factura"))
        cards = {}
        for chat in CHATS:
            call = api.wait_for(
                lambda c, chat=chat: (
                    c.method == "sendMessage"
                    and c.chat_id == chat
                    and "con problemas" in c.text
                    and c.result is not None
                ),
                after=first,
                timeout=30,
            )
            cards[chat] = call.result["message_id"]
        api.wait_idle(quiet=1.0, timeout=120)
        voters = {n: (CHATS[n % 2], 70_000 + n) for n in range(votes)}
        mark = api.mark()
        pushed = time.monotonic()
        for n, (chat, person) in voters.items():
            api.push(press_update(chat, cards[chat], user(person, f"V{n}"), "v:1:f"))
        answered = named_all = float("nan")
        deadline = pushed + 300
        while time.monotonic() < deadline:
            calls = [c for c in api.calls[first:] if c.fault is None]
            answers = [
                c for c in api.calls[mark:] if c.fault is None and c.method == "answerCallbackQuery"
            ]
            if answered != answered and len(answers) >= votes:
                answered = answers[votes - 1].at - pushed
            questions = [c for c in calls if c.method == "sendMessage" and QUESTION in c.text]
            named = {int(i) for c in questions for i in re.findall(r"tg://user\?id=(\d+)", c.text)}
            if named_all != named_all and all(p in named for _, p in voters.values()):
                named_all = max(c.at for c in questions) - pushed
            if answered == answered and named_all == named_all:
                break
            time.sleep(0.05)
        figures[f"all {votes} presses answered (s)"] = answered
        figures["every voter named in a question (s)"] = named_all
        for chat in CHATS:
            figures[f"sector questions in chat {chat}"] = len(
                [c for c in questions if c.chat_id == chat]
            )
        figures["most questions in one group in a minute"] = max(
            busiest(sorted(c.at for c in questions if c.chat_id == chat), 60.0) for chat in CHATS
        )
        figures["429 answers"] = api.flood_429s
    finally:
        process.terminate()
        process.wait(timeout=30)
        api.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--votes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [run(args.votes) for _ in range(args.runs)]
    print(
        f"{args.votes} presses by people without a sector, strict flood limits, {args.runs} run(s)"
    )
    print_runs(results)


if __name__ == "__main__":
    sys.exit(main())
