"""What every handler and job needs, built once at start-up and kept in application.bot_data."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core.clock import Clock
from bot.core.config import Config, Protocol
from bot.core.fence import Fence
from bot.core.in_flight import InFlight
from bot.storage.direct import Direct
from bot.storage.unit_of_work import StepSession, current_step
from bot.support.hours import SupportStatus, support_status_at

log = logging.getLogger(__name__)


@dataclass
class Stats:
    """Counters since start-up, shown by /healthz and in the log."""

    updates_handled: int = 0
    updates_skipped: int = 0
    sent: int = 0
    retries: int = 0
    dropped: int = 0
    folded: int = 0
    unchanged: int = 0
    possible_duplicates: int = 0
    last_poll_ok: float | None = None  # time.monotonic() of the last good getUpdates
    # Another copy of the bot polls with the same token (409 Conflict): since when, and the
    # latest such answer (time.monotonic()); cleared after two minutes without one.
    conflict_since: float | None = None
    conflict_last: float | None = None


@dataclass
class Runtime:
    config: Config
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    # Reads that must not take SQLite's write lock (a plain BEGIN); the same engine elsewhere.
    read_engine: AsyncEngine | None = None
    stats: Stats = field(default_factory=Stats)
    # Team chats as stored (TEAM_CHAT_IDS seeds them; a migrated group keeps its new id).
    chats: dict[int, str | None] = field(default_factory=dict)  # chat id -> sector
    # Forum groups: the topic alerts go to (a chat not listed: its General topic).
    alert_topics: dict[int, int] = field(default_factory=dict)
    # Team chats where Telegram refused a 👍: people there get a short reply instead.
    reactionless: set[int] = field(default_factory=set)
    delivery: Any = None  # bot.transport.delivery.worker.DeliveryWorker once started
    application: Any = None  # the PTB Application (for the JobQueue and re-running a step)
    membership: Any = None  # bot.team.membership.Membership
    monitor: Any = None  # bot.ops.monitor.Monitor when the protocol file has checks
    # async (spec, before, after): what a check's transition means (handlers/checks.py).
    check_listener: Any = None
    # kind -> async (runtime, incident id) -> (text, markup, still open): cards the delivery
    # worker renders itself when it sends their edit.
    card_renderers: dict[str, Any] = field(default_factory=dict)
    # Set from the chat (stored): admins besides ADMIN_USER_IDS, and the protocol file with the
    # Gerencia contacts registered with /gerencia merged in.
    stored_admins: set[int] = field(default_factory=set)
    # ADMIN_USER_IDS as .env says now (read again with the stored settings, every minute).
    env_admins: set[int] | None = None
    merged_protocol: Protocol | None = None
    # Whether this copy may still act (several copies on PostgreSQL); never fenced alone.
    fence: Fence = field(default_factory=Fence)
    # Updates this process just stored and queued: they cannot have been handled yet, so their
    # step does not read the inbox first (one transaction less per update).
    fresh_updates: set[int] = field(default_factory=set)
    in_flight: InFlight = field(default_factory=InFlight)
    # Hot reads straight from SQLite's driver (bot.storage.direct); a read session elsewhere.
    direct: Direct = field(init=False)

    def __post_init__(self) -> None:
        if not self.chats:
            sectors = self.protocol.team.chat_sectors
            self.chats = {c: sectors.get(c) for c in self.config.settings.team_chat_ids}
        self._step_sessions = async_sessionmaker(
            self.engine, class_=StepSession, expire_on_commit=False, info={"fence": self.fence}
        )
        if self.membership is None:
            from bot.team.membership import Membership

            self.membership = Membership(self)
        self._read_sessions = async_sessionmaker(
            self.read_engine or self.engine, expire_on_commit=False
        )
        self.direct = Direct.of(self.read_engine or self.engine, self.read_session)

    @asynccontextmanager
    async def session(self, *, refusable: bool = True) -> AsyncIterator[AsyncSession]:
        """The current step's session (in a savepoint unless the block never refuses: only
        reads, or only adds messages), or a session of its own outside steps."""
        step = current_step()
        if step is not None:
            async with step.scope(refusable=refusable) as session:
                yield session
            return
        async with self.sessions() as session:
            yield session

    def read_session(self) -> AsyncSession:
        """A session for reads only, outside any step: on SQLite it never waits for writers."""
        return self._read_sessions()

    def step_session(self) -> StepSession:
        return self._step_sessions()

    @property
    def protocol(self) -> Protocol:
        return self.merged_protocol or self.config.protocol

    async def reload_stored_settings(self) -> None:
        """Team chats, admins and Gerencia contacts as stored (after a change from the chat)."""
        from bot.team import admin, chats

        async with self.read_session() as session:
            self.chats = await chats.team_chats(session)
            self.alert_topics, self.reactionless = await chats.chat_settings(session)
            self.stored_admins = await admin.admin_ids(session)
            stored = await admin.stored_gerencia(session)
        self.merged_protocol = (
            admin.merged_gerencia(self.config.protocol, stored) if stored else None
        )
        self._reread_env_admins()

    def _reread_env_admins(self) -> None:
        """A change of ADMIN_USER_IDS in .env counts without a restart (a value set in the
        service's own environment wins over .env, as at start-up)."""
        home = self.config.home
        if home is None:
            return
        from bot.core.config import ConfigError, load_settings

        try:
            fresh = load_settings(home)
        except ConfigError as exc:
            log.warning("could not read .env again (%s): keeping the admins as they were", exc)
            return
        admins = set(fresh.admin_user_ids)
        if self.env_admins is not None and admins != self.env_admins:
            log.info("ADMIN_USER_IDS changed in .env: %s", ", ".join(map(str, sorted(admins))))
        self.env_admins = admins

    @property
    def tz(self) -> ZoneInfo:
        return self.protocol.support.tz

    @property
    def team_chat_ids(self) -> list[int]:
        return list(self.chats)

    def is_team_chat(self, chat_id: int) -> bool:
        return chat_id in self.chats

    def chat_sector(self, chat_id: int) -> str | None:
        return self.chats.get(chat_id)

    def alert_topic(self, chat_id: int) -> int | None:
        """The forum topic where this chat's alerts go; None: the General topic."""
        return self.alert_topics.get(chat_id)

    @property
    def _env_admin_ids(self) -> set[int]:
        if self.env_admins is not None:
            return self.env_admins
        return set(self.config.settings.admin_user_ids)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self._env_admin_ids or user_id in self.stored_admins

    @property
    def admin_ids(self) -> list[int]:
        return sorted(self._env_admin_ids | self.stored_admins)

    def support_now(self) -> SupportStatus:
        return support_status_at(self.clock.now(), self.protocol.support)

    def unreachable_chats(self) -> set[int]:
        """Team chats the delivery worker knows it cannot write to now."""
        return set(self.delivery.unreachable) if self.delivery is not None else set()

    def wake_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()
