"""The bot's own checks of FLEXUS (its server, its database port, a web page) and of the office
(a push its scheduled job sends every minute): each probed on its own schedule, its state
moved only past its thresholds, transitions stored with their reason, samples kept as hourly
aggregates. What a transition means for the protocol is the listener's (handlers/checks.py).

Probes run concurrently in tasks of their own and write one short transaction each: they never
delay an update or a message.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from bot.core.config import CheckSpec
from bot.runtime import Runtime
from models import CheckHour, CheckStatus, CheckTransition
from models.vocab import CheckFailure, CheckHealth

log = logging.getLogger(__name__)

PUSH_GRACE = 1.5  # a push check is failing when no push came for this many periods


@dataclass(frozen=True)
class Probe:
    ok: bool
    reason: CheckFailure | None = None
    ms: int = 0


@dataclass(frozen=True)
class Seen:
    """A check's state as its probes moved it."""

    name: str
    state: CheckHealth
    since: datetime
    reason: CheckFailure | None = None
    fails_in_row: int = 0
    oks_in_row: int = 0
    last_ok_at: datetime | None = None
    last_checked_at: datetime | None = None


def advance(seen: Seen, probe: Probe, spec: CheckSpec, now: datetime) -> Seen:
    """The state after one probe (pure): down after `down_after` failures in a row, up after
    `up_after` successes in a row; a single lost packet moves nothing."""
    if probe.ok:
        oks, fails = seen.oks_in_row + 1, 0
        state = CheckHealth.UP if oks >= spec.up_after else seen.state
        reason = None if state is CheckHealth.UP else seen.reason
    else:
        oks, fails = 0, seen.fails_in_row + 1
        state = CheckHealth.DOWN if fails >= spec.down_after else seen.state
        reason = probe.reason if state is CheckHealth.DOWN else seen.reason
    changed = state is not seen.state
    return replace(
        seen,
        state=state,
        since=now if changed else seen.since,
        reason=reason if state is CheckHealth.DOWN else None,
        fails_in_row=fails,
        oks_in_row=oks,
        last_ok_at=now if probe.ok else seen.last_ok_at,
        last_checked_at=now,
    )


# --- probes --------------------------------------------------------------------------------------
async def probe_tcp(spec: CheckSpec) -> Probe:
    host, _, port = spec.target.rpartition(":")
    started = asyncio.get_running_loop().time()
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host.strip("[]"), int(port)), spec.timeout_seconds
        )
    except TimeoutError:
        return Probe(False, CheckFailure.TIMEOUT)
    except ConnectionRefusedError:
        return Probe(False, CheckFailure.REFUSED)
    except socket.gaierror:
        return Probe(False, CheckFailure.DNS)
    except OSError:
        return Probe(False, CheckFailure.NETWORK)
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (OSError, TimeoutError):
        pass
    return Probe(True, ms=_ms_since(started))


async def probe_http(spec: CheckSpec, client: httpx.AsyncClient) -> Probe:
    started = asyncio.get_running_loop().time()
    try:
        response = await client.get(spec.target, timeout=spec.timeout_seconds)
    except httpx.TimeoutException:
        return Probe(False, CheckFailure.TIMEOUT)
    except httpx.ConnectError as exc:
        return Probe(False, _connect_failure(exc))
    except httpx.HTTPError:
        return Probe(False, CheckFailure.NETWORK)
    if response.status_code != spec.expect_status:
        return Probe(False, CheckFailure.HTTP_STATUS, _ms_since(started))
    if spec.expect_text and spec.expect_text not in response.text:
        return Probe(False, CheckFailure.TEXT_MISSING, _ms_since(started))
    return Probe(True, ms=_ms_since(started))


def _verifies(spec: CheckSpec) -> bool:
    """Whether the check's client loads the certificate store: only for https with
    verify_tls (a plain http:// check has no certificate to verify, and the store costs ~2 MB)."""
    return spec.verify_tls and spec.target.startswith("https://")


def _connect_failure(exc: httpx.ConnectError) -> CheckFailure:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return CheckFailure.TLS
        if isinstance(cause, socket.gaierror):
            return CheckFailure.DNS
        if isinstance(cause, ConnectionRefusedError):
            return CheckFailure.REFUSED
        cause = cause.__cause__ or cause.__context__
    text = str(exc).lower()
    if "certificate" in text or "ssl" in text:
        return CheckFailure.TLS
    if "name or service not known" in text or "nodename" in text or "getaddrinfo" in text:
        return CheckFailure.DNS
    if "refused" in text:
        return CheckFailure.REFUSED
    return CheckFailure.NETWORK


def _ms_since(started: float) -> int:
    return int((asyncio.get_running_loop().time() - started) * 1000)


Listener = Callable[[CheckSpec, Seen, Seen], Awaitable[None]]


class Monitor:
    """Runs the protocol file's checks; `listener(spec, before, after)` hears each transition."""

    def __init__(self, runtime: Runtime, listener: Listener | None = None) -> None:
        self.runtime = runtime
        self.listener = listener
        self.specs = {c.name: c for c in runtime.protocol.check}
        self.seen: dict[str, Seen] = {}
        self._pushed: dict[str, float] = {}  # check name -> monotonic time of its last push
        self._started = runtime.clock.monotonic()
        self._tasks: list[asyncio.Task[None]] = []
        # One client for the checks that verify TLS and one for those that do not: a client
        # (its TLS context, its pool) per check would cost a megabyte or two each.
        self._clients: dict[bool, httpx.AsyncClient] = {}
        self._lock = asyncio.Lock()  # one probe's record at a time (short transactions)

    # --- what others ask -----------------------------------------------------------------------
    def pushed(self, secret: str) -> bool:
        """The office's job called /push/<secret>: True if it names a push check."""
        for spec in self.specs.values():
            if spec.kind == "push" and secret == spec.secret:
                self._pushed[spec.name] = self.runtime.clock.monotonic()
                return True
        return False

    def states(self) -> list[tuple[CheckSpec, Seen | None]]:
        return [(spec, self.seen.get(name)) for name, spec in self.specs.items()]

    # --- running -------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._load()
        for spec in self.specs.values():
            verify = _verifies(spec)
            if spec.kind == "http" and verify not in self._clients:
                self._clients[verify] = httpx.AsyncClient(verify=verify, follow_redirects=True)
            self._tasks.append(asyncio.create_task(self._watch(spec), name=f"check {spec.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def _watch(self, spec: CheckSpec) -> None:
        if spec.kind == "push":  # the first period is for the office's job to call
            await asyncio.sleep(spec.every_seconds)
        while True:
            try:
                await self.check_now(spec)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("check %r failed to run; trying again next period", spec.name)
            await asyncio.sleep(spec.every_seconds)

    async def probe(self, spec: CheckSpec) -> Probe:
        if spec.kind == "tcp":
            return await probe_tcp(spec)
        if spec.kind == "http":
            client = self._clients.get(_verifies(spec))
            if client is None:
                async with httpx.AsyncClient(verify=spec.verify_tls) as once:
                    return await probe_http(spec, once)
            return await probe_http(spec, client)
        last = self._pushed.get(spec.name, self._started)
        quiet = self.runtime.clock.monotonic() - last
        ok = quiet <= spec.every_seconds * PUSH_GRACE
        return Probe(ok, None if ok else CheckFailure.NO_PUSH)

    async def check_now(self, spec: CheckSpec) -> Seen:
        """Probe once, record it, tell the listener of a transition; the state after it."""
        probe = await self.probe(spec)
        before, after = await self._record(spec, probe)
        if after.state is not before.state and self.listener is not None:
            try:
                await self.listener(spec, before, after)
            except Exception:
                log.exception("the listener of check %r failed", spec.name)
        return after

    async def _record(self, spec: CheckSpec, probe: Probe) -> tuple[Seen, Seen]:
        now = self.runtime.clock.now()
        async with self._lock:
            before = self.seen.get(spec.name) or Seen(spec.name, CheckHealth.UNKNOWN, now)
            after = advance(before, probe, spec, now)
            hour = now.replace(minute=0, second=0, microsecond=0)
            async with self.runtime.sessions() as session:
                row = await session.get(CheckStatus, spec.name)
                if row is None:
                    row = CheckStatus(name=spec.name)
                    session.add(row)
                row.state, row.since, row.reason = after.state, after.since, after.reason
                row.fails_in_row, row.oks_in_row = after.fails_in_row, after.oks_in_row
                row.last_ok_at, row.last_checked_at = after.last_ok_at, after.last_checked_at
                if after.state is not before.state:
                    session.add(
                        CheckTransition(
                            name=spec.name, state=after.state, reason=after.reason, at=now
                        )
                    )
                counted = await session.execute(
                    update(CheckHour)
                    .where(CheckHour.name == spec.name, CheckHour.hour == hour)
                    .values(
                        samples=CheckHour.samples + 1,
                        failures=CheckHour.failures + (0 if probe.ok else 1),
                        total_ms=CheckHour.total_ms + probe.ms,
                    )
                )
                if not getattr(counted, "rowcount", 0):
                    session.add(
                        CheckHour(
                            name=spec.name,
                            hour=hour,
                            samples=1,
                            failures=0 if probe.ok else 1,
                            total_ms=probe.ms,
                        )
                    )
                await session.commit()
            self.seen[spec.name] = after
        if after.state is not before.state:
            log.warning(
                "check %r is %s%s",
                spec.name,
                after.state,
                f" ({after.reason})" * bool(after.reason),
            )
        return before, after

    async def _load(self) -> None:
        """The states as stored: a restart in the middle of a down state keeps it."""
        async with self.runtime.read_session() as session:
            rows = (await session.scalars(select(CheckStatus))).all()
        for row in rows:
            if row.name in self.specs:
                self.seen[row.name] = Seen(
                    row.name,
                    CheckHealth(row.state),
                    row.since,
                    CheckFailure(row.reason) if row.reason else None,
                    row.fails_in_row,
                    row.oks_in_row,
                    row.last_ok_at,
                    row.last_checked_at,
                )


@dataclass(frozen=True)
class Availability:
    """Share of probes that answered, of the FLEXUS checks (None: no probe in the period)."""

    overall: float | None
    working_hours: float | None


async def availability(
    session: Any,
    *,
    names: list[str],
    since: datetime,
    until: datetime,
    in_working_hours: Callable[[datetime], bool],
) -> Availability:
    if not names:
        return Availability(None, None)
    rows = (
        await session.execute(
            select(CheckHour.hour, CheckHour.samples, CheckHour.failures).where(
                CheckHour.name.in_(names), CheckHour.hour >= since, CheckHour.hour < until
            )
        )
    ).all()
    total = sum(r.samples for r in rows)
    failed = sum(r.failures for r in rows)
    working = [r for r in rows if in_working_hours(r.hour + timedelta(minutes=30))]
    working_total = sum(r.samples for r in working)
    working_failed = sum(r.failures for r in working)
    return Availability(
        1 - failed / total if total else None,
        1 - working_failed / working_total if working_total else None,
    )


async def measured_down(
    session: Any, *, names: list[str], start: datetime, end: datetime
) -> timedelta:
    """How long any of these checks was down within [start, end), from their transitions."""
    if not names or end <= start:
        return timedelta(0)
    rows = (
        await session.execute(
            select(CheckTransition.name, CheckTransition.state, CheckTransition.at)
            .where(CheckTransition.name.in_(names), CheckTransition.at < end)
            .order_by(CheckTransition.at, CheckTransition.id)
        )
    ).all()
    down_now: set[str] = set()
    total = timedelta(0)
    since: datetime | None = None
    for name, state, at in rows:
        was_down = bool(down_now)
        if state == CheckHealth.DOWN:
            down_now.add(name)
        else:
            down_now.discard(name)
        if not was_down and down_now:
            since = at
        elif was_down and not down_now and since is not None:
            total += max(timedelta(0), min(at, end) - max(since, start))
            since = None
    if down_now and since is not None:
        total += max(timedelta(0), end - max(since, start))
    return total
