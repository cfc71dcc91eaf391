"""Benchmark (prints figures, asserts nothing): how loud one outage is in each group.

    .venv/bin/python -m tests.bench.bench_noise

Plays `tests/support/outage.py` (a typical general failure, report to summary, two groups) against
the fake Bot API and prints, for each group, the new messages it got (pins counted: Telegram
posts one in the chat) and the card edits, then the first line of each message, and the
coordinator's taps from taking the case to the all-clear.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, TOKEN, BotProcess, bot_env
from tests.support.fakebotapi import FakeBotAPI
from tests.support.outage import CHATS, NOW, PROTOCOL, Outage, noise

NAMES = {GROUP_CAJA: "Caja", GROUP_ADMIN: "Administración"}


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    workdir = Path(tempfile.mkdtemp())
    bot = BotProcess(api=api, workdir=workdir, env=bot_env(api, workdir, PROTOCOL))
    try:
        bot.start(FLEXUS_NOW=NOW)
        outage = Outage(api)
        outage.play()
        for chat in CHATS:
            found = noise(api, chat)
            print(
                f"{NAMES[chat]}: {found.new} new ({len(found.messages)} messages, "
                f"{found.pins} pins), {found.edits} edits"
            )
            for line in found.messages:
                print(f"    {line}")
        print(
            f"coordinator's taps, claim to all-clear: {outage.taps} ({outage.typed} of them typed)"
        )
    finally:
        bot.kill()
        api.stop()


if __name__ == "__main__":
    sys.exit(main())
