"""Several copies of the bot on one PostgreSQL database, running as one.

Every copy runs `flexus-bot run` against the same database and token. The one holding the lease
(bot.storage.lease) is active: it polls Telegram, sends the outbox and fires the timers. The
others stand by: they poll nothing and send nothing, try to take the lease every second, and
say what they are in the log and in /healthz. The active copy renews the lease every third of
its length; when it dies, freezes or loses the database, the lease runs out and a standby copy
takes it, with an epoch one higher, and tells the admins.

A lease row renewed with the database's clock, rather than an advisory lock held on a
connection: a lock dies with its connection only when PostgreSQL notices the connection is gone
(minutes to hours for a machine that lost power, TCP keepalive), so takeover time would not be
bounded, and a paused holder cannot tell it lost a lock; a lease expires at a known moment, and
its epoch fences whatever the old holder still tries (bot.core.fence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.core.causes import cause_of
from bot.core.clock import Clock
from bot.core.config import Config, Settings
from bot.core.fence import Fence
from bot.storage import lease
from bot.storage.db import (
    dialect_insert,
    is_sqlite,
    leased_engine_options,
    make_engine,
    session_name,
)
from bot.storage.lease import Holder, Taken
from bot.team import admin
from bot.transport import outbox
from models.copies import BotCopy
from models.vocab import CopyRole

log = logging.getLogger(__name__)

TRY_EVERY = 1.0  # seconds between a standby copy's tries to take the lease
NOTE_EVERY = 5.0  # seconds between a copy's signs of life in bot_copies
# The fence ends this long before the lease would, by this process's clock: the database's
# expiry is counted from a later instant (when the renewal ran), this covers clock drift.
MARGIN = 0.5


def uses_lease(settings: Settings) -> bool:
    return not is_sqlite(settings.database_url) and settings.lease_seconds > 0


@dataclass(frozen=True)
class Me:
    """This copy. Its id says where it runs (host name and process namespace) and its pid, so a
    copy restarted on the same machine can tell its predecessor's process is gone."""

    copy_id: str
    name: str  # shown: COPY_NAME, or the host name
    pid: int

    @classmethod
    def here(cls, name: str = "") -> Me:
        host, pid = socket.gethostname(), os.getpid()
        # The pid namespace alone is the same on every host (the initial one): with the boot's
        # id, cloned machines of one name never pass for each other.
        place = f"{host}|{_pid_namespace()}:{_boot_id()}"
        return cls(f"{place}|{pid}|{secrets.token_hex(4)}"[-120:], (name or host)[:120], pid)

    def gone(self, holder: Holder) -> bool:
        """The holder was this same copy (same name, machine and process namespace) and its
        process is gone: its lease need not be waited out (a crash and restart under systemd)."""
        parts = (holder.copy_id or "").split("|")
        mine = self.copy_id.split("|")
        same = len(parts) == 4 and parts[:2] == mine[:2] and holder.host == self.name
        if not same or holder.pid is None:
            return False
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:36]
    except OSError:
        return "-"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


class Copies:
    """This copy's side of the lease: standing by, taking over, keeping it, letting it go."""

    def __init__(self, config: Config, *, me: Me | None = None, clock: Clock | None = None) -> None:
        settings = config.settings
        self.config, self.seconds = config, settings.lease_seconds
        self.me = me or Me.here(settings.copy_name)
        self.clock = clock or Clock.from_setting(settings.flexus_now)
        self.fence = Fence()
        # Its own small pool: a renewal never waits behind the bot's steps for a connection.
        self.engine = make_engine(
            settings.database_url,
            pool_size=1,
            max_overflow=2,
            pool_pre_ping=True,
            **leased_engine_options(self.me.copy_id),
        )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.role = CopyRole.STANDBY
        self.started_at = datetime.now(UTC)  # real time, as the database's clock
        self.active: Holder | None = None  # who is active, as last seen standing by
        self.taken: Taken | None = None
        self._noted = 0.0
        self._trouble: str | None = None

    # --- standing by ---------------------------------------------------------------------------
    async def wait_to_take_over(self, stop: asyncio.Event) -> Taken | None:
        """Stand by until this copy holds the lease (None: stopped first)."""
        self.role, self.taken = CopyRole.STANDBY, None
        saw_another = False
        shown: str | None = None
        while not stop.is_set():
            started = time.monotonic()
            try:
                taken = await asyncio.wait_for(
                    self._try(tell=saw_another), timeout=max(self.seconds / 2, 1.0)
                )
            except Exception as exc:
                self._trouble_starts(f"cannot reach the database to stand by ({cause_of(exc)})")
            else:
                self._trouble_ends("the database answers again")
                if taken is not None:
                    self.fence.hold(self.me.copy_id, taken.epoch, started + self.seconds - MARGIN)
                    self.role, self.taken = CopyRole.ACTIVE, taken
                    log.warning(
                        "copy %s (pid %d) is now the active one (lease epoch %d)",
                        self.me.name,
                        self.me.pid,
                        taken.epoch,
                    )
                    return taken
                holder = self.active
                saw_another = saw_another or (holder is not None and holder.live)
                if holder is not None and holder.live and holder.copy_id != shown:
                    shown = holder.copy_id
                    since = holder.since.isoformat(timespec="seconds") if holder.since else "?"
                    log.warning(
                        "copy %s (pid %d) is standing by: %s (pid %s) is active since %s "
                        "(lease epoch %d)",
                        self.me.name,
                        self.me.pid,
                        holder.host,
                        holder.pid,
                        since,
                        holder.epoch,
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=TRY_EVERY)
        return None

    async def _try(self, *, tell: bool) -> Taken | None:
        async with self._sessions() as session:
            taken = await lease.try_acquire(
                session,
                me=self.me.copy_id,
                host=self.me.name,
                pid=self.me.pid,
                seconds=float(self.seconds),
                holder_gone=self.me.gone,
            )
            if taken is None:
                self.active = await lease.current(session)
                if time.monotonic() - self._noted >= NOTE_EVERY:
                    await self._note(session, CopyRole.STANDBY, None)
                await session.commit()
                return None
            if tell and taken.before.copy_id not in (None, self.me.copy_id):
                await self._tell_admins(session, taken)
            await self._note(session, CopyRole.ACTIVE, taken.epoch)
            await session.commit()
        return taken

    async def end_replaced_sessions(self) -> None:
        """The copy replaced may be frozen in the middle of transactions: end its database
        sessions, so their locks do not hold this copy's steps back (and it can commit nothing
        of what it was doing when it wakes). Called once the lease is being kept."""
        before = self.taken.before if self.taken is not None else None
        if before is None or before.copy_id in (None, self.me.copy_id):
            return
        try:
            async with self._sessions() as session:
                ended = await asyncio.wait_for(
                    lease.end_sessions(session, name=session_name(before.copy_id)), timeout=5
                )
                await session.commit()
        except Exception as exc:
            log.warning("could not end the previous copy's database sessions (%s)", cause_of(exc))
            return
        if ended:
            log.warning("ended %d database sessions of the previous copy %s", ended, before.host)

    async def _tell_admins(self, session: AsyncSession, taken: Taken) -> None:
        """One private line to each admin: who took over, and when the other one went quiet."""
        before = taken.before
        seen = (before.expires_at if before.released else before.renewed_at) or taken.since
        line = texts.took_over(
            self.me.name,
            taken.since,
            before.host or "?",
            seen,
            before.released,
            self.config.protocol.support.tz,
        )
        admins = set(self.config.settings.admin_user_ids) | await admin.admin_ids(session)
        now = self.clock.now()
        for admin_id in sorted(admins):
            outbox.send(session, admin_id, line, priority=outbox.NEWS, now=now)

    async def _note(self, session: AsyncSession, role: CopyRole, epoch: int | None) -> None:
        """This copy's sign of life in bot_copies (for `flexus-bot status`)."""
        # The database's clock, as the lease's: what `status` compares them with.
        now = func.clock_timestamp()
        values = {"host": self.me.name, "pid": self.me.pid, "role": role.value, "epoch": epoch}
        statement = dialect_insert(session, BotCopy).values(
            copy_id=self.me.copy_id, started_at=self.started_at, seen_at=now, **values
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["copy_id"], set_={**values, "seen_at": now}
            )
        )
        self._noted = time.monotonic()

    # --- active --------------------------------------------------------------------------------
    async def keep(self, lost: asyncio.Event) -> None:
        """Renew the lease every third of its length while active; set `lost` when it is gone
        (another copy took it, or it could not be renewed before it ran out)."""
        assert self.taken is not None
        every = self.seconds / 3
        while True:
            await asyncio.sleep(every)
            started = time.monotonic()
            try:
                kept = await asyncio.wait_for(self._renew(), timeout=every)
            except Exception as exc:
                if not self.fence.held:
                    log.error(
                        "could not renew the lease before it ran out (%s): "
                        "this copy stops acting and stands by",
                        cause_of(exc),
                    )
                    break
                self._trouble_starts(f"cannot renew the lease ({cause_of(exc)})")
                continue
            self._trouble_ends("the lease is renewed again")
            if not kept:
                log.error("another copy took over the lease: this copy stops acting and stands by")
                break
            self.fence.extend(started + self.seconds - MARGIN)
        self.fence.drop()
        self.role = CopyRole.STANDBY
        lost.set()

    async def _renew(self) -> bool:
        assert self.taken is not None
        async with self._sessions() as session:
            kept = await lease.renew(
                session, me=self.me.copy_id, epoch=self.taken.epoch, seconds=float(self.seconds)
            )
            if kept and time.monotonic() - self._noted >= NOTE_EVERY:
                await self._note(session, CopyRole.ACTIVE, self.taken.epoch)
            await session.commit()
        return kept

    async def close(self) -> None:
        """At a clean stop: let the lease go (a standby copy takes over at once) and say so."""
        try:
            async with self._sessions() as session:
                if self.taken is not None and self.role == CopyRole.ACTIVE:
                    await lease.release(session, me=self.me.copy_id, epoch=self.taken.epoch)
                await self._note(session, CopyRole.STOPPED, None)
                await session.commit()
        except Exception as exc:
            log.warning("could not let the lease go at stop (%s): it runs out by itself", exc)
        finally:
            self.fence.drop()
            await self.engine.dispose()

    # --- what it says about itself -------------------------------------------------------------
    async def standby_health(self) -> tuple[int, dict[str, Any]]:
        """/healthz of a standby copy: 200 while it can reach the database (it is ready to take
        over), 503 when it cannot."""
        report: dict[str, Any] = {"role": CopyRole.STANDBY.value, "copy": self.me.name}
        try:
            async with self._sessions() as session:
                holder = await asyncio.wait_for(lease.current(session), timeout=5)
        except Exception as exc:
            report.update(database=f"unreachable: {type(exc).__name__}")
            report["status"] = "database unreachable"
            return 503, report
        report["database"] = "ok"
        if holder is not None and holder.live:
            report["active_copy"] = holder.host
            report["active_since"] = _iso(holder.since)
            report["lease_epoch"] = holder.epoch
            if holder.renewed_at is not None:
                ago = (holder.now - holder.renewed_at).total_seconds()
                report["active_renewed_seconds_ago"] = round(ago, 1)
        else:
            report["active_copy"] = None
        report["status"] = "ok"
        return 200, report

    def _trouble_starts(self, message: str) -> None:
        if self._trouble is None:
            self._trouble = message
            log.warning(message)

    def _trouble_ends(self, message: str) -> None:
        if self._trouble is not None:
            self._trouble = None
            log.warning(message)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


# A copy silent this long stopped without a word (killed, its machine off, cut off).
SILENT_AFTER = timedelta(seconds=3 * NOTE_EVERY)
FORGET_AFTER = timedelta(days=7)  # copies silent this long are no longer listed


@dataclass(frozen=True)
class CopySeen:
    name: str
    pid: int
    role: str  # a CopyRole, "silent" or "replaced"
    started_at: datetime
    seen_ago: float  # seconds, by the database's clock


async def status(config: Config) -> tuple[Holder | None, list[CopySeen]]:
    """The lease and every copy's last sign of life (newest first), for `flexus-bot status`."""
    engine = make_engine(config.settings.database_url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            holder = await lease.current(session)
            now = await session.scalar(select(func.clock_timestamp()))
            rows = (await session.scalars(select(BotCopy).order_by(BotCopy.seen_at.desc()))).all()
    finally:
        await engine.dispose()
    assert now is not None
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    seen = []
    for row in rows:
        ago = now - row.seen_at
        if ago > FORGET_AFTER:
            continue
        silent = ago > SILENT_AFTER and row.role != CopyRole.STOPPED
        role = "silent" if silent else row.role
        holds = holder is not None and holder.live and holder.copy_id == row.copy_id
        if role == CopyRole.ACTIVE and not holds:
            role = "replaced"  # it said it was active, but another copy holds the lease now
        seen.append(CopySeen(row.host, row.pid, role, row.started_at, ago.total_seconds()))
    return holder, seen
