"""The bot's own checks of FLEXUS and of the office: each check's state, its transitions with
the reason, and its samples as hourly aggregates (never one row per probe)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class CheckStatus(Base):
    __tablename__ = "check_states"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # models.vocab.CheckHealth
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(32))  # models.vocab.CheckFailure
    fails_in_row: Mapped[int] = mapped_column(Integer, default=0)
    oks_in_row: Mapped[int] = mapped_column(Integer, default=0)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CheckTransition(Base):
    __tablename__ = "check_transitions"
    __table_args__ = (Index("ix_check_transitions_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckHour(Base):
    """One check's samples in one hour: how many probes, how many failed, total answer time."""

    __tablename__ = "check_hours"
    __table_args__ = (UniqueConstraint("name", "hour", name="uq_check_hours_name_hour"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    hour: Mapped[datetime] = mapped_column(UTCDateTime())  # the hour's start
    samples: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    total_ms: Mapped[int] = mapped_column(BigInteger, default=0)
