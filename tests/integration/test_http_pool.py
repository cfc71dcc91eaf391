"""The Bot API client's pool: each connection asks its own socket whether the server closed it
(anyio's way rebuilt every attribute of the socket, with a system call, before every call), and
a connection the server closed is still never used again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from unittest import mock

import pytest
from httpcore._backends.anyio import AnyIOStream

from bot.app import GatedRequest
from bot.http_pool import OPEN_FOR, KeptSocketBackend
from tests.fakebotapi import FakeBotAPI

TOKEN = "123:fake"


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    fake = FakeBotAPI(TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
async def request_() -> AsyncIterator[GatedRequest]:
    request = GatedRequest(connection_pool_size=4, read_timeout=5)
    await request.initialize()
    yield request
    await request.shutdown()


def pool_of(request: GatedRequest) -> object:
    return request._client._transport._pool  # type: ignore[attr-defined]


async def test_idle_connections_ask_their_own_socket(
    api: FakeBotAPI, request_: GatedRequest
) -> None:
    assert isinstance(pool_of(request_)._network_backend, KeptSocketBackend)  # type: ignore[attr-defined]
    url = f"{api.url}/bot{TOKEN}/getMe"
    await asyncio.gather(*(request_.post(url) for _ in range(4)))  # four kept connections
    asked = 0
    original = AnyIOStream.get_extra_info

    def counted(self: AnyIOStream, info: str) -> object:
        nonlocal asked
        asked += info == "is_readable"
        return original(self, info)

    with mock.patch.object(AnyIOStream, "get_extra_info", counted):
        for _ in range(20):
            await request_.post(url)
            await asyncio.sleep(OPEN_FOR)
    assert asked == 0
    assert len([c for c in api.calls if c.method == "getMe"]) == 24


async def test_a_connection_the_server_closed_is_not_used_again(request_: GatedRequest) -> None:
    """A server that answers one call per connection, then closes it: every call still works,
    each on a new connection."""
    accepted = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"ok": true, "result": true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for _ in range(3):
            await request_.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
            await asyncio.sleep(0.05)  # the server has closed it by now
    finally:
        server.close()
        await server.wait_closed()
    assert accepted == 3
