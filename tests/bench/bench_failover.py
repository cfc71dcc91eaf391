"""Takeover times of a standby copy on PostgreSQL: two real processes on one database and the
fake Bot API. Prints figures; asserts nothing.

Each run: copy a active, copy b standing by; a burst of 30 reports and 300 votes; the active
copy is killed (kill -9) or frozen (SIGSTOP, then SIGCONT after --stop-seconds) while the votes
are being answered; b takes over. Printed per run: seconds from the kill to b's first poll of
Telegram, to b's first message; whether every report and vote was counted once; messages seen
twice (and how many of them the bot reported as possible duplicates); calls the frozen copy made
after waking.

    TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m tests.bench.bench_failover                  # 5 kills, 1 freeze of 30 s
    ... bench_failover --runs 3 --freezes 0 --lease 5

(`source .ci/postgres.sh && start_test_postgres` starts a throw-away server and sets the URL.)
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import POSTGRES_URL, drop_postgres_database, fresh_postgres_database
from tests.support.copies import NOW_ACTIVE, Pair
from tests.support.reliability import (
    KillSwitchAPI,
    burst,
    expected_burst,
    seen,
    settled,
    unreported_duplicates,
    wait_stored,
)


def one_run(lease: float, freeze: float | None) -> dict[str, float | int | bool]:
    api = KillSwitchAPI()
    api.start()
    url, name = fresh_postgres_database()
    pair = Pair(api, url, Path(tempfile.mkdtemp(prefix="flexus-failover-")), lease_seconds=lease)
    try:
        a = pair.start_active("a")
        pair.start_standby("b")
        mark = api.mark()
        burst(api, 300)
        api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
        assert a.bot.process is not None
        pid = a.bot.process.pid
        after = api.mark()
        gone = time.monotonic()
        if freeze is None:
            a.bot.kill()
        else:
            os.kill(pid, signal.SIGSTOP)
        polled = pair.polls("b", after=after, timeout=lease * 3 + 30) - gone
        pair.copy("b").wait_log(NOW_ACTIVE)
        first_send = api.wait_for(
            lambda c: c.method != "getUpdates" and c.via == "b", after=after, timeout=60
        )
        reporters, votes = expected_burst(30, 300)
        state = wait_stored(url, lambda s: len(s.votes) == 330 and settled(pair.now)(s), 120)
        late_calls = 0
        if freeze is not None:
            time.sleep(max(0.0, freeze - (time.monotonic() - gone)))
            woke = api.mark()
            os.kill(pid, signal.SIGCONT)
            a.wait_log("stands by again", timeout=60)
            api.settled()
            late_calls = len([c for c in api.calls[woke:] if c.via == "a"])
        view = seen(api, state)
        return {
            "poll": polled,
            "send": first_send.at - gone,
            "counted": sorted(state.reports) == sorted(reporters) and state.votes == votes,
            "twice": sum(view.extra_copies.values()),
            "unreported": len(unreported_duplicates(view, state)),
            "late_calls": late_calls,
        }
    finally:
        pair.stop_all()
        api.stop()
        drop_postgres_database(name)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="kill -9 runs")
    parser.add_argument("--freezes", type=int, default=1, help="SIGSTOP runs")
    parser.add_argument("--stop-seconds", type=float, default=30.0)
    parser.add_argument("--lease", type=float, default=10.0, help="LEASE_SECONDS")
    args = parser.parse_args()
    if not POSTGRES_URL:
        sys.exit("set TEST_POSTGRES_URL to a PostgreSQL server (see this script's help)")
    for label, count, freeze in (
        ("kill -9", args.runs, None),
        (f"SIGSTOP {args.stop_seconds:.0f} s", args.freezes, args.stop_seconds),
    ):
        if not count:
            continue
        results = []
        for n in range(count):
            result = one_run(args.lease, freeze)
            results.append(result)
            print(
                f"{label} run {n + 1}: b polled {result['poll']:.1f} s and sent "
                f"{result['send']:.1f} s after; every report and vote counted once: "
                f"{result['counted']}; seen twice {result['twice']} "
                f"(unreported {result['unreported']}); calls of the old copy after waking: "
                f"{result['late_calls']}",
                flush=True,
            )
        polls = [float(r["poll"]) for r in results]
        sends = [float(r["send"]) for r in results]
        print(
            f"{label}, lease {args.lease:.0f} s, {count} runs: takeover (first poll) median "
            f"{statistics.median(polls):.1f} s, worst {max(polls):.1f} s; first message median "
            f"{statistics.median(sends):.1f} s, worst {max(sends):.1f} s; "
            f"messages seen twice {sum(int(r['twice']) for r in results)} "
            f"(unreported {sum(int(r['unreported']) for r in results)}); "
            f"all counted once in {sum(bool(r['counted']) for r in results)} of {count}; "
            f"calls after waking {sum(int(r['late_calls']) for r in results)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
