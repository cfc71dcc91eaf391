"""SQLAlchemy models; importing this package registers every table on Base.metadata."""

from models.admin import Admin, AdminAction, GerenciaContact
from models.base import Base, UTCDateTime
from models.checks import CheckHour, CheckStatus, CheckTransition
from models.copies import BotCopy, BotLease
from models.delivery import InboxUpdate, OutboxMessage
from models.incident import (
    Acknowledgement,
    Event,
    FollowUp,
    Incident,
    IncidentMessage,
    Report,
    StatusUpdate,
    ValidationAnswer,
    Vote,
)
from models.maintenance import MaintenanceWindow
from models.state import BotState
from models.team import Member, TeamChat
from models.timer import Timer

__all__ = [
    "Acknowledgement",
    "Admin",
    "AdminAction",
    "Base",
    "BotCopy",
    "BotLease",
    "BotState",
    "CheckHour",
    "CheckStatus",
    "CheckTransition",
    "Event",
    "FollowUp",
    "GerenciaContact",
    "InboxUpdate",
    "Incident",
    "IncidentMessage",
    "MaintenanceWindow",
    "Member",
    "OutboxMessage",
    "Report",
    "StatusUpdate",
    "TeamChat",
    "Timer",
    "UTCDateTime",
    "ValidationAnswer",
    "Vote",
]
