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
    finally:
        gc.freeze()
        gc.enable()
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
