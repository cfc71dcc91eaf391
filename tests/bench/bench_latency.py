"""Benchmark (prints figures, asserts nothing): how fast the team hears about an outage.

    .venv/bin/python -m tests.bench.bench_latency [--reports 50] [--database-url URL]

1. Services: N people type /caido at the same moment → time until all are recorded.
2. The real process against the fake Bot API: /caido → alert in every team chat, and a vote
   press → its answer, measured as the people in the group would wait for them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.core.config import load_protocol
from bot.protocol.incidents import open_or_join_incident
from bot.storage.db import make_engine, upgrade_database
from bot.team.members import Person
from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, TOKEN, BotProcess, write_protocol
from tests.support.fakebotapi import FakeBotAPI, command_update, press_update, user
from tests.support.sessions import committing_sessions


async def simultaneous_reports(url: str, count: int) -> float:
    engine = make_engine(url)
    sessions = committing_sessions(engine)
    protocol = load_protocol()
    from datetime import UTC, datetime

    async def one(n: int) -> None:
        async with sessions() as session:
            await open_or_join_incident(
                session,
                person=Person(n, f"Persona {n}"),
                chat_id=-1,
                chat_sector="Caja",
                message_id=n,
                text="no anda",
                photo_file_id=None,
                now=datetime.now(UTC),
                protocol=protocol,
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(1, count + 1)))
    elapsed = time.perf_counter() - start
    await engine.dispose()
    return elapsed


def process_latency(voters: int) -> tuple[float, list[float], float]:
    """One incident on a bad day: the report, then `voters` people pressing within seconds.

    Uses Telegram's real flood limits (20 messages a minute per group), which is what makes
    a busy incident slow: returns (report → alert, each press → its answer, last press → the
    card showing every vote).
    """
    workdir = Path(tempfile.mkdtemp())
    api = FakeBotAPI(TOKEN).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FLEXUS_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.url,
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'flexus.db'}",
        TEAM_CHAT_IDS=f"{GROUP_CAJA},{GROUP_ADMIN}",
        FLEXUS_CONFIG=str(write_protocol(workdir / "p.toml")),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    bot = BotProcess(api=api, workdir=workdir, env=env)
    try:
        bot.start()
        start = time.perf_counter()
        api.push(command_update(GROUP_CAJA, user(1000, "Ana"), "/caido no factura"))
        card = api.wait_for(
            lambda c: (
                c.method == "sendMessage" and c.chat_id == GROUP_ADMIN and "con problemas" in c.text
            )
        )
        alert = time.perf_counter() - start
        answers = []
        for n in range(voters):
            mark = api.mark()
            start = time.perf_counter()
            choice = "w" if n % 3 else "f"
            api.push(
                press_update(
                    GROUP_ADMIN, card.result["message_id"], user(2000 + n, f"P{n}"), f"v:1:{choice}"
                )
            )
            api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
            answers.append(time.perf_counter() - start)
        last = time.perf_counter()
        expected = f"Les funciona: Administración {sum(1 for n in range(voters) if n % 3)}"
        api.wait_for(
            lambda c: (
                c.method == "editMessageText" and c.chat_id == GROUP_CAJA and expected in c.text
            ),
            timeout=120,
        )
        settled = time.perf_counter() - last
    finally:
        if bot.process is not None:
            bot.stop()
        api.stop()
    return alert, answers, settled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=50)
    parser.add_argument("--voters", type=int, default=15)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url
    if not url:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    upgrade_database(url)
    elapsed = asyncio.run(simultaneous_reports(url, args.reports))
    print(
        f"{args.reports} simultaneous /caido on {url.split(':')[0]}: {elapsed * 1000:.0f} ms "
        f"({elapsed * 1000 / args.reports:.1f} ms each)"
    )
    alert, answers, settled = process_latency(args.voters)
    print(f"/caido → alert in every chat: {alert * 1000:.0f} ms")
    print(
        f"{args.voters} votes, one after another → each answered in: median "
        f"{statistics.median(answers) * 1000:.0f} ms, max {max(answers) * 1000:.0f} ms"
    )
    print(f"last vote → card showing every vote (Telegram's flood limits apply): {settled:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
