"""Administration done from the chat (or the CLI): extra admins, Gerencia contacts, and the
record of every admin action (who, what, when)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Admin(Base):
    """An admin added with `flexus-bot admins add` (ADMIN_USER_IDS are admins too)."""

    __tablename__ = "admins"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    added_by: Mapped[int | None] = mapped_column(BigInteger)  # None: from the command line
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GerenciaContact(Base):
    """A Gerencia contact registered from the chat (`/gerencia` answering their message);
    used together with the protocol file's [[gerencia]] entries."""

    __tablename__ = "gerencia_contacts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    backup: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AdminAction(Base):
    """Every admin action, for `flexus-bot audit` (never shown in /informe nor exported)."""

    __tablename__ = "admin_actions"
    __table_args__ = (Index("ix_admin_actions_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # None: from the command line
    actor_name: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(Text)
