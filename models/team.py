"""Team chats and the people in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, String, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class TeamChat(Base):
    """A group that talked to the bot; enabled (a team chat) by TEAM_CHAT_IDS, which seeds the
    table, or by an admin's /habilitar; optionally tied to a sector."""

    __tablename__ = "team_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    title: Mapped[str | None] = mapped_column(String(255))
    sector: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Telegram answered 403 or "chat not found": the admins were told; the next success clears it.
    reachable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(255))
    # The group became a supergroup with this id: TEAM_CHAT_IDS may still name the old one.
    migrated_to: Mapped[int | None] = mapped_column(BigInteger)
    # Every group that talked to the bot is listed (`flexus-bot chats`), enabled or not.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # In a group with topics (a forum): the topic where /habilitar was written, where alerts
    # go (None: the General topic). Its name as Telegram showed it, for the operator.
    alert_topic_id: Mapped[int | None] = mapped_column(BigInteger)
    alert_topic_name: Mapped[str | None] = mapped_column(String(128))
    # False once Telegram refused a 👍 here (reactions off or limited): people get a reply.
    reactions_ok: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The last reminder posted here (at most one every 30 minutes: a group hears only news).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Member(Base):
    """A person seen in a team chat: name as Telegram shows it, chosen sector, reachable privately."""

    __tablename__ = "members"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    full_name: Mapped[str] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64))
    sector: Mapped[str | None] = mapped_column(String(64))
    # True once the person opened a private chat with the bot (/start), so it may write to them.
    private_chat: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
