"""A small local HTTP server: `GET /healthz` always, and the webhook endpoint in webhook mode.

Plain asyncio, no framework: two routes do not need one. The webhook answers Telegram only
after the update is stored in the inbox, so an answered update is never lost.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from sqlalchemy import func, select, text

from bot.core.fence import LeaseLost
from bot.runtime import Runtime
from bot.transport import outbox
from bot.transport.intake import Intake
from models import Timer
from models.timer import PENDING

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000
POLL_STALE_SECONDS = 120.0  # polling mode: no good getUpdates for this long is unhealthy
OUTBOX_OVERDUE_SECONDS = 300.0
# A stored timer not fired this long after it fell due: the job queue is stuck (start-up holds
# overdue timers back only a few seconds).
TIMER_OVERDUE_SECONDS = 120.0
SECRET_HEADER = "x-telegram-bot-api-secret-token"
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 503: "Unavailable"}


async def health(runtime: Runtime, *, polling: bool) -> tuple[int, dict[str, Any]]:
    """200 with the database reachable, updates flowing, and the outbox and the timers on time;
    else 503, with the reasons in `status`."""
    report: dict[str, Any] = {"database": "ok"}
    problems: list[str] = []
    try:
        async with runtime.read_session() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=5)
            backlog = await outbox.backlog(session)
            oldest_timer = await session.scalar(
                select(func.min(Timer.due_at)).where(Timer.status == PENDING)
            )
    except Exception as exc:
        report["database"] = f"unreachable: {type(exc).__name__}"
        problems.append("database unreachable")
    else:
        report["outbox_backlog"] = backlog.pending
        overdue = 0.0
        if backlog.oldest_due is not None:
            overdue = max(0.0, (runtime.clock.now() - backlog.oldest_due).total_seconds())
        report["outbox_oldest_overdue_seconds"] = round(overdue, 1)
        if overdue > OUTBOX_OVERDUE_SECONDS:
            problems.append(f"outbox overdue by {overdue:.0f} s")
        late = 0.0
        if oldest_timer is not None:
            due = oldest_timer if oldest_timer.tzinfo else oldest_timer.replace(tzinfo=UTC)
            late = max(0.0, (runtime.clock.now() - due).total_seconds())
        report["timers_oldest_overdue_seconds"] = round(late, 1)
        if late > TIMER_OVERDUE_SECONDS:
            problems.append(f"a timer is overdue by {late:.0f} s")
    conflict = runtime.stats.conflict_last
    if conflict is not None and time.monotonic() - conflict < 120:
        problems.append("another copy of the bot uses the same token (409 Conflict)")
    if polling:
        last = runtime.stats.last_poll_ok
        age = None if last is None else time.monotonic() - last
        report["last_poll_seconds_ago"] = None if age is None else round(age, 1)
        if age is None or age > POLL_STALE_SECONDS:
            problems.append("no updates from Telegram in the last 2 minutes")
    if runtime.monitor is not None:
        report["checks"] = {
            spec.name: (seen.state.value if seen else "unknown")
            for spec, seen in runtime.monitor.states()
        }
    stats = runtime.stats
    report.update(
        updates_handled=stats.updates_handled,
        updates_skipped=stats.updates_skipped,
        sent=stats.sent,
        retries=stats.retries,
        dropped=stats.dropped,
        possible_duplicates=stats.possible_duplicates,
    )
    fence = runtime.fence
    if fence.leased:  # several copies on PostgreSQL: this one is the active one
        report.update(role="active", lease_epoch=fence.epoch)
        if not fence.held:
            problems.append("no longer the active copy")
    report["status"] = "ok" if not problems else "; ".join(problems)
    return (200 if not problems else 503), report


Report = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


class WebServer:
    """`standby`: this copy stands by (several copies on PostgreSQL): /healthz is its report,
    /healthz/active and everything else answer 503."""

    def __init__(
        self,
        runtime: Runtime | None,
        *,
        host: str,
        port: int,
        polling: bool,
        intake: Intake | None = None,
        webhook_path: str | None = None,
        secret: str = "",
        standby: Report | None = None,
    ) -> None:
        self.standby = standby
        self.runtime, self.host, self.port, self.polling = runtime, host, port, polling
        self.intake, self.webhook_path, self.secret = intake, webhook_path, secret
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        log.info(
            "HTTP server on %s:%s (GET /healthz%s)",
            self.host,
            self.port,
            f", POST {self.webhook_path}" if self.webhook_path else "",
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await asyncio.wait_for(self._request(reader), timeout=30)
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, ConnectionError):
            status, body = 400, {"ok": False}
        data = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        try:
            writer.write(head + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
        line = (await reader.readline()).decode("latin-1").split()
        if len(line) < 2:
            raise ValueError("bad request line")
        method, path = line[0].upper(), line[1].split("?")[0]
        headers: dict[str, str] = {}
        for _ in range(100):
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "GET" and path in ("/healthz", "/healthz/active"):
            if self.standby is not None:
                status, report = await self.standby()
                return (503 if path == "/healthz/active" else status), report
            assert self.runtime is not None
            return await health(self.runtime, polling=self.polling)
        if self.standby is not None or self.runtime is None:
            return 503, {"ok": False, "role": "standby"}
        if method == "POST" and self.webhook_path and path == self.webhook_path:
            return await self._webhook(reader, headers)
        if method in ("GET", "POST") and path.startswith("/push/"):
            # The office's scheduled job: it reaches the bot, so the office has internet and power.
            monitor = self.runtime.monitor
            if monitor is not None and monitor.pushed(path.removeprefix("/push/")):
                return 200, {"ok": True}
            return 404, {"ok": False}
        return 404, {"ok": False}

    async def _webhook(
        self, reader: asyncio.StreamReader, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if not hmac.compare_digest(headers.get(SECRET_HEADER, ""), self.secret):
            log.warning("refused a webhook call without the right secret token")
            return 403, {"ok": False}
        length = int(headers.get("content-length") or 0)
        if length <= 0 or length > MAX_BODY:
            return 400, {"ok": False}
        data = json.loads(await reader.readexactly(length))
        if not isinstance(data, dict) or self.intake is None:
            return 400, {"ok": False}
        assert self.runtime is not None  # a standing-by copy answered 503 above
        if not self.runtime.fence.held:  # no longer the active copy: Telegram tries again
            return 503, {"ok": False}
        try:
            await self.intake.take([data])  # stored before Telegram hears "200"
        except LeaseLost:
            return 503, {"ok": False}  # not the active copy any more: Telegram tries again
        self.runtime.stats.last_poll_ok = time.monotonic()
        return 200, {"ok": True}
