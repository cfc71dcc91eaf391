"""Benchmark (prints figures, asserts nothing): does the person who acted hear back at once in a
busy minute? Telegram's flood limits are enforced strictly by the fake (30 a second, 20 a
minute per group); the bot runs with its default budget.

    .venv/bin/python -m tests.bench.bench_answers [--voters 30] [--runs 3]

Two team chats (Caja, Administración). Each run plays two busy moments, in two bot processes:

1. The skip question. Ana reports; `--voters` people press «A mí también me falla» spread over
   `--spread` seconds (the card is edited in both groups all along, the general failure goes to
   both); meanwhile Luis, step after step as a person does it (each press 2 s after the
   previous one was answered): takes the case, records the call to support, starts the
   validation and presses «Seguir sin los que faltan». Printed: from that last press to the
   question «¿Por qué seguimos sin …?» in his group, and how many messages, edits and pins the
   group had taken in the minute before it.
2. The local checklist. Ana reports with a 30-second confirmation deadline; `--voters` people
   say «A mí me funciona» in the meantime. Printed: from the stored deadline to the
   checklist in both groups.

Also printed: the 429 answers (none means the budget kept Telegram's limits).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from tests.bench.bench_broadcast import start_bot
from tests.bench.bench_reports import print_runs
from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, TOKEN
from tests.support.fakebotapi import Call, FakeBotAPI, busiest, command_update, press_update, user

CHATS = [GROUP_CAJA, GROUP_ADMIN]
TEAM = (
    'sectors = ["Caja", "Administración"]\n'
    f'chat_sectors = {{ "{GROUP_CAJA}" = "Caja", "{GROUP_ADMIN}" = "Administración" }}\n'
)
ANA, LUIS = user(101, "Ana"), user(102, "Luis")


def fake() -> FakeBotAPI:
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    api.enforce_flood_limits(per_second=30, group_per_minute=20, reactions_per_group=False)
    return api


def delivered(api: FakeBotAPI, chat: int, fragment: str, after: int, timeout: float = 180) -> Call:
    return api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat
            and fragment in c.text
            and c.result is not None
        ),
        after=after,
        timeout=timeout,
    )


def cards(api: FakeBotAPI, after: int) -> dict[int, int]:
    return {
        chat: delivered(api, chat, "con problemas", after).result["message_id"] for chat in CHATS
    }


def press(api: FakeBotAPI, chat: int, card: int, who: dict, data: str) -> None:
    """A person presses and waits for the toast, as people do, before the next press."""
    mark = api.mark()
    api.push(press_update(chat, card, who, data))
    api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark, timeout=120)


def vote_burst(
    api: FakeBotAPI, cards_: dict[int, int], voters: int, choice: str, spread: float = 0.0
) -> threading.Thread:
    """`voters` presses on the cards, all at once or evenly over `spread` seconds."""

    def vote() -> None:
        for n in range(voters):
            chat = CHATS[n % 2]
            api.push(press_update(chat, cards_[chat], user(80_000 + n, f"V{n}"), f"v:1:{choice}"))
            time.sleep(spread / voters)

    thread = threading.Thread(target=vote, daemon=True)
    thread.start()
    return thread


POSTS = ("sendMessage", "editMessageText", "pinChatMessage", "unpinChatMessage")


def posts(api: FakeBotAPI, chat: int) -> list[float]:
    """When the group took a message, an edit or a pin (what its 20 a minute counts)."""
    return sorted(
        c.at for c in api.calls if c.chat_id == chat and c.method in POSTS and c.result is not None
    )


def in_group_minute(api: FakeBotAPI, chat: int, before: float) -> int:
    """Messages, edits and pins the group took in the minute before `before`."""
    return len([at for at in posts(api, chat) if before - 60 <= at <= before])


def skip_question(voters: int, spread: float) -> dict[str, float]:
    api = fake()
    workdir = Path(tempfile.mkdtemp())
    process = start_bot(api, workdir, CHATS, team=TEAM)
    try:
        time.sleep(3.5)  # past the start-up grace of stored timers
        mark = api.mark()
        api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
        found = cards(api, mark)
        voting = vote_burst(api, found, voters, "f", spread)
        delivered(api, GROUP_ADMIN, "Falla general", mark)
        card = found[GROUP_ADMIN]
        for data in ("y:1", "sc:1", "va:1"):
            press(api, GROUP_ADMIN, card, LUIS, data)
            time.sleep(2.0)  # reading the answer
        mark = api.mark()
        pressed = time.monotonic()
        api.push(press_update(GROUP_ADMIN, card, LUIS, "vo:1"))
        question = delivered(api, GROUP_ADMIN, "qué seguimos sin", mark)
        voting.join()
        return {
            "skip question after the press (s)": question.at - pressed,
            "group's posts in the minute before it": in_group_minute(api, GROUP_ADMIN, question.at),
            "most posts to one group in a minute": max(
                busiest(posts(api, chat), 60.0) for chat in CHATS
            ),
            "429 answers (skip question)": api.flood_429s,
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
        api.stop()


def checklist(voters: int) -> dict[str, float]:
    api = fake()
    workdir = Path(tempfile.mkdtemp())
    process = start_bot(
        api, workdir, CHATS, team=TEAM + "[deadlines]\nconfirmation_minutes = 0.5\n"
    )
    try:
        time.sleep(3.5)
        wall_minus_monotonic = time.time() - time.monotonic()
        mark = api.mark()
        api.push(command_update(GROUP_CAJA, ANA, "/caido"))
        found = cards(api, mark)
        vote_burst(api, found, voters, "w")
        with sqlite3.connect(workdir / "flexus.db") as db:
            (due,) = db.execute("SELECT due_at FROM timers WHERE kind = 'confirmation'").fetchone()
        deadline = datetime.fromisoformat(due + "+00:00").timestamp() - wall_minus_monotonic
        arrived = [
            delivered(api, chat, "a los demás FLEXUS les funciona", mark).at for chat in CHATS
        ]
        return {
            "local checklist after its deadline, both groups (s)": max(arrived) - deadline,
            "429 answers (checklist)": api.flood_429s,
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
        api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voters", type=int, default=30)
    parser.add_argument("--spread", type=float, default=20.0, help="seconds the votes take")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [
        skip_question(args.voters, args.spread) | checklist(args.voters) for _ in range(args.runs)
    ]
    print(
        f"answers in a busy minute, {args.voters} voters, strict flood limits, {args.runs} run(s)"
    )
    print_runs(results)


if __name__ == "__main__":
    sys.exit(main())
