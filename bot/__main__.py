"""`python -m bot` and the installed `flexus-bot` start here."""

import gc
import sys


def main() -> int:
    # Importing SQLAlchemy, pydantic, python-telegram-bot and the bot creates some 190 000
    # objects the collector tracks, and no garbage; its full passes over them while they are
    # created were about a sixth of the start. They live as long as the process, so they are frozen:
    # no later pass of the collector walks them again (a burst of votes runs its passes over
    # what the burst made, not over the libraries).
    gc.disable()
    try:
        from bot.cli import main as cli_main

        if sys.argv[1:2] == ["run"]:
            # What `run` imports later (python-telegram-bot, the handlers), frozen with the
            # rest: objects made after the freeze are the ones the collector's full passes
            # count, and left out they made those passes frequent and slow while the first
            # report compiled its statements.
            import bot.serve  # noqa: F401
    finally:
        gc.freeze()
        gc.enable()
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
