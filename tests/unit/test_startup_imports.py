"""What the bot loads to start: the chart library only when the first chart is made."""

from __future__ import annotations

import subprocess
import sys


def test_the_bot_starts_without_loading_matplotlib() -> None:
    code = "import sys, bot.app, bot.serve, bot.cli; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
