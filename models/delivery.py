"""The update inbox and the delivery outbox: what came in from Telegram, and what must go out.

An update is stored before Telegram is told it arrived, and marked handled in the same
transaction as its effect. A message a step decides to send is stored in that step's
transaction and sent afterwards by the delivery worker, which records the outcome.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.vocab import InboxStatus, OutboxStatus, Priority

# InboxUpdate.status values (models.vocab.InboxStatus).
RECEIVED = InboxStatus.RECEIVED
HANDLED = InboxStatus.HANDLED
SKIPPED = InboxStatus.SKIPPED

# OutboxMessage.priority values (models.vocab.Priority): lower goes first.
CRITICAL = Priority.CRITICAL
NEWS = Priority.NEWS
CHATTER = Priority.CHATTER

# OutboxMessage.status values (models.vocab.OutboxStatus).
PENDING = OutboxStatus.PENDING
SENT = OutboxStatus.SENT
FOLDED = OutboxStatus.FOLDED
UNCHANGED = OutboxStatus.UNCHANGED
DROPPED = OutboxStatus.DROPPED


class InboxUpdate(Base):
    __tablename__ = "inbox_updates"
    __table_args__ = (Index("ix_inbox_updates_status_update_id", "status", "update_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))  # message, callback_query, ... (for the log)
    data: Mapped[str] = mapped_column(Text)  # the update as Telegram sent it (JSON)
    status: Mapped[str] = mapped_column(String(16), default=RECEIVED)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_priority_id", "status", "priority", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    priority: Mapped[int] = mapped_column(Integer)
    # models.vocab.OutboxMethod
    method: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)  # JSON: text, markup, fallback, record, ...
    # Edits of one card (incident:kind:chat) are folded: only the newest pending one is sent.
    card_key: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A try that may have reached Telegram (a timeout): a later success may be a duplicate.
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    # With several copies on PostgreSQL: the lease epoch of the copy that last took this row to
    # send it. A row another epoch took may have gone out already (a possible duplicate).
    claimed_epoch: Mapped[int | None] = mapped_column(BigInteger)
