"""The Bot API connection pool, with connections that keep their socket at hand.

Before each call, httpcore's pool asks every idle connection whether the server has closed it
(`get_extra_info("is_readable")`). anyio's stream answers by building a dict of all the
socket's attributes, a `getpeername()` system call included, on every question: with 16 kept
connections, a quarter of the process's time in a burst of votes. Here each connection looks
its socket up once, registers it with a poll object once, and polls it on every question (an
answer is never reused: a server may close a connection at any moment). Everything else is
anyio's.

Each write first asks `guard` (several copies of the bot: it raises once this copy may no
longer act, bot.core.fence), so a request held up inside the pool while the process was paused
is not sent when it wakes.
"""

from __future__ import annotations

import select
import ssl
import typing

import httpx
from httpcore import AsyncConnectionPool, AsyncNetworkStream
from httpcore._backends.anyio import AnyIOBackend
from httpcore._utils import is_socket_readable


def _unguarded() -> None:
    return None


class KeptSocketStream(AsyncNetworkStream):
    """httpcore's stream interface (its `timeout` parameters included), passed through."""

    def __init__(
        self, stream: AsyncNetworkStream, guard: typing.Callable[[], None] = _unguarded
    ) -> None:
        self._stream, self._guard = stream, guard
        self._socket = stream.get_extra_info("socket")
        self._poll: typing.Any = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self._guard()
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> AsyncNetworkStream:
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return KeptSocketStream(tls, self._guard)

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
        if self._poll is None:
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)
        return bool(self._poll.poll(0))


class KeptSocketBackend(AnyIOBackend):
    def __init__(self, guard: typing.Callable[[], None] = _unguarded) -> None:
        self._guard = guard

    async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> AsyncNetworkStream:
        return KeptSocketStream(await super().connect_tcp(*args, **kwargs), self._guard)


def keep_sockets(client: httpx.AsyncClient, guard: typing.Callable[[], None] = _unguarded) -> None:
    """Put the client's own pool (not a proxy's: those are httpx's mounts, left as they are)
    on KeptSocketBackend, if httpx's pool is where this version of httpx keeps it."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if type(pool) is AsyncConnectionPool and hasattr(pool, "_network_backend"):
        pool._network_backend = KeptSocketBackend(guard)
