"""Benchmark (prints figures, asserts nothing): the whole protocol on a bad day at Telegram.

    .venv/bin/python -m tests.bench.bench_faults [--share 0.2] [--runs 3] [--seed N]
        [--kinds 429,500,502,timeout,403,drop] [--timeout 150]

Each run starts the real process against the fake Bot API, makes a seeded `--share` of the
calls that change what people see fail (429, 500, 502, answered too late for the bot's 1 s
timeout, 403, connection dropped), and plays the whole protocol (report, confirmation, general
failure, claim, support contacted, server access through Gerencia, validation, all-clear,
acknowledgements, summary) as the team would. Per run it prints whether it completed, how many
of the 2 team chats got each critical message, the calls the bot made, the faults injected by
kind, duplicates seen by the fake against those the bot reported, and the wall time.

A 403 on a team chat makes the bot retry that chat's messages only after 30 s (then 60 s...):
runs with 403 in --kinds take minutes; --timeout bounds each step's wait (a run that stalls
longer is reported as not completed, with the message it waited for).
"""

from __future__ import annotations

import argparse
import sys

from tests.support.fakebotapi import FAULT_KINDS
from tests.support.reliability import CRITICAL, TEAM, run_protocol


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--share", type=float, default=0.2, help="share of calls that fail")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1, help="run i uses seed + i")
    parser.add_argument("--kinds", default=",".join(FAULT_KINDS), help="fault kinds to draw from")
    parser.add_argument(
        "--timeout", type=float, default=150.0, help="longest wait for one step (s)"
    )
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    print(f"share {args.share:.0%} of state-changing calls fail, kinds: {', '.join(kinds)}")
    totals = {"completed": 0, "extra": 0, "reported": 0, "missing": 0}
    for i in range(args.runs):
        seed = args.seed + i
        result = run_protocol(share=args.share, kinds=kinds, seed=seed, timeout=args.timeout)
        view = result.view
        print(
            f"\nrun {i + 1} (seed {seed}): completed {'yes' if result.completed else 'NO'}", end=""
        )
        print(
            f" (stuck waiting for {result.stuck_at}; see {result.workdir})"
            if result.stuck_at
            else ""
        )
        for kind in CRITICAL:
            per_chat = view.critical[kind]
            got = sum(1 for chat in TEAM if per_chat[chat] > 0)
            copies = ", ".join(str(per_chat[chat]) for chat in TEAM)
            print(
                f"  {kind:<9} delivered to {got} of {len(TEAM)} chats (copies per chat: {copies})"
            )
        faults = ", ".join(f"{k} {n}" for k, n in sorted(view.faults.items())) or "none"
        print(
            f"  calls made: {view.calls}; faults injected: {sum(view.faults.values())} ({faults})"
        )
        extra = sum(view.extra_copies.values())
        print(
            f"  duplicates: seen by the fake {extra} extra copies of {len(view.extra_copies)} "
            f"messages (raw duplicate_sends {view.duplicate_sends}); reported by the bot "
            f"{result.reported}"
        )
        print(
            f"  process alive at the end: {'yes' if result.alive else 'NO'}; "
            f"updates {dict(result.state.inbox)}; wall time {result.wall:.1f} s"
        )
        totals["completed"] += result.completed
        totals["extra"] += extra
        totals["reported"] += result.reported
        totals["missing"] += len(view.missing_critical)
    print(
        f"\nruns: {args.runs}, completed {totals['completed']}, missing critical "
        f"{totals['missing']}, duplicates seen {totals['extra']}, reported {totals['reported']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
