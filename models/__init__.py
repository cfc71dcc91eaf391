"""SQLAlchemy models; importing this package registers every table on Base.metadata."""

from models.base import Base, UTCDateTime
from models.incident import Event, Incident, IncidentMessage, Report, Vote
from models.team import Member, TeamChat
from models.timer import Timer

__all__ = [
    "Base",
    "Event",
    "Incident",
    "IncidentMessage",
    "Member",
    "Report",
    "TeamChat",
    "Timer",
    "UTCDateTime",
    "Vote",
]
