"""What the bot loads to start: the chart library only when the first chart is made."""

from __future__ import annotations

import os
import subprocess
import sys


def test_the_bot_starts_without_loading_matplotlib() -> None:
    code = "import sys, bot.app, bot.serve, bot.cli; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_the_bot_loads_the_certificates_once_for_both_telegram_clients(tmp_path) -> None:
    """Loading the CA certificates costs some 30 ms of CPU each time: the client that polls and
    the client that sends share one TLS context, and a bot without HEARTBEAT_URL makes none for
    the heartbeat."""
    code = f"""
import asyncio, ssl
loads = []
real = ssl.SSLContext.load_verify_locations
def counted(self, *args, **kwargs):
    loads.append(args or kwargs)
    return real(self, *args, **kwargs)
ssl.SSLContext.load_verify_locations = counted
from bot.app import build_application
from bot.core.config import load_config
from bot.ops.heartbeat import Heartbeat
config = load_config(
    telegram_bot_token="123456:" + "a" * 35,
    database_url="sqlite:///{tmp_path}/flexus.db",
    _env_file=None,
)
app = build_application(config)
pools = [request._client._transport._pool for request in (app.bot.request, app.bot._request[0])]
print(len(loads), pools[0]._ssl_context is pools[1]._ssl_context)
async def beats():
    runtime = app.bot_data["runtime"]
    runtime.config.settings.heartbeat_interval_seconds = 3600
    task = asyncio.create_task(Heartbeat(runtime, polling=True).run())
    await asyncio.sleep(0.05)
    task.cancel()
asyncio.run(beats())
print(len(loads))
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "FLEXUS_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True", "1"]
