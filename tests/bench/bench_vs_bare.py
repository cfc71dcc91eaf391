"""Benchmark (prints figures, asserts nothing): this bot against a bare python-telegram-bot bot.

    .venv/bin/python -m tests.bench.bench_vs_bare [--runs 3] [--votes 500] [--reports 200]
        [--database-url postgresql+asyncpg://user@host/postgres] [--python VENV/bin/python]

All run as real processes on the same fake Bot API (127.0.0.1, no latency of its own),
alternately, `--runs` times each; this bot's database is created first, as it is on every start
but the very first. The bare bot (tests/bench/bare_bot.py) echoes every message and answers every
button with the library's defaults. The "floor" is that bare bot storing each update in SQLite
before handling it and marking it handled after, two committed transactions with Python's own
`sqlite3` on the loop's thread: the cheapest correct way for a bot that loses no update across a
crash. Beside it, "layer floor": the same two transactions through this bot's database layer
(bot.storage.db, SQLAlchemy Core, no ORM), the floor as measured before, to show the layer's cost.
Ratios are this bot's median over the floor's (the goals: within 2× for a command or a vote,
3× for bursts by people the bot has not seen). Flood limits are lifted for all,
so what is measured is the bots' own work. "Someone known": a press by a person this bot confirmed as a team member in the
last 5 minutes (no getChatMember round trip before the answer). Prints, per measure, the median
over runs for each bot, this bot's ratio to the bare bot and its spread (min–max) over runs, and
the floor's ratio to the bare bot; for the
measures of this bot alone (a later start, `flexus-bot check`), the spread of the figure. Timings
are taken from the moment an update is queued in the fake to the moment the answering call
reaches it. "CPU per …": the CPU time the bot's process used for those updates (user + system,
read from /proc, until the bot is idle again: what follows an answer counts too), steadier than
a latency on a shared machine. The first start computes the holidays (a child process); later starts read them.
`--python`: the interpreter that runs the bots (default: this one). The test environment has
the development tools too, and python-telegram-bot's httpx imports two of them (click and
pygments, about 4.6 MB) when they are there: to measure the bots as `make run` installs them,
give the Python of an environment made from requirements.lock alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.bench.bench_burst import admin_sql, fresh_database
from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, TOKEN, write_protocol
from tests.support.fakebotapi import Call, FakeBotAPI, command_update, press_update, user

ANA = user(101, "Ana", "Gómez")
BOT_PYTHON = [sys.executable]  # what runs the bots (--python)
Measures = dict[str, float]


class Bot:
    def __init__(
        self,
        bare: bool,
        api: FakeBotAPI,
        workdir: Path,
        database_url: str = "",
        *,
        durable: str = "",
    ) -> None:
        # durable: "" (none), "stdlib" (the floor) or "layer" (through bot.storage.db)
        self.bare, self.api, self.workdir, self.durable = bare, api, workdir, durable
        self.database_url = database_url or f"sqlite+aiosqlite:///{workdir / 'flexus.db'}"
        self.process: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}
        # Another way to run this bot (e.g. with its statements counted), and what it needs.
        self.command: list[str] | None = None
        self.extra_env: dict[str, str] = {}

    def start(self) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FLEXUS_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=self.api.url,
            DATABASE_URL=self.database_url,
            TEAM_CHAT_IDS=f"{GROUP_CAJA},{GROUP_ADMIN}",
            FLEXUS_CONFIG=str(write_protocol(self.workdir / "p.toml")),
            LOG_LEVEL="WARNING",
            TELEGRAM_GROUP_MSGS_PER_MINUTE="100000",
            TELEGRAM_MSGS_PER_SECOND="100000",
            PYTHONUNBUFFERED="1",
        )
        if self.durable == "layer":
            env["BARE_DURABLE_URL"] = f"sqlite+aiosqlite:///{self.workdir / 'floor.db'}"
        elif self.durable == "stdlib":
            env["BARE_DURABLE_SQLITE"] = str(self.workdir / "floor.db")
        env.update(self.extra_env)
        self.env = env
        module = "tests.bench.bare_bot" if self.bare else "bot"
        python = BOT_PYTHON[0]
        args = self.command or [python, "-m", module] + ([] if self.bare else ["run"])
        if not self.bare:
            # As on every start but the first: the database is there and up to date.
            create = [python, "-m", "bot", "db", "upgrade", "--create"]
            subprocess.run(create, env=env, check=True, capture_output=True)
        mark = self.api.mark()
        started = time.monotonic()
        log = (self.workdir / "bot.log").open("ab")
        self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        first = self.api.wait_for(lambda c: c.method == "getUpdates", timeout=60, after=mark)
        return first.at - started

    def check_seconds(self) -> float:
        """How long `flexus-bot check` takes (settings, protocol file, database), offline."""
        started = time.monotonic()
        subprocess.run(
            [BOT_PYTHON[0], "-m", "bot", "check"], env=self.env, check=True, capture_output=True
        )
        return time.monotonic() - started

    def rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """CPU the bot's process has used so far (user + system): steadier than a latency on
        a shared machine, and it counts what follows an answer too (card edits, outcomes)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


def answered(api: FakeBotAPI, mark: int, pushed: float, match: Callable[[Call], bool]) -> float:
    call = api.wait_for(match, after=mark, timeout=60)
    return call.at - pushed


def one_after_another(
    api: FakeBotAPI, times: int, make: Callable[[int], dict], match: Callable[[Call], bool]
) -> list[float]:
    spans = []
    for n in range(times):
        mark = api.mark()
        pushed = time.monotonic()
        api.push(make(n))
        spans.append(answered(api, mark, pushed, match))
    return spans


def burst(api: FakeBotAPI, updates: list[dict], method: str, expected: int) -> float:
    mark = api.mark()
    pushed = time.monotonic()
    for update in updates:
        api.push(update)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        calls = [c for c in api.calls[mark:] if c.method == method]
        if len(calls) >= expected:
            return calls[expected - 1].at - pushed
        time.sleep(0.01)
    return float("nan")


def measure(
    bare: bool, votes: int, reports: int, server: str = "", *, durable: str = ""
) -> Measures:
    compile_project()
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    workdir = Path(tempfile.mkdtemp())
    url, drop = fresh_database(server, workdir) if server and not bare else ("", None)
    bot = Bot(bare, api, workdir, url, durable=durable)
    reply = "sendMessage"
    try:
        m: Measures = {"start → polling (s)": bot.start()}
        time.sleep(3.5)  # past the start-up grace of stored timers
        m["memory idle (MB)"] = bot.rss_mb()
        cpu = bot.cpu_seconds()
        soporte = one_after_another(
            api,
            30,
            lambda n: command_update(GROUP_CAJA, ANA, "/soporte"),
            lambda c: c.method == reply and c.chat_id == GROUP_CAJA,
        )
        m["/soporte answered (ms)"] = statistics.median(soporte) * 1000
        api.wait_idle(quiet=0.3)
        m["CPU per /soporte (ms)"] = (bot.cpu_seconds() - cpu) / len(soporte) * 1000
        # /caido → the alert in both team chats (the bare bot: its echo)
        mark, pushed = api.mark(), time.monotonic()
        api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
        chats = [GROUP_CAJA] if bare else [GROUP_CAJA, GROUP_ADMIN]
        m["/caido → alert in every chat (ms)"] = 1000 * max(
            answered(
                api, mark, pushed, lambda c, chat=chat: c.method == reply and c.chat_id == chat
            )
            for chat in chats
        )
        api.wait_idle(quiet=0.5)
        estado = one_after_another(
            api,
            10,
            lambda n: command_update(GROUP_ADMIN, user(102, "Luis"), "/estado"),
            lambda c: c.method == reply and c.chat_id == GROUP_ADMIN,
        )
        m["/estado, incident open (ms)"] = statistics.median(estado) * 1000
        cpu = bot.cpu_seconds()
        presses = one_after_another(
            api,
            50,
            lambda n: press_update(GROUP_ADMIN, 5000, user(3000 + n, f"P{n}"), "v:1:w"),
            lambda c: c.method == "answerCallbackQuery",
        )
        m["vote answered, median (ms)"] = statistics.median(presses) * 1000
        m["vote answered, p90 (ms)"] = statistics.quantiles(presses, n=10)[-1] * 1000
        api.wait_idle(quiet=0.3)
        m["CPU per vote (ms)"] = (bot.cpu_seconds() - cpu) / len(presses) * 1000
        cpu = bot.cpu_seconds()
        # The same people change their vote: the bot knows them (no membership check).
        again = one_after_another(
            api,
            50,
            lambda n: press_update(GROUP_ADMIN, 5000, user(3000 + n, f"P{n}"), "v:1:f"),
            lambda c: c.method == "answerCallbackQuery",
        )
        m["vote by someone known, median (ms)"] = statistics.median(again) * 1000
        m["vote by someone known, p90 (ms)"] = statistics.quantiles(again, n=10)[-1] * 1000
        api.wait_idle(quiet=0.3)
        m["CPU per vote by someone known (ms)"] = (bot.cpu_seconds() - cpu) / len(again) * 1000
        api.wait_idle(quiet=0.5)
        cpu = bot.cpu_seconds()
        m[f"{votes} simultaneous votes, all answered (s)"] = burst(
            api,
            [
                press_update(GROUP_ADMIN, 5000, user(10_000 + n, f"V{n}"), "v:1:f")
                for n in range(votes)
            ],
            "answerCallbackQuery",
            votes,
        )
        api.wait_idle(quiet=1.0, timeout=120)
        m[f"CPU for the {votes} votes (s)"] = bot.cpu_seconds() - cpu
        m[f"memory after {votes} votes (MB)"] = bot.rss_mb()
        method = reply if bare else "setMessageReaction"
        m[f"{reports} simultaneous /caido, all answered (s)"] = burst(
            api,
            [
                command_update(GROUP_CAJA, user(50_000 + n, f"R{n}"), "/caido")
                for n in range(reports)
            ],
            method,
            reports,
        )
        if not bare:
            # The holidays are stored now (the first start computed them), as on every later start.
            bot.stop()
            m["start → polling, a later start (s)"] = bot.start()
            bot.stop()
            m["flexus-bot check (s)"] = bot.check_seconds()
    finally:
        bot.stop()
        api.stop()
        if drop:
            asyncio.run(admin_sql(server, f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))
    return m


def compile_project() -> None:
    """The project's byte-code, as an install writes it (pip compiles what it installs, and
    `make run` the project's own modules): where PYTHONDONTWRITEBYTECODE is set, a fresh clone
    would otherwise compile every module again at each start of either bot."""
    root = Path(__file__).resolve().parents[2]
    folders = ("bot", "handlers", "models", "tests")
    subprocess.run([BOT_PYTHON[0], "-m", "compileall", "-q", *folders], cwd=root, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--votes", type=int, default=500)
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server URL: this bot runs on a new database there (default: SQLite)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the Python that runs the bots, e.g. of a venv made from requirements.lock alone",
    )
    args = parser.parse_args()
    BOT_PYTHON[0] = args.python
    ours: list[Measures] = []
    floor: list[Measures] = []
    layer: list[Measures] = []
    bare: list[Measures] = []
    kinds = (
        ("this bot", False, "", ours),
        ("floor (sqlite3)", True, "stdlib", floor),
        ("layer floor (bot.storage)", True, "layer", layer),
        ("bare", True, "", bare),
    )
    for run in range(args.runs):
        for name, is_bare, durable, into in kinds:
            into.append(
                measure(is_bare, args.votes, args.reports, args.database_url, durable=durable)
            )
            print(f"run {run + 1}: {name} done", flush=True)
    print()
    print(
        f"{'measure':44} {'this bot':>9} {'floor':>9} {'layer':>9} {'bare':>9} "
        f"{'÷ floor':>8}  {'spread':13} {'layer ÷ floor':>13} {'floor ÷ bare':>12}"
    )
    for key in ours[0]:
        a = [m[key] for m in ours]
        if key not in bare[0]:  # this bot only
            print(
                f"{key:44} {statistics.median(a):9.2f} {'—':>9} {'—':>9} {'—':>9} {'—':>8}  "
                f"{min(a):.2f}–{max(a):.2f}"
            )
            continue
        f = [m[key] for m in floor]
        g = [m[key] for m in layer]
        b = [m[key] for m in bare]
        ratios = [x / y for x, y in zip(a, f, strict=True) if y]
        spread = f"{min(ratios):.1f}–{max(ratios):.1f}×" if ratios else "—"
        print(
            f"{key:44} {statistics.median(a):9.2f} {statistics.median(f):9.2f} "
            f"{statistics.median(g):9.2f} {statistics.median(b):9.2f} {_ratio(a, f):7.1f}×  "
            f"{spread:13} {_ratio(g, f):12.1f}× {_ratio(f, b):11.1f}×"
        )


def _ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(a) / statistics.median(b) if statistics.median(b) else float("nan")


if __name__ == "__main__":
    sys.exit(main())
