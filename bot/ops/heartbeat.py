"""Knowing the bot is alive: a "last alive" mark every minute, a push to HEARTBEAT_URL while
healthy (Uptime Kuma / healthchecks.io style: silence is the alarm), and, after a restart that
followed real downtime, one private line to each admin saying when the bot was away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.core.causes import cause_of
from bot.runtime import Runtime
from bot.transport import outbox
from bot.transport.web import health
from models.state import LAST_ALIVE, BotState

log = logging.getLogger(__name__)

DOWNTIME_NOTICE_AFTER = timedelta(minutes=5)
HEARTBEAT_TIMEOUT = 10.0


async def last_alive(session: AsyncSession) -> datetime | None:
    row = await session.get(BotState, LAST_ALIVE)
    return None if row is None else datetime.fromisoformat(row.value)


async def mark_alive(session: AsyncSession, *, now: datetime) -> None:
    """Record that the bot is running now (the caller commits)."""
    row = await session.get(BotState, LAST_ALIVE)
    if row is None:
        session.add(BotState(key=LAST_ALIVE, value=now.isoformat(), updated_at=now))
    else:
        row.value, row.updated_at = now.isoformat(), now


async def notice_downtime(runtime: Runtime) -> bool:
    """At start: if the bot was away longer than DOWNTIME_NOTICE_AFTER, tell each admin once."""
    now = runtime.clock.now()
    told = False
    async with runtime.sessions() as session:
        before = await last_alive(session)
        if before is not None and now - before > DOWNTIME_NOTICE_AFTER:
            line = texts.downtime(before, now, runtime.tz)
            for admin in runtime.admin_ids:
                outbox.send(session, admin, line, priority=outbox.NEWS, now=now)
            log.warning(
                "the bot was down for %.0f min (last alive %s); %d admins told",
                (now - before).total_seconds() / 60,
                before.isoformat(timespec="seconds"),
                len(runtime.admin_ids),
            )
            told = bool(runtime.admin_ids)
        await mark_alive(session, now=now)
        await session.commit()
    if told:
        runtime.wake_delivery()
    return told


async def mark_alive_now(runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        await mark_alive(session, now=runtime.clock.now())
        await session.commit()


class Heartbeat:
    """Every interval: mark the bot alive, check its health, and push HEARTBEAT_URL if healthy.

    Each kind of trouble is logged once when it starts and once when it ends, never per beat.
    """

    def __init__(self, runtime: Runtime, *, polling: bool) -> None:
        self.runtime, self.polling = runtime, polling
        settings = runtime.config.settings
        self.url, self.interval = settings.heartbeat_url, settings.heartbeat_interval_seconds
        self._trouble: dict[str, str] = {}  # kind -> what was logged when it started

    async def run(self) -> None:
        # A client (and its TLS context, some 30 ms of CPU to load) only where there is a
        # HEARTBEAT_URL to fetch: none at every start of a bot that pushes to no monitor.
        async with contextlib.AsyncExitStack() as stack:
            client = None
            if self.url:
                client = httpx.AsyncClient(timeout=HEARTBEAT_TIMEOUT)
                await stack.enter_async_context(client)
            while True:
                await asyncio.sleep(self.interval)
                await self.beat(client)

    async def beat(self, client: httpx.AsyncClient | None) -> None:
        try:
            await mark_alive_now(self.runtime)
        except Exception as exc:
            self._trouble_starts("mark", "cannot record that the bot is alive (%s)", exc)
        else:
            self._trouble_ends("mark", "the bot's alive mark is recorded again")
        status, report = await health(self.runtime, polling=self.polling)
        if status != 200:
            self._trouble_starts("health", "not healthy (%s): heartbeat withheld", report["status"])
            return
        self._trouble_ends("health", "healthy again")
        if client is None:
            return
        try:
            response = await client.get(self.url)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            self._trouble_starts("push", "HEARTBEAT_URL answers HTTP %s", exc.response.status_code)
        except Exception as exc:
            self._trouble_starts("push", "cannot reach HEARTBEAT_URL (%s)", cause_of(exc))
        else:
            self._trouble_ends("push", "HEARTBEAT_URL answers again")

    def _trouble_starts(self, kind: str, message: str, detail: object) -> None:
        if kind not in self._trouble:
            self._trouble[kind] = message
            log.warning(message, detail)

    def _trouble_ends(self, kind: str, message: str) -> None:
        if self._trouble.pop(kind, None) is not None:
            log.warning(message)
