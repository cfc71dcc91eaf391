"""Chaos run (prints figures, asserts nothing): kill -9 at every call that changes what people see.

    .venv/bin/python -m tests.bench.chaos_kill [--max-points N] [--from K]

First a clean run of the whole protocol counts N, the state-changing calls the bot makes
(sendMessage, editMessageText, pins, reactions ...). Then, for every kill point k = 1..N, the
protocol runs again and the fake Bot API kills the bot (SIGKILL) the moment the k-th such call
arrives (odd k: Telegram processes it; even k: it is lost with the process), the bot is started
again with its clock moved on, and the protocol goes on. Prints one line per kill point:
reports, votes (and validation answers and acknowledgements) and timers lost, critical messages
(alert, general failure, all-clear, summary) missing per team chat, duplicates seen by the fake
and reported by the bot; then the summary line. About 5 s per kill point; --max-points bounds it.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.support.reliability import (
    EXPECTED_ACKS,
    EXPECTED_REPORTS,
    EXPECTED_VALIDATION,
    EXPECTED_VOTES,
    TEAM,
    run_protocol,
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--max-points", type=int, default=0, help="0 = every call of a clean run")
    parser.add_argument("--from", dest="first", type=int, default=1, help="first kill point")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for one step (s)")
    args = parser.parse_args()
    started = time.monotonic()
    clean = run_protocol(timeout=args.timeout)
    n = clean.view.calls
    print(
        f"clean run: {n} state-changing calls, completed {'yes' if clean.completed else 'NO'}, "
        f"{clean.wall:.1f} s"
    )
    last = n if not args.max_points else min(n, args.first + args.max_points - 1)
    print(
        f"\n{'k':>3}  {'killed at':<62} {'rep':>3} {'vote':>4} {'ans':>3} {'tmr':>3}  "
        f"{'missing critical':<24} {'dup seen/rep':>12}  {'s':>4}"
    )
    totals = {"points": 0, "reports": 0, "votes": 0, "answers": 0, "timers": 0, "missing": 0}
    seen_dups = reported = incomplete = 0
    for k in range(args.first, last + 1):
        result = run_protocol(kill_at=k, timeout=args.timeout)
        state, view = result.state, result.view
        lost_reports = state.lost_reports(EXPECTED_REPORTS)
        lost_votes = state.lost_votes(EXPECTED_VOTES)
        lost_answers = len(EXPECTED_VALIDATION - state.validation) + len(EXPECTED_ACKS - state.acks)
        lost_timers = len(result.overdue)
        missing = view.missing_critical
        where = ", ".join(f"{kind}@{chat}" for kind, chat in missing) or "—"
        extra = sum(view.extra_copies.values())
        killed = result.killed or "(the run made fewer calls)"
        line = (
            f"{k:>3}  {killed[:62]:<62} {lost_reports:>3} {lost_votes:>4} {lost_answers:>3} "
            f"{lost_timers:>3}  {where[:24]:<24} {f'{extra}/{result.reported}':>12}  "
            f"{result.wall:>4.1f}"
        )
        if not result.completed:
            line += f"  NOT COMPLETED: stuck waiting for {result.stuck_at} (see {result.workdir})"
            incomplete += 1
        if state.inbox["skipped"]:
            line += f"  ({state.inbox['skipped']} updates skipped: their handler failed)"
        if not result.alive:
            line += "  (the process was not running at the end)"
        print(line, flush=True)
        totals["points"] += 1
        totals["reports"] += lost_reports
        totals["votes"] += lost_votes
        totals["answers"] += lost_answers
        totals["timers"] += lost_timers
        totals["missing"] += len(missing)
        seen_dups += extra
        reported += result.reported
    print(
        f"\nkill points: {totals['points']}, lost reports {totals['reports']}, lost votes "
        f"{totals['votes']}, lost timers {totals['timers']}, missing critical "
        f"{totals['missing']}, duplicates {seen_dups}"
    )
    print(
        f"(also: lost validation answers/acknowledgements {totals['answers']}, runs not "
        f"completed {incomplete}, possible duplicates reported by the bot {reported}, team "
        f"chats {len(TEAM)}, {time.monotonic() - started:.0f} s in all)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
