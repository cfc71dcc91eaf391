"""Planned maintenance of FLEXUS: a window announced ahead, during which a /caido is not an
outage unless the person says it is something else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class MaintenanceWindow(Base):
    __tablename__ = "maintenance_windows"
    __table_args__ = (
        # A recurring window of the protocol file is stored once per occurrence.
        UniqueConstraint("recurring_key", "starts_at", name="uq_maintenance_recurring"),
        Index("ix_maintenance_windows_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())  # now: moved by fin / hasta
    announced_end: Mapped[datetime] = mapped_column(UTCDateTime())  # as first announced
    reason: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(16))  # a models.vocab.MaintenanceSource
    recurring_key: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(BigInteger)  # None: CLI or protocol file
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[int | None] = mapped_column(BigInteger)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # When the team was told it was planned, and that it was cancelled: a window planned or
    # cancelled from the command line is told by the running bot (within a minute).
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
