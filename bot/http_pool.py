"""The Bot API connection pool, with connections that keep their socket at hand.

Before each call, httpcore's pool asks every idle connection whether the server has closed it
(`get_extra_info("is_readable")`). Its anyio backend answers by building a dict of all the
socket's attributes, a `getpeername()` system call included, on every question: with 16 kept
connections that was a quarter of the process's time in a burst of votes. Here the socket is
looked up once per connection, with a poll object registered once, and a "still open" answer
is trusted for 2 ms (one answer per burst of calls handed out together; the race with a server
closing a connection as a call goes out is there anyway, and servers close kept connections
after seconds or minutes). Everything else is anyio's as before.
"""

from __future__ import annotations

import select
import ssl
import time
import typing

import httpx
from httpcore import AsyncConnectionPool, AsyncNetworkStream
from httpcore._backends.anyio import AnyIOBackend
from httpcore._utils import is_socket_readable

OPEN_FOR = 0.002  # seconds a "not readable" (still open) answer is trusted


class KeptSocketStream(AsyncNetworkStream):
    """httpcore's stream interface (its `timeout` parameters included), passed through."""

    def __init__(self, stream: AsyncNetworkStream) -> None:
        self._stream = stream
        self._socket = stream.get_extra_info("socket")
        self._poll: typing.Any = None
        self._open_at = float("-inf")  # when the socket was last seen still open

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> AsyncNetworkStream:
        return KeptSocketStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return self._readable()
        return self._stream.get_extra_info(info)

    def _readable(self) -> bool:
        """What httpcore's `is_socket_readable` says (no socket or a closed one: readable, as
        if the next read returned b""), without a new poll object every time."""
        fd = -1 if self._socket is None else self._socket.fileno()
        if fd < 0 or not hasattr(select, "poll"):
            return bool(is_socket_readable(self._socket))
        now = time.monotonic()
        if now - self._open_at < OPEN_FOR:
            return False
        if self._poll is None:
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)
        if self._poll.poll(0):
            return True
        self._open_at = now
        return False


class KeptSocketBackend(AnyIOBackend):
    async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> AsyncNetworkStream:
        return KeptSocketStream(await super().connect_tcp(*args, **kwargs))


def kept_socket_transport(
    limits: httpx.Limits, *, http1: bool, http2: bool
) -> httpx.AsyncHTTPTransport:
    """httpx's transport with these limits, its pool on KeptSocketBackend (if httpx's pool is
    where it was: otherwise the transport is left as httpx made it)."""
    transport = httpx.AsyncHTTPTransport(limits=limits, http1=http1, http2=http2)
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = KeptSocketBackend()
    return transport
