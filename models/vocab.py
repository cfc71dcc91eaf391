"""The words the bot stores: every kind, cause and answer written to the database, in one place.

Each vocabulary is a StrEnum whose values are the strings already in the database: a member
compares equal to its stored string, so rows written before these enums existed still match.
Renaming a value orphans the rows that hold it, so values never change; names may.
The words a person reads for each member are in bot.texts, keyed by these enums.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class IncidentStatus(StrEnum):
    """Incident.status, in protocol order."""

    CONFIRMING = "confirming"
    GENERAL = "general"
    PROBABLY_LOCAL = "probably_local"
    UNCONFIRMED = "unconfirmed"
    IN_PROGRESS = "in_progress"  # support contacted, working on it
    VALIDATING = "validating"  # sectors are checking FLEXUS before going back to work
    RESOLVED = "resolved"  # all-clear sent, acknowledgements being collected
    CLOSED = "closed"  # summary posted
    DISMISSED = "dismissed"  # local problem or false alarm


class InboxStatus(StrEnum):
    """InboxUpdate.status."""

    RECEIVED = "received"  # stored, not yet handled
    HANDLED = "handled"
    SKIPPED = "skipped"  # could not be parsed, or its handler failed: logged once, never retried


class OutboxStatus(StrEnum):
    """OutboxMessage.status."""

    PENDING = "pending"
    SENT = "sent"
    FOLDED = "folded"  # carried by another row: a newer edit of its card, a joined message
    UNCHANGED = "unchanged"  # the card already shows exactly this
    DROPPED = "dropped"  # given up (logged): chatter after its tries, a person's row after a
    # day, or what Telegram will never accept as it is


class Priority(IntEnum):
    """OutboxMessage.priority: lower goes first."""

    # Critical and news rows to a team chat are retried until they go; to a person, for a day.
    CRITICAL = 0  # the alert, "falla general", escalations, the all-clear
    NEWS = 1  # news for the team, pins
    # To one person (replies, prompts, reactions), card clean-ups: dropped after five tries.
    CHATTER = 2


class OutboxMethod(StrEnum):
    """OutboxMessage.method: what the delivery worker does with the row."""

    SEND = "send"  # a text message
    PHOTO = "photo"  # a photo Telegram already has (file_id)
    UPLOAD_PHOTO = "upload_photo"  # a photo made here (a chart)
    UPLOAD_DOCUMENT = "upload_document"  # a file made here (an export)
    EDIT_CARD = "edit_card"  # a card (alert, panel, question) shows its new state
    ASK_SECTOR = "ask_sector"  # "¿de qué sector sos?", every pending one of a group at once
    REACTION = "reaction"  # a 👍 on a report
    PIN = "pin"
    UNPIN = "unpin"
    CLEAR_MARKUP = "clear_markup"  # a question's buttons come off once answered


class CheckHealth(StrEnum):
    """CheckState.state: what a check's recent probes say, past its thresholds."""

    UNKNOWN = "unknown"  # not enough probes yet
    UP = "up"
    DOWN = "down"


class CheckFailure(StrEnum):
    """Why a probe failed (its words for people are in bot.texts)."""

    TIMEOUT = "timeout"
    REFUSED = "refused"  # connection refused
    DNS = "dns"  # the name does not resolve
    TLS = "tls"  # the certificate or the TLS handshake failed
    HTTP_STATUS = "http_status"  # an unexpected HTTP status
    TEXT_MISSING = "text_missing"  # the expected text is not in the page
    NETWORK = "network"  # any other network error
    NO_PUSH = "no_push"  # the office's job stopped calling


class MaintenanceSource(StrEnum):
    """MaintenanceWindow.source: who planned it."""

    CHAT = "chat"  # /mantenimiento
    CLI = "cli"  # flexus-bot maintenance add
    PROTOCOL = "protocol"  # a [[maintenance]] recurring window of the protocol file


class CopyRole(StrEnum):
    """What a copy of the bot is doing (bot_copies.role), with several copies on PostgreSQL."""

    ACTIVE = "active"  # holds the lease: polls, sends, fires the timers
    STANDBY = "standby"  # waits to take over
    STOPPED = "stopped"  # stopped cleanly


class AdminActionKind(StrEnum):
    """AdminAction.action: what an admin did (for `flexus-bot audit`)."""

    ADD_ADMIN = "add_admin"
    REMOVE_ADMIN = "remove_admin"
    ENABLE_CHAT = "enable_chat"
    DISABLE_CHAT = "disable_chat"
    ADD_GERENCIA = "add_gerencia"
    ADD_GERENCIA_BACKUP = "add_gerencia_backup"
    REMOVE_GERENCIA = "remove_gerencia"
    PLAN_MAINTENANCE = "plan_maintenance"
    CANCEL_MAINTENANCE = "cancel_maintenance"


class TimerStatus(StrEnum):
    """Timer.status."""

    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class TimerKind(StrEnum):
    """Timer.kind: what a stored deadline or reminder is for (one handler per kind)."""

    CONFIRMATION = "confirmation"  # step 3: votes are over, classify the incident
    EXPIRY = "expiry"  # step 4: an unconfirmed or probably-local incident nobody followed up
    NUDGE = "nudge"  # step 5: "FLEXUS sigue caído hace 35 min. ¿Novedades?"
    SUPPORT_OPENS = "support_opens"  # step 5: support opens now, call
    ACCESS_REPEAT = "access_repeat"  # step 6: Gerencia has not answered, ask again
    ACK_REMINDER = "ack_reminder"  # step 8: sectors that have not read the all-clear
    ACK_DEADLINE = "ack_deadline"  # step 8: time is up for "Entendido", post the summary
    MONTHLY_REPORT = "monthly_report"  # history: last month's figures to the team
    DAILY_BACKUP = "daily_backup"  # housekeeping: a copy of the SQLite database
    MAINTENANCE_REMINDER = "maintenance_reminder"  # planned maintenance starts soon
    MAINTENANCE_START = "maintenance_start"  # planned maintenance starts now
    MAINTENANCE_END = "maintenance_end"  # planned maintenance is over
    CHECK_OPEN = "check_open"  # a FLEXUS check down and nobody reported: open the incident
    MORNING_CHECK = "morning_check"  # before the workday: every check runs once
    ESCALATION = "escalation"  # a general failure nobody took: write the next contact
    FOLLOW_UP_DUE = "follow_up_due"  # a follow-up's due date: remind its owner (payload: its id)
    DRILL = "drill"  # a scheduled drill ([drills] in the protocol file) starts


class EventKind(StrEnum):
    """Event.kind: a step of an incident's timeline, in protocol order."""

    OPENED = "opened"
    JOINED = "joined"
    VOTE = "vote"  # detail: the VoteChoice
    GENERAL = "general"
    PROBABLY_LOCAL = "probably_local"
    UNCONFIRMED = "unconfirmed"
    ESCALATED = "escalated"
    EXPIRED = "expired"
    DISMISSED = "dismissed"  # detail: the LocalCause
    CLAIMED = "claimed"
    HANDED_OVER = "handed_over"  # detail: the new coordinator's name
    SUPPORT_CONTACTED = "support_contacted"  # detail: the ticket number, if any
    SUPPORT_REFERENCE = "support_reference"
    SUPPORT_NOTE = "support_note"  # detail: the answer to "¿te dieron número?" with none
    CAUSE_TOLD = "cause_told"  # detail: what support said caused the failure
    FOLLOW_UP_ADDED = "follow_up_added"  # detail: the follow-up's text
    FOLLOW_UP_DONE = "follow_up_done"  # detail: the follow-up's text
    DRILL_ENDED = "drill_ended"  # detail: "real" (a real report ended it) or "by_hand"
    SUPPORT_MESSAGE_LEFT = "support_message_left"  # support was closed: a message was left
    IN_PROGRESS = "in_progress"
    ACCESS_REQUESTED = "access_requested"
    ACCESS_REQUESTED_AGAIN = "access_requested_again"
    ACCESS_REMINDER = "access_reminder"  # detail: the round
    ACCESS_UNANSWERED = "access_unanswered"
    ACCESS_GRANTED = "access_granted"  # detail: the remote-access tool
    VALIDATION_STARTED = "validation_started"  # detail: the round
    VALIDATION_OK = "validation_ok"  # detail: the sector
    VALIDATION_FAILED = "validation_failed"  # detail: the sector
    VALIDATED = "validated"
    VALIDATION_OVERRIDE = "validation_override"  # detail: "sectors: reason"
    RESOLVED = "resolved"  # detail: the instruction
    ACKNOWLEDGED = "acknowledged"
    ACK_REMINDER = "ack_reminder"  # detail: the sectors reminded
    CLOSED = "closed"
    RELAPSE = "relapse"  # opened soon after an all-clear; detail: the incident that relapsed
    FAILED_AGAIN = "failed_again"  # on the relapsed incident; detail: the new incident
    STATUS_UPDATE = "status_update"  # detail: what the team was told
    ESCALATED_TO = "escalated_to"  # nobody took the case: detail, who was written


# The events that confirm a general failure (by votes, or the reporter escalating).
CONFIRMING_EVENTS = (EventKind.GENERAL, EventKind.ESCALATED)


class MessageKind(StrEnum):
    """IncidentMessage.kind (and an outbox row's card kind): which of the bot's messages it is."""

    ALERT = "alert"  # step 2: the live status card
    SECTOR_QUESTION = "sector_question"  # "¿de qué sector sos?" (not tied to an incident)
    REFERENCE_PROMPT = "ref_prompt"  # step 5: "reply with the ticket number"
    VALIDATION = "validation"  # step 7: stored as "validation:<round>", see validation_kind
    OVERRIDE_PROMPT = "override_prompt"  # step 7: "reply with why we go on without them"
    ALL_CLEAR = "all_clear"  # step 8
    PANEL = "panel"  # steps 5–8: the coordinator's one message, edited at each step
    STATUS_PROMPT = "status_prompt"  # "📣 Contar novedades": reply with what to tell the team
    CAUSE_PROMPT = "cause_prompt"  # after the all-clear: "¿Qué dijo soporte que pasó?"


def validation_kind(round_number: int) -> str:
    """The validation question of one round: each round is a message of its own."""
    return f"{MessageKind.VALIDATION}:{round_number}"


class LocalCause(StrEnum):
    """Incident.local_cause: why an incident was dismissed. The reporter's checklist offers
    every member but EXPIRED, in this order; the causes found at the reporter's desk come first."""

    PC = "pc"
    INTERNET = "internet"
    POWER = "power"
    WORKS = "works"  # it works again: a false alarm
    EXPIRED = "expired"  # nobody confirmed nor followed up: it closed by itself

    @property
    def found_locally(self) -> bool:
        """A cause at the reporter's desk (counted as a local failure, not a false alarm)."""
        return self not in (LocalCause.WORKS, LocalCause.EXPIRED)


# What the reporter can pick on the checklist (buttons, and what the service accepts).
CHECKLIST_CAUSES = tuple(c for c in LocalCause if c is not LocalCause.EXPIRED)
# The causes that make a dismissed incident a local failure (history and reports count them).
FOUND_LOCALLY = tuple(c for c in LocalCause if c.found_locally)


class VoteChoice(StrEnum):
    """Vote.choice: the answer to the alert's "¿Te pasa lo mismo?"."""

    FAILS = "fails"
    WORKS = "works"


class CheckState(StrEnum):
    """A required sector's answer in a validation round ("¿FLEXUS funciona en tu sector?")."""

    PENDING = "pending"  # nobody in the sector answered yet
    WORKS = "works"
    FAILS = "fails"


class Refusal(StrEnum):
    """Why a person may not do something now (Refused.reason); each has a text in bot.texts."""

    CLOSED = "closed"
    VOTE_CLOSED = "vote_closed"
    UNKNOWN_INCIDENT = "unknown_incident"
    NO_OPEN_INCIDENT = "no_open_incident"
    REPORTER_OR_ADMIN = "reporter_or_admin"
    ALREADY_GENERAL = "already_general"
    COORDINATOR_OR_ADMIN = "coordinator_or_admin"
    CLAIM_FIRST = "claim_first"
    ALREADY_CLAIMED = "already_claimed"
    GERENCIA_ONLY = "gerencia_only"
    ACCESS_ALREADY_GRANTED = "access_already_granted"
    NOT_GENERAL_YET = "not_general_yet"
    VALIDATION_CLOSED = "validation_closed"
    NO_SECTOR = "no_sector"
    VALIDATION_RUNNING = "validation_running"
    NOT_VALIDATED = "not_validated"
    UNKNOWN_PERSON = "unknown_person"
    ALREADY_ANNOUNCED = "already_announced"
    UNKNOWN_FOLLOW_UP = "unknown_follow_up"
    FOLLOW_UP_OWNER_OR_ADMIN = "follow_up_owner_or_admin"
    REAL_INCIDENT_OPEN = "real_incident_open"  # a drill cannot start during a real incident
    DRILL_UNDER_WAY = "drill_under_way"
    NO_DRILL = "no_drill"
