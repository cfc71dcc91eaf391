"""The lease that makes one copy of the bot the active one (PostgreSQL only).

One row (`bot_lease`), taken by a conditional UPDATE when it has expired or was released, and
renewed by its holder; its times are the database's own clock (`clock_timestamp()`), so the
machines' clocks never have to agree. Every takeover raises the epoch; outbox rows are claimed
with it (`claim_row`) and a step commits only while it still holds (`held`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from models.copies import LEASE_NAME

_HOLDS = "holder = :me AND epoch = :epoch AND NOT released AND expires_at > clock_timestamp()"
_HOLDS_AS = (  # the same, with parameter names of their own inside another statement
    "holder = :lease_me AND epoch = :lease_epoch AND NOT released "
    "AND expires_at > clock_timestamp()"
)


@dataclass(frozen=True)
class Holder:
    copy_id: str | None
    host: str | None
    pid: int | None
    epoch: int
    since: datetime | None
    renewed_at: datetime | None
    expires_at: datetime | None
    released: bool
    now: datetime  # the database's clock when read

    @property
    def live(self) -> bool:
        """Someone holds it now (not released, not expired)."""
        return (
            self.copy_id is not None
            and not self.released
            and self.expires_at is not None
            and self.expires_at > self.now
        )


@dataclass(frozen=True)
class Taken:
    epoch: int
    since: datetime
    before: Holder  # the row as it was: who held it, and whether they let it go


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _holder(row: Any) -> Holder:
    return Holder(
        copy_id=row.holder,
        host=row.host,
        pid=row.pid,
        epoch=int(row.epoch),
        since=_aware(row.since),
        renewed_at=_aware(row.renewed_at),
        expires_at=_aware(row.expires_at),
        released=bool(row.released),
        now=_aware(row.now),
    )


_READ = (
    "SELECT holder, host, pid, epoch, since, renewed_at, expires_at, released, "
    "clock_timestamp() AS now FROM bot_lease WHERE name = :name"
)


async def current(session: AsyncSession) -> Holder | None:
    row = (await session.execute(text(_READ), {"name": LEASE_NAME})).first()
    return None if row is None else _holder(row)


async def try_acquire(
    session: AsyncSession,
    *,
    me: str,
    host: str,
    pid: int,
    seconds: float,
    holder_gone: Any = None,
) -> Taken | None:
    """Take the lease if nobody holds it (expired, released, or `holder_gone(holder)` says its
    process is known dead). None: another copy holds it, or is taking it right now. The caller
    commits."""
    row = (
        await session.execute(text(_READ + " FOR UPDATE SKIP LOCKED"), {"name": LEASE_NAME})
    ).first()
    if row is None:
        return None  # another copy is taking it this very moment
    before = _holder(row)
    if before.live and before.copy_id != me and not (holder_gone and holder_gone(before)):
        return None
    taken = (
        await session.execute(
            text(
                "UPDATE bot_lease SET holder = :me, host = :host, pid = :pid, "
                "epoch = epoch + 1, since = clock_timestamp(), renewed_at = clock_timestamp(), "
                "expires_at = clock_timestamp() + make_interval(secs => :seconds), "
                "released = false WHERE name = :name RETURNING epoch, since"
            ),
            {"me": me, "host": host, "pid": pid, "seconds": seconds, "name": LEASE_NAME},
        )
    ).one()
    return Taken(epoch=int(taken.epoch), since=_aware(taken.since), before=before)


async def renew(session: AsyncSession, *, me: str, epoch: int, seconds: float) -> bool:
    """Hold on for `seconds` more; False if another copy has taken over (or it was released)."""
    result = await session.execute(
        text(
            "UPDATE bot_lease SET renewed_at = clock_timestamp(), "
            "expires_at = clock_timestamp() + make_interval(secs => :seconds) "
            "WHERE name = :name AND holder = :me AND epoch = :epoch AND NOT released "
            "RETURNING epoch"
        ),
        {"me": me, "epoch": epoch, "seconds": seconds, "name": LEASE_NAME},
    )
    return result.first() is not None


async def release(session: AsyncSession, *, me: str, epoch: int) -> bool:
    """Let go at a clean stop: a standby copy takes over at once instead of waiting it out."""
    result = await session.execute(
        text(
            "UPDATE bot_lease SET released = true, expires_at = clock_timestamp() "
            "WHERE name = :name AND holder = :me AND epoch = :epoch RETURNING epoch"
        ),
        {"me": me, "epoch": epoch, "name": LEASE_NAME},
    )
    return result.first() is not None


def holds(*, me: str, epoch: int) -> Any:
    """A condition for a statement of a step: this copy still holds the lease of `epoch`."""
    return text(
        f"EXISTS (SELECT 1 FROM bot_lease WHERE name = :lease_name AND {_HOLDS_AS})"
    ).bindparams(lease_name=LEASE_NAME, lease_me=me, lease_epoch=epoch)


async def held(session: AsyncSession, *, me: str, epoch: int) -> bool:
    """Whether `me` still holds the lease of `epoch`, by the database's clock."""
    result = await session.execute(
        text(f"SELECT 1 FROM bot_lease WHERE name = :name AND {_HOLDS}"),
        {"me": me, "epoch": epoch, "name": LEASE_NAME},
    )
    return result.first() is not None


async def claim_rows(
    session: AsyncSession,
    row_ids: list[int],
    *,
    me: str,
    epoch: int,
    write_ahead: set[int],
    posts: set[int],
) -> dict[int, bool]:
    """Take outbox rows to send them, only while holding the lease of `epoch`, in one
    statement. Returns, for each row taken, whether it may have gone out already: a try that
    timed out, or (a row that `posts`) one another epoch took and never finished, which that copy
    may have sent. A row missing from the answer is not ours to send (the lease is gone, or it
    is no longer pending). `write_ahead` rows are marked uncertain before this send, so a crash
    during it is counted as a possible duplicate."""
    if not row_ids:
        return {}
    maybe_sent = (
        "(before.uncertain OR (outbox.id = ANY(:posts) AND before.claimed_epoch IS NOT NULL "
        "AND before.claimed_epoch <> :epoch))"
    )
    result = await session.execute(
        text(
            "WITH before AS (SELECT id, uncertain, claimed_epoch FROM outbox "
            "WHERE id = ANY(:ids) ORDER BY id FOR UPDATE) "
            "UPDATE outbox SET claimed_epoch = :epoch, "
            f"uncertain = ({maybe_sent} OR outbox.id = ANY(:ahead)) "
            "FROM before WHERE outbox.id = before.id AND outbox.status = 'pending' AND EXISTS "
            f"(SELECT 1 FROM bot_lease WHERE name = :name AND {_HOLDS}) "
            f"RETURNING outbox.id, {maybe_sent} AS maybe_sent"
        ),
        {
            "ids": list(row_ids),
            "ahead": sorted(write_ahead),
            "posts": sorted(posts),
            "me": me,
            "epoch": epoch,
            "name": LEASE_NAME,
        },
    )
    return {int(r.id): bool(r.maybe_sent) for r in result}


async def end_sessions(session: AsyncSession, *, name: str) -> int:
    """End every database session of the copy whose sessions are named `name` (see
    bot.storage.db.session_name): its transactions roll back and their locks go. Returns how
    many were ended. Allowed for sessions of the same database user."""
    result = await session.execute(
        text(
            "SELECT count(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :name "
            "AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )
    return int(result.scalar_one())
