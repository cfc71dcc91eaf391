"""The stored vocabularies: values never change (rows hold them), and every member has its words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import texts
from bot.app import build_application
from bot.core.config import Config, load_protocol, load_settings
from bot.protocol.allclear import NOT_IN_TIMELINE
from bot.timers.jobs import HANDLERS_KEY
from handlers.kit.prompts import PROMPTS_KEY
from models.vocab import (
    CHECKLIST_CAUSES,
    CheckState,
    EventKind,
    LocalCause,
    MessageKind,
    Refusal,
    TimerKind,
    VoteChoice,
)

# The strings already in the database. A changed value would orphan the rows that hold it.
STORED = {
    TimerKind: {
        "confirmation", "expiry", "nudge", "support_opens", "access_repeat", "ack_reminder",
        "ack_deadline", "monthly_report", "daily_backup",
    },
    EventKind: {
        "opened", "joined", "vote", "general", "probably_local", "unconfirmed", "escalated",
        "expired", "dismissed", "claimed", "handed_over", "support_contacted",
        "support_reference", "in_progress", "access_requested", "access_requested_again",
        "access_reminder", "access_unanswered", "access_granted", "validation_started",
        "validation_ok", "validation_failed", "validated", "validation_override", "resolved",
        "acknowledged", "ack_reminder", "closed",
    },
    MessageKind: {
        "alert", "sector_question", "ref_prompt", "validation", "override_prompt", "all_clear",
    },
    LocalCause: {"pc", "internet", "power", "works", "expired"},
    VoteChoice: {"fails", "works"},
}  # fmt: skip


@pytest.mark.parametrize("vocabulary", list(STORED), ids=lambda v: v.__name__)
def test_stored_values_are_the_ones_already_in_the_database(vocabulary: type) -> None:
    assert {member.value for member in vocabulary} >= STORED[vocabulary]


def test_every_refusal_has_a_text_and_every_text_a_refusal() -> None:
    assert set(texts.REFUSALS) == set(Refusal)
    assert all(texts.REFUSALS[r].strip() for r in Refusal)


def test_every_local_cause_has_its_words_and_the_checklist_a_button_for_each() -> None:
    assert set(texts.LOCAL_CAUSES) == set(LocalCause)
    assert list(texts.CHECK_BUTTONS) == list(CHECKLIST_CAUSES)
    assert LocalCause.EXPIRED not in CHECKLIST_CAUSES
    found = {c for c in LocalCause if c.found_locally}
    assert {LocalCause.PC, LocalCause.INTERNET, LocalCause.POWER} <= found
    assert not found & {LocalCause.WORKS, LocalCause.EXPIRED}  # a false alarm; nobody confirmed
    assert set(texts.SHORT_CAUSES) == found


def test_every_event_kind_is_told_in_the_timeline_or_deliberately_left_out() -> None:
    told = set(texts.TIMELINE)
    assert told.isdisjoint(NOT_IN_TIMELINE)
    assert told | NOT_IN_TIMELINE == set(EventKind)


def test_every_vote_choice_and_check_state_has_its_words() -> None:
    assert set(texts.VOTE_BUTTONS) == set(texts.VOTE_NOTED) == set(VoteChoice)
    assert set(texts.CHECK_MARKS) == set(CheckState)


def test_every_timer_kind_and_every_question_has_a_handler(tmp_path: Path) -> None:
    settings = load_settings(
        _env_file=None,
        telegram_bot_token="123:abc",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.storage.db'}",
    )
    app = build_application(Config(settings=settings, protocol=load_protocol()))
    assert set(app.bot_data[HANDLERS_KEY]) == set(TimerKind)
    questions = {
        MessageKind.REFERENCE_PROMPT,
        MessageKind.OVERRIDE_PROMPT,
        MessageKind.STATUS_PROMPT,
        MessageKind.CAUSE_PROMPT,
    }
    assert set(app.bot_data[PROMPTS_KEY]) == questions
