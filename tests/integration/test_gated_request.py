"""Bot API calls beyond the connection pool wait in the bot's own queue, not in httpx's
(whose pool rescans every waiting call each time a connection frees up)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.app import GatedRequest
from tests.fakebotapi import FakeBotAPI

TOKEN = "123:fake"


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    fake = FakeBotAPI(TOKEN).start()
    yield fake
    fake.stop()


async def test_calls_beyond_the_pool_wait_outside_httpx(api: FakeBotAPI) -> None:
    # Every getMe is answered 0.2 s late, so six calls over two connections take three rounds.
    api.inject_faults(1.0, ["timeout"], methods={"getMe"}, timeout_delay=0.2)
    request = GatedRequest(connection_pool_size=2, read_timeout=5)
    await request.initialize()
    pool = request._client._transport._pool  # type: ignore[attr-defined]
    most_waiting = 0

    async def watch() -> None:
        nonlocal most_waiting
        while True:
            most_waiting = max(most_waiting, len(pool._requests))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        answers = await asyncio.gather(
            *(request.post(f"{api.url}/bot{TOKEN}/getMe") for _ in range(6))
        )
    finally:
        watcher.cancel()
        await request.shutdown()
    assert len(answers) == 6
    assert len([c for c in api.calls if c.method == "getMe"]) == 6
    assert 1 <= most_waiting <= 2  # httpx only ever held the two calls it could send
