"""Benchmark (prints figures, asserts nothing): a whole outage broadcast to many team chats,
against a fake Bot API that enforces Telegram's flood limits strictly.

    .venv/bin/python -m tests.bench.bench_broadcast [--chats 50] [--runs 1]

The fake answers 429 beyond 30 state-changing calls in any rolling second, or beyond 20 to one
group in any rolling minute. The bot runs with its default budget. The scenario: /caido in the
first chat (the alert and its pin go to every chat), two votes make it general (the news goes
to every chat), an admin takes the claim, asks every sector to confirm, each chat answers, and
the all-clear goes to every chat (and the closed cards come off the pins). Printed per run: the
requests that change what people see, the most in any rolling second and to one group in any
rolling minute, the 429s, and for each step its requests, how long they took, and that against
the least the 30-a-second limit allows (the share of the ceiling reached), counted until the last
chat had its copy (what the step causes afterwards, chatter such as unpins, waits its turn).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.bot_process import ADMIN_ID, TOKEN
from tests.support.fakebotapi import (
    STATE_CHANGING,
    Call,
    FakeBotAPI,
    busiest,
    command_update,
    press_update,
    user,
)

ADMIN = user(ADMIN_ID, "Admin")
FIRST_CHAT = -1002000000


def chats(count: int) -> list[int]:
    return [FIRST_CHAT - n for n in range(count)]


def start_bot(
    api: FakeBotAPI, workdir: Path, chat_ids: list[int], team: str | None = None
) -> subprocess.Popen[bytes]:
    """The bot on `chat_ids`; `team`: the protocol file's [team] section (default: each chat
    tied to a sector of its own)."""
    if team is None:
        sectors = ", ".join(f'"{c}" = "Sector {n + 1}"' for n, c in enumerate(chat_ids))
        names = ", ".join(f'"Sector {n + 1}"' for n in range(len(chat_ids)))
        team = f"sectors = [{names}]\nchat_sectors = {{ {sectors} }}\n"
    protocol = workdir / "protocol.toml"
    protocol.write_text(f"[team]\n{team}", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FLEXUS_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.url,
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'flexus.db'}",
        TEAM_CHAT_IDS=",".join(str(c) for c in chat_ids),
        ADMIN_USER_IDS=str(ADMIN_ID),
        FLEXUS_CONFIG=str(protocol),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    log = (workdir / "bot.log").open("ab")
    mark = api.mark()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    api.wait_for(lambda c: c.method == "getUpdates", after=mark, timeout=60)
    return process


def in_every_chat(api: FakeBotAPI, chat_ids: list[int], fragment: str, after: int) -> dict:
    """The first message containing `fragment` delivered to each chat (waits for all)."""
    found: dict[int, Call] = {}
    deadline = time.monotonic() + 600
    while len(found) < len(chat_ids) and time.monotonic() < deadline:
        for call in api.calls[after:]:
            if (
                call.method == "sendMessage"
                and call.fault is None
                and call.chat_id in chat_ids
                and call.chat_id not in found
                and fragment in call.text
            ):
                found[call.chat_id] = call
        time.sleep(0.05)
    return found


def run(count: int) -> dict[str, float]:
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    api.enforce_flood_limits(per_second=30, group_per_minute=20)
    ids = chats(count)
    process = start_bot(api, Path(tempfile.mkdtemp()), ids)
    people = {chat: user(20_000 + n, f"P{n}") for n, chat in enumerate(ids)}
    phases: list[tuple[str, int, float]] = []  # (what, first call, when the last copy arrived)

    def phase(what: str, mark: int, copies: dict[int, Call]) -> None:
        phases.append((what, mark, max(c.at for c in copies.values())))
        api.wait_idle(quiet=2.0, timeout=600)  # and the rest it caused (pins, edits, unpins)

    try:
        time.sleep(3.5)  # past the start-up grace of stored timers
        mark = api.mark()
        api.push(command_update(ids[0], people[ids[0]], "/caido no factura"))
        alerts = in_every_chat(api, ids, "con problemas", mark)
        phase("alert", mark, alerts)
        card = alerts[ids[1]].result["message_id"]
        mark = api.mark()
        api.push(press_update(ids[1], card, people[ids[1]], "v:1:f"))
        api.push(press_update(ids[2], alerts[ids[2]].result["message_id"], people[ids[2]], "v:1:f"))
        phase("general failure", mark, in_every_chat(api, ids, "Falla general de FLEXUS", mark))
        mark = api.mark()
        api.push(press_update(ids[1], card, ADMIN, "y:1"))
        api.push(press_update(ids[1], card, ADMIN, "va:1"))
        requests = in_every_chat(api, ids, "¿FLEXUS funciona en tu sector?", mark)
        phase("claim, then the validation request", mark, requests)
        mark = api.mark()
        for chat, call in requests.items():
            answer = next(d for _, d in call.buttons if d.endswith(":y"))
            api.push(press_update(chat, call.result["message_id"], people[chat], answer))
        in_every_chat(api, [ids[1]], "Todos los sectores respondieron", mark)  # (the panel)
        api.wait_idle(quiet=2.0, timeout=600)
        api.push(command_update(ids[1], ADMIN, "/resuelto"))
        question = api.wait_for(
            lambda c: c.method == "sendMessage" and "reiniciar sesión" in c.text,
            after=mark,
            timeout=120,  # it may wait for the group's minute
        )
        mark = api.mark()
        api.push(press_update(ids[1], question.result["message_id"], ADMIN, "rs:1:n"))
        phase("all-clear", mark, in_every_chat(api, ids, "FLEXUS nuevamente operativo", mark))
    finally:
        process.terminate()
        process.wait(timeout=30)
        api.stop()
    visible = [c for c in api.calls if c.method in STATE_CHANGING]
    times = sorted(c.at for c in visible)
    per_group: dict[int, list[float]] = {}
    for c in visible:
        if isinstance(c.chat_id, int) and c.chat_id < 0:
            per_group.setdefault(c.chat_id, []).append(c.at)
    figures: dict[str, float] = {
        "requests that change what people see": len(visible),
        "429 answers": api.flood_429s,
        "most in any rolling second": busiest(times, 1.0),
        "most to one group in any rolling minute": max(
            busiest(sorted(t), 60.0) for t in per_group.values()
        ),
        "pins + unpins": len([c for c in visible if "pin" in c.method.lower()]),
    }
    for what, start, done in phases:
        # Every request from the step to the moment the last chat had its copy: they all
        # share the ceiling. Under 30 a rolling second, starting with an empty window,
        # request n can go at second n // 30 at the soonest: the last one at (N - 1) // 30.
        span = [c.at for c in api.calls[start:] if c.method in STATE_CHANGING and c.at <= done]
        seconds = span[-1] - span[0]
        least = (len(span) - 1) // 30
        figures[f"{what}: requests until every chat had it"] = len(span)
        figures[f"{what}: seconds"] = seconds
        figures[f"{what}: least possible (s)"] = least
        figures[f"{what}: share of the ceiling (%)"] = 100 * least / seconds if least else 100.0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    results = [run(args.chats) for _ in range(args.runs)]
    print(f"broadcast to {args.chats} team chats, strict flood limits, {args.runs} run(s)")
    for key in results[0]:
        values = [r.get(key, float("nan")) for r in results]
        print(f"  {key:52} " + "  ".join(f"{v:8.1f}" for v in values))


if __name__ == "__main__":
    sys.exit(main())
