"""The Bot API client. Calls beyond the connection pool wait in the bot's own queue, not in
httpx's (whose pool rescans every waiting call each time a connection frees up). Each kept
connection asks its own socket whether the server closed it (not anyio, which rebuilds every
attribute of the socket, a system call included, each time); a connection the server closed is
never used again; proxies from the environment stay."""

from __future__ import annotations

import asyncio
import socketserver
import threading
from collections.abc import AsyncIterator, Iterator
from unittest import mock

import pytest
from httpcore._backends.anyio import AnyIOStream

from bot.app import GatedRequest
from bot.transport.http_pool import KeptSocketBackend, KeptSocketStream
from tests.support.fakebotapi import FakeBotAPI

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
    asked = polled = 0
    original, readable = AnyIOStream.get_extra_info, KeptSocketStream._readable

    def counted(self: AnyIOStream, info: str) -> object:
        nonlocal asked
        asked += info == "is_readable"
        return original(self, info)

    def polled_once(self: KeptSocketStream) -> bool:
        nonlocal polled
        polled += 1
        return readable(self)

    with (
        mock.patch.object(AnyIOStream, "get_extra_info", counted),
        mock.patch.object(KeptSocketStream, "_readable", polled_once),
    ):
        for _ in range(20):
            await request_.post(url)
    assert asked == 0
    assert polled >= 20  # the pool still asks: each idle connection, before each call
    assert len([c for c in api.calls if c.method == "getMe"]) == 24


def closing_server() -> tuple[socketserver.TCPServer, threading.Event, list[int]]:
    """A server that answers one call per connection, then closes it (without saying so in
    its headers) and sets the event once it has."""
    closed, accepted = threading.Event(), [0]

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            accepted[0] += 1
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = self.request.recv(4096)
                if not chunk:
                    return
                data += chunk
            body = b'{"ok": true, "result": true}'
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            self.request.close()
            closed.set()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, closed, accepted


async def test_a_connection_the_server_closed_is_not_used_again(request_: GatedRequest) -> None:
    """The next call goes out the moment the server has closed the last connection: it is
    never sent down that one (an answer about the socket kept from before would)."""
    server, closed, accepted = closing_server()
    port = server.server_address[1]
    try:
        for _ in range(20):
            closed.clear()
            await request_.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
            await asyncio.to_thread(closed.wait, 5)
    finally:
        server.shutdown()
        server.server_close()
    assert accepted[0] == 20


def test_proxies_from_the_environment_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY (README, .env.example) still routes the Bot API calls through the proxy."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    request = GatedRequest(connection_pool_size=4)
    mounts = {pattern.pattern for pattern in request._client._mounts}  # type: ignore[attr-defined]
    assert "https://" in mounts
    assert isinstance(pool_of(request)._network_backend, KeptSocketBackend)  # type: ignore[attr-defined]
