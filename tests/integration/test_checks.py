"""The bot's own checks against real sockets on 127.0.0.1: a TCP server and an HTTP server the
tests switch off, slow down, make answer 502 or drop the keyword; a push that stops. Thresholds,
transitions with their reason, hourly samples, a restart in the middle of a down state, the
morning check's time on a weekday, a Saturday, a Sunday and a holiday, and availability."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import Clock
from bot.core.config import CheckSpec, Config, Protocol, load_protocol, load_settings
from bot.ops import monitor
from bot.ops.monitor import Monitor, Probe, Seen, advance
from bot.runtime import Runtime
from bot.support.workday import in_working_hours, next_morning_check
from models import CheckHour, CheckTransition
from models.vocab import CheckFailure, CheckHealth
from tests.support.sessions import committing_sessions

TZ = ZoneInfo("America/Argentina/Cordoba")
NOW = datetime(2026, 12, 10, 11, 0, tzinfo=UTC)


def spec(**values: object) -> CheckSpec:
    base: dict[str, object] = {"name": "Servidor FLEXUS", "kind": "tcp", "target": "127.0.0.1:1"}
    return CheckSpec.model_validate({**base, **values})


# --- thresholds (pure) ---------------------------------------------------------------------------
def test_one_lost_probe_moves_nothing_and_thresholds_move_the_state() -> None:
    check = spec(down_after=3, up_after=2)
    seen = Seen("x", CheckHealth.UP, NOW)
    fail, ok = Probe(False, CheckFailure.TIMEOUT), Probe(True)
    steps = []
    for minute, probe in enumerate([fail, ok, fail, fail, fail, ok, fail, ok, ok]):
        seen = advance(seen, probe, check, NOW + timedelta(minutes=minute))
        steps.append(seen.state.value[0])
    assert "".join(steps) == "uuuuddddu"
    assert seen.since == NOW + timedelta(minutes=8) and seen.reason is None


def test_a_bad_check_entry_names_the_key() -> None:
    for bad, words in [
        ({"kind": "tcp", "target": "10.0.0.5"}, "host:port"),
        ({"kind": "http", "target": "10.0.0.5"}, "http(s)://"),
        ({"kind": "push", "secret": "short"}, "secret"),
        ({"kind": "ping", "target": "10.0.0.5"}, "kind"),
    ]:
        with pytest.raises(ValueError, match=words):
            spec(**bad)


# --- probes against real sockets -----------------------------------------------------------------
class Web:
    """An HTTP server on 127.0.0.1 whose answer the test sets."""

    def __init__(self) -> None:
        self.status, self.body, self.delay = 200, "FLEXUS ok", 0.0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            await asyncio.sleep(self.delay)
            body = self.body.encode()
            writer.write(
                f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/estado"


@contextlib.asynccontextmanager
async def web_server() -> AsyncIterator[Web]:
    web = Web()
    web.server = await asyncio.start_server(web.handle, "127.0.0.1", 0)
    try:
        yield web
    finally:
        web.server.close()
        await web.server.wait_closed()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_tcp_answers_and_refuses() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert (await monitor.probe_tcp(spec(target=f"127.0.0.1:{port}"))).ok
    finally:
        server.close()
        await server.wait_closed()
    refused = await monitor.probe_tcp(spec(target=f"127.0.0.1:{free_port()}"))
    assert (refused.ok, refused.reason) == (False, CheckFailure.REFUSED)


async def test_http_status_text_and_slowness() -> None:
    async with web_server() as web, httpx.AsyncClient() as client:
        check = spec(kind="http", target=web.url, expect_text="FLEXUS ok", timeout_seconds=0.5)
        assert (await monitor.probe_http(check, client)).ok
        web.status = 502
        assert (await monitor.probe_http(check, client)).reason is CheckFailure.HTTP_STATUS
        web.status, web.body = 200, "Mantenimiento"
        assert (await monitor.probe_http(check, client)).reason is CheckFailure.TEXT_MISSING
        web.body, web.delay = "FLEXUS ok", 1.0
        assert (await monitor.probe_http(check, client)).reason is CheckFailure.TIMEOUT
    closed = spec(kind="http", target=f"http://127.0.0.1:{free_port()}/")
    async with httpx.AsyncClient() as client:
        assert (await monitor.probe_http(closed, client)).reason is CheckFailure.REFUSED


def test_connect_failures_are_told_apart() -> None:
    def failing(cause: BaseException) -> httpx.ConnectError:
        error = httpx.ConnectError("connect failed")
        error.__cause__ = cause
        return error

    assert monitor._connect_failure(failing(ssl.SSLError("bad cert"))) is CheckFailure.TLS
    assert monitor._connect_failure(failing(socket.gaierror(-2, "x"))) is CheckFailure.DNS
    assert monitor._connect_failure(failing(ConnectionRefusedError())) is CheckFailure.REFUSED
    assert monitor._connect_failure(failing(OSError("other"))) is CheckFailure.NETWORK


# --- the monitor on a real database --------------------------------------------------------------
class MovingClock(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.instant = NOW
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.instant

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.instant += timedelta(seconds=seconds)
        self.mono += seconds


def runtime_with(engine: AsyncEngine, url: str, checks: list[dict[str, object]]) -> Runtime:
    protocol = Protocol.model_validate(
        {**load_protocol().model_dump(by_alias=True), "check": checks}
    )
    return Runtime(
        config=Config(settings=load_settings(_env_file=None, database_url=url), protocol=protocol),
        engine=engine,
        sessions=committing_sessions(engine),
        clock=MovingClock(),
    )


async def test_transitions_and_hourly_samples_are_stored_and_survive_a_restart(
    engine: AsyncEngine, database_url: str
) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    check = {"name": "Servidor", "kind": "tcp", "target": f"127.0.0.1:{port}", "down_after": 2}
    rt = runtime_with(engine, database_url, [check])
    heard: list[tuple[str, str]] = []

    async def listener(spec: CheckSpec, before: Seen, after: Seen) -> None:
        heard.append((before.state.value, after.state.value))

    watch = Monitor(rt, listener)
    await watch._load()
    the_check = rt.protocol.check[0]
    for _ in range(2):
        await watch.check_now(the_check)
    assert watch.seen["Servidor"].state is CheckHealth.UP
    server.close()
    await server.wait_closed()
    rt.clock.advance(60)  # type: ignore[attr-defined]
    await watch.check_now(the_check)
    assert watch.seen["Servidor"].state is CheckHealth.UP  # one failure: nothing yet
    rt.clock.advance(60)  # type: ignore[attr-defined]
    down = await watch.check_now(the_check)
    assert (down.state, down.reason) == (CheckHealth.DOWN, CheckFailure.REFUSED)
    assert heard == [("unknown", "up"), ("up", "down")]

    # A new process finds it down, since the same moment.
    again = Monitor(rt, listener)
    await again._load()
    assert again.seen["Servidor"] == down
    async with rt.sessions() as session:
        moves = (await session.scalars(select(CheckTransition).order_by(CheckTransition.id))).all()
        hours = (await session.scalars(select(CheckHour))).all()
    assert [(m.state, m.reason) for m in moves] == [("up", None), ("down", "refused")]
    assert [(h.samples, h.failures) for h in hours] == [(4, 2)]  # one row for the hour


async def test_a_push_that_stops_is_the_office_losing_internet_or_power(
    engine: AsyncEngine, database_url: str
) -> None:
    secret = "s3cret-office-push-0001"
    rt = runtime_with(
        engine,
        database_url,
        [
            {
                "name": "Oficina",
                "kind": "push",
                "role": "office",
                "secret": secret,
                "every_seconds": 60,
                "down_after": 2,
                "up_after": 1,
            }
        ],
    )
    watch = Monitor(rt)
    office = rt.protocol.check[0]
    assert not watch.pushed("wrong-secret-0000000")
    assert watch.pushed(secret)
    assert (await watch.check_now(office)).state is CheckHealth.UP
    for _ in range(2):
        rt.clock.advance(120)  # type: ignore[attr-defined]
        seen = await watch.check_now(office)
    assert (seen.state, seen.reason) == (CheckHealth.DOWN, CheckFailure.NO_PUSH)
    watch.pushed(secret)
    assert (await watch.check_now(office)).state is CheckHealth.UP


# --- the workday ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now_local", "expected_local"),
    [
        # Thursday 10/12 at 06:00: 15 min before 08:00.
        (datetime(2026, 12, 10, 6, 0), datetime(2026, 12, 10, 7, 45)),
        # Friday 11/12 after opening: Saturday 12/12, 15 min before 08:30.
        (datetime(2026, 12, 11, 9, 0), datetime(2026, 12, 12, 8, 15)),
        # Saturday after opening: Sunday closed, Monday 14/12 07:45.
        (datetime(2026, 12, 12, 9, 0), datetime(2026, 12, 14, 7, 45)),
        # Thursday 24/12 after opening: Friday 25/12 is a holiday, Saturday 26/12 08:15.
        (datetime(2026, 12, 24, 9, 0), datetime(2026, 12, 26, 8, 15)),
    ],
)
def test_the_morning_check_is_before_the_next_opening(
    now_local: datetime, expected_local: datetime
) -> None:
    protocol = load_protocol()
    found = next_morning_check(now_local.replace(tzinfo=TZ), protocol)
    assert found == expected_local.replace(tzinfo=TZ)


async def test_availability_from_the_hourly_samples(engine: AsyncEngine, database_url: str) -> None:
    rt = runtime_with(engine, database_url, [])
    local = datetime(2026, 12, 10, tzinfo=TZ)
    async with rt.sessions() as session:
        for hour, samples, failures in ((3, 60, 60), (10, 60, 6), (11, 60, 0)):
            session.add(
                CheckHour(
                    name="Servidor", hour=local + timedelta(hours=hour), samples=samples,
                    failures=failures, total_ms=0,
                )
            )  # fmt: skip
        await session.commit()
    async with rt.sessions() as session:
        found = await monitor.availability(
            session,
            names=["Servidor"],
            since=local,
            until=local + timedelta(days=1),
            in_working_hours=lambda at: in_working_hours(at, rt.protocol),
        )
    assert found.overall == pytest.approx(1 - 66 / 180)
    assert found.working_hours == pytest.approx(1 - 6 / 120)  # 03:00 is outside 08:00-18:30


async def test_the_time_down_the_checks_saw_during_a_failure(
    engine: AsyncEngine, database_url: str
) -> None:
    rt = runtime_with(engine, database_url, [])
    t = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
    moves = [
        ("Servidor", "down", 0), ("Base", "down", 10), ("Servidor", "up", 20),
        ("Base", "up", 30), ("Servidor", "down", 50),
    ]  # fmt: skip
    async with rt.sessions() as session:
        for name, state, minute in moves:
            session.add(CheckTransition(name=name, state=state, at=t + timedelta(minutes=minute)))
        await session.commit()
    async with rt.sessions() as session:

        async def down(start: int, end: int) -> timedelta:
            return await monitor.measured_down(
                session,
                names=["Servidor", "Base"],
                start=t + timedelta(minutes=start),
                end=t + timedelta(minutes=end),
            )

        # Either check down counts once: 0–30, then 50 on.
        assert await down(0, 60) == timedelta(minutes=40)
        assert await down(5, 25) == timedelta(minutes=20)
        assert await down(35, 45) == timedelta(0)
        assert await down(55, 58) == timedelta(minutes=3)
