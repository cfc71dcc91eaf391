"""The README's commands work as written on a machine set up by `make run`."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_the_command_line_is_never_shown_bare() -> None:
    """`flexus-bot` is not on the PATH after `make run`: every command shows where it is."""
    text = README.read_text(encoding="utf-8")
    bare = [
        line
        for line in text.splitlines()
        if re.search(r"(?<![\w/.-])flexus-bot (?:run|check|db|chats|admins|audit|export)", line)
        and "PATH" not in line
    ]
    assert bare == []
