"""An incident and everything recorded about it: reports, votes, timeline, messages sent."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.vocab import IncidentStatus

# Incident.status values (models.vocab.IncidentStatus), by the names the code uses.
CONFIRMING = IncidentStatus.CONFIRMING
GENERAL = IncidentStatus.GENERAL
PROBABLY_LOCAL = IncidentStatus.PROBABLY_LOCAL
UNCONFIRMED = IncidentStatus.UNCONFIRMED
IN_PROGRESS = IncidentStatus.IN_PROGRESS
VALIDATING = IncidentStatus.VALIDATING
RESOLVED = IncidentStatus.RESOLVED
CLOSED = IncidentStatus.CLOSED
DISMISSED = IncidentStatus.DISMISSED
OPEN_STATUSES = (CONFIRMING, GENERAL, PROBABLY_LOCAL, UNCONFIRMED, IN_PROGRESS, VALIDATING)


class Incident(Base):
    """One FLEXUS outage, from the first report to the all-clear (or dismissal)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    # 1 while the incident is open, NULL once closed: the unique constraint lets the database,
    # not Python, guarantee a single open incident (NULLs never collide, on SQLite and PostgreSQL).
    open_slot: Mapped[int | None] = mapped_column(Integer, unique=True)
    reporter_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.user_id"))
    origin_chat_id: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text, default="")
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the opening report was handled late (the bot was down): opened_at is when the
    # person wrote it, this is when the bot read it.
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Written for the history but not read yet (classified_at, closed_by, summary_posted_at,
    # and the Report rows): the timeline's events carry the same moments today.
    classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    local_cause: Mapped[str | None] = mapped_column(String(32))  # a models.vocab.LocalCause
    instruction: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    # Coordination and support (protocol steps 5–8).
    coordinator_id: Mapped[int | None] = mapped_column(BigInteger)
    coordinator_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    support_contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    support_contacted_by: Mapped[int | None] = mapped_column(BigInteger)
    support_ref: Mapped[str | None] = mapped_column(String(120))
    # Support was closed: a message was left (the call counts once support really answers).
    support_message_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the coordinator answered to "¿te dieron número?" when it held no number.
    support_note: Mapped[str | None] = mapped_column(Text)
    # What support said caused the failure (asked of the coordinator after the all-clear).
    cause: Mapped[str | None] = mapped_column(Text)
    access_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    access_granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    access_granted_by: Mapped[int | None] = mapped_column(BigInteger)
    access_tool: Mapped[str | None] = mapped_column(String(40))
    validation_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    restart_session: Mapped[bool | None] = mapped_column(Boolean)
    summary_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Reported during planned maintenance ("es otra cosa: reportar igual"): the window's time
    # is not downtime.
    maintenance_id: Mapped[int | None] = mapped_column(Integer)
    # A drill (/simulacro): the real protocol, never counted in a figure.
    drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Opened soon after another incident's all-clear: FLEXUS failed again.
    relapse_of: Mapped[int | None] = mapped_column(Integer)


class Report(Base):
    """A /caido message: who, where, what they saw. Kept for the history, which will read it
    (today the "opened" and "joined" events carry the same)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.user_id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Vote(Base):
    """One person's answer to "¿Te pasa lo mismo?"; one row per person, changeable."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("incident_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.user_id"))
    choice: Mapped[str] = mapped_column(String(16))  # a models.vocab.VoteChoice
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Event(Base):
    """The incident's timeline: every step with its time and its author."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # a models.vocab.EventKind
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentMessage(Base):
    """A message the bot posted about an incident (the alert card in each chat, ...), to edit it later."""

    __tablename__ = "incident_messages"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_id"),
        Index("ix_incident_messages_incident_kind", "incident_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # a models.vocab.MessageKind
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Hash of the text and buttons the message shows now: an edit to the same is not sent.
    shown_hash: Mapped[str | None] = mapped_column(String(64))


class ValidationAnswer(Base):
    """A sector's answer to "¿FLEXUS funciona en tu sector?" in one validation round (latest wins)."""

    __tablename__ = "validation_answers"
    __table_args__ = (UniqueConstraint("incident_id", "round", "sector"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    sector: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.user_id"))
    works: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Acknowledgement(Base):
    """Someone pressed "Entendido" on the all-clear."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("incident_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("members.user_id"))
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StatusUpdate(Base):
    """What the coordinator told the team while FLEXUS was down, and when the next news is due."""

    __tablename__ = "status_updates"
    __table_args__ = (Index("ix_status_updates_incident_id", "incident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FollowUp(Base):
    """Something promised after an incident (`/seguimiento`): who owns it, by when, and when it
    was done."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(BigInteger)
    owner_name: Mapped[str] = mapped_column(String(120))
    due_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[int | None] = mapped_column(BigInteger)
