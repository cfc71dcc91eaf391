"""Copies of the bot on one PostgreSQL database: the lease that makes one of them the active
copy, and each copy's last sign of life (`flexus-bot status`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime

LEASE_NAME = "active"  # the one row of bot_lease


class BotLease(Base):
    """Who may act. Taken by a conditional UPDATE when it has expired (or was released), renewed
    by its holder; `epoch` grows at every takeover and fences the outbox (outbox.claimed_epoch).
    Its times are the database's clock, so the copies' clocks never have to agree."""

    __tablename__ = "bot_lease"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))  # the copy id (see bot.ops.copies)
    host: Mapped[str | None] = mapped_column(String(120))
    pid: Mapped[int | None] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released: Mapped[bool] = mapped_column(Boolean, default=False)


class BotCopy(Base):
    """One copy's last sign of life: what it was doing and when it said so."""

    __tablename__ = "bot_copies"

    copy_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # models.vocab.CopyRole
    epoch: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
