"""Every refusal Telegram answers to the bot's calls has one meaning, decided in one table."""

from __future__ import annotations

import pytest

from bot.transport.telegram_errors import KNOWN, Verdict, verdict
from tests.support import fakebotapi

# (method, code, description as Telegram sends it, what it means). The descriptions are the
# Bot API server's own (tdlib/telegram-bot-api Client.cpp, tdlib/td), with the older wordings
# of the same refusals, and those people met in the public trackers of bot libraries; the fake
# Bot API answers with the same texts. A 403 carrying a server code (CHAT_WRITE_FORBIDDEN)
# reaches the bot as a 400: the server turns it so.
REAL = [
    # A chat the bot may not write to, with a 403 or a 400: never a silent drop.
    ("sendMessage", 403, "Forbidden: bot was kicked from the supergroup chat", Verdict.NOT_HERE),
    ("sendMessage", 403, "Forbidden: bot was kicked from the group chat", Verdict.NOT_HERE),
    ("sendMessage", 403, "Forbidden: bot is not a member of the supergroup chat", Verdict.NOT_HERE),
    ("sendMessage", 403, "Forbidden: bot was blocked by the user", Verdict.NOT_HERE),
    ("sendMessage", 403, "Forbidden: bot can't initiate conversation with a user", Verdict.NOT_HERE),
    ("sendMessage", 403, "Forbidden: user is deactivated", Verdict.NOT_HERE),
    ("sendMessage", 403, "Forbidden: the group chat was deleted", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: chat not found", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: CHAT_WRITE_FORBIDDEN", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: CHAT_RESTRICTED", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: have no rights to send a message", Verdict.NOT_HERE),
    (
        "sendMessage",
        400,
        "Bad Request: not enough rights to send text messages to the chat",
        Verdict.NOT_HERE,
    ),
    ("sendPhoto", 400, "Bad Request: not enough rights to send photos to the chat", Verdict.NOT_HERE),
    (
        "sendDocument",
        400,
        "Bad Request: not enough rights to send documents to the chat",
        Verdict.NOT_HERE,
    ),
    ("sendMessage", 400, "Bad Request: CHAT_SEND_PLAIN_FORBIDDEN", Verdict.NOT_HERE),
    ("sendPhoto", 400, "Bad Request: CHAT_SEND_PHOTOS_FORBIDDEN", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: need administrator rights in the channel chat", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: PEER_ID_INVALID", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: USER_BANNED_IN_CHANNEL", Verdict.NOT_HERE),
    ("editMessageText", 403, "Forbidden: bot was kicked from the supergroup chat", Verdict.NOT_HERE),
    ("editMessageText", 400, "Bad Request: CHAT_WRITE_FORBIDDEN", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: have no write access to the chat", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: private chat not found", Verdict.NOT_HERE),
    ("sendMessage", 403, "Forbidden: bot is not a member of the group chat", Verdict.NOT_HERE),
    ("sendMessage", 400, "Bad Request: CHAT_SEND_DOCS_FORBIDDEN", Verdict.NOT_HERE),
    # Topics.
    ("sendMessage", 400, "Bad Request: TOPIC_CLOSED", Verdict.TOPIC_GONE),
    ("sendMessage", 400, "Bad Request: TOPIC_DELETED", Verdict.TOPIC_GONE),
    ("sendMessage", 400, "Bad Request: message thread not found", Verdict.TOPIC_GONE),
    ("sendPhoto", 400, "Bad Request: message thread not found", Verdict.TOPIC_GONE),
    ("sendMessage", 400, "Bad Request: TOPIC_ID_INVALID", Verdict.TOPIC_GONE),
    # The message itself.
    ("sendMessage", 400, "Bad Request: message is too long", Verdict.TOO_LONG),
    ("sendPhoto", 400, "Bad Request: message caption is too long", Verdict.TOO_LONG),
    ("editMessageText", 400, "Bad Request: message is too long", Verdict.TOO_LONG),
    (
        "sendMessage",
        400,
        'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 5',
        Verdict.BAD_HTML,
    ),
    (
        "editMessageText",
        400,
        'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "b"',
        Verdict.BAD_HTML,
    ),
    ("editMessageText", 400, "Bad Request: MESSAGE_TOO_LONG", Verdict.TOO_LONG),
    ("sendMessage", 400, "Bad Request: message to be replied not found", Verdict.REPLY_GONE),
    ("sendMessage", 400, "Bad Request: replied message not found", Verdict.REPLY_GONE),
    ("sendMessage", 400, "Bad Request: message to reply not found", Verdict.REPLY_GONE),
    ("sendMessage", 400, "Bad Request: reply message not found", Verdict.REPLY_GONE),
    ("sendMessage", 400, "Bad Request: message text is empty", Verdict.UNKNOWN),
    ("sendMessage", 400, "Bad Request: text must be non-empty", Verdict.UNKNOWN),
    ("sendMessage", 400, "Bad Request: BUTTON_DATA_INVALID", Verdict.UNKNOWN),
    # Edits.
    (
        "editMessageText",
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
        Verdict.NOT_MODIFIED,
    ),
    ("editMessageText", 400, "Bad Request: message to edit not found", Verdict.MESSAGE_GONE),
    ("editMessageText", 400, "Bad Request: message can't be edited", Verdict.NOT_EDITABLE),
    ("editMessageText", 400, "Bad Request: MESSAGE_ID_INVALID", Verdict.MESSAGE_GONE),
    (
        "editMessageText",
        400,
        "Bad Request: there is no text in the message to edit",
        Verdict.NOT_EDITABLE,
    ),
    ("editMessageReplyMarkup", 400, "Bad Request: message to edit not found", Verdict.MESSAGE_GONE),
    (
        "editMessageReplyMarkup",
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
        Verdict.NOT_MODIFIED,
    ),
    # Pins.
    (
        "pinChatMessage",
        400,
        "Bad Request: not enough rights to manage pinned messages in the chat",
        Verdict.NO_PIN_RIGHTS,
    ),
    ("pinChatMessage", 400, "Bad Request: not enough rights to pin a message", Verdict.NO_PIN_RIGHTS),
    ("pinChatMessage", 400, "Bad Request: CHAT_ADMIN_REQUIRED", Verdict.NO_PIN_RIGHTS),
    ("pinChatMessage", 400, "Bad Request: CHAT_NOT_MODIFIED", Verdict.NOTHING_TO_DO),
    ("pinChatMessage", 400, "Bad Request: message to pin not found", Verdict.MESSAGE_GONE),
    ("pinChatMessage", 400, "Bad Request: not enough rights", Verdict.NO_PIN_RIGHTS),
    ("pinChatMessage", 400, "Bad Request: service messages can't be pinned", Verdict.NOTHING_TO_DO),
    ("pinChatMessage", 400, "Bad Request: message can't be pinned", Verdict.NOTHING_TO_DO),
    ("unpinChatMessage", 400, "Bad Request: message to unpin not found", Verdict.NOTHING_TO_DO),
    (
        "unpinChatMessage",
        400,
        "Bad Request: not enough rights to manage pinned messages in the chat",
        Verdict.NO_PIN_RIGHTS,
    ),
    ("pinChatMessage", 403, "Forbidden: bot was kicked from the supergroup chat", Verdict.NOT_HERE),
    # Reactions.
    ("setMessageReaction", 400, "Bad Request: REACTION_INVALID", Verdict.NO_REACTIONS),
    ("setMessageReaction", 400, "Bad Request: invalid reaction type specified", Verdict.UNKNOWN),
    ("setMessageReaction", 400, "Bad Request: REACTIONS_TOO_MANY", Verdict.NO_REACTIONS),
    ("setMessageReaction", 400, "Bad Request: REACTION_EMPTY", Verdict.NO_REACTIONS),
    ("setMessageReaction", 400, "Bad Request: message to react not found", Verdict.MESSAGE_GONE),
    ("setMessageReaction", 400, "Bad Request: MESSAGE_ID_INVALID", Verdict.MESSAGE_GONE),
    ("setMessageReaction", 400, "Bad Request: CHAT_WRITE_FORBIDDEN", Verdict.NOT_HERE),
    ("setMessageReaction", 403, "Forbidden: bot is not a member of the supergroup chat", Verdict.NOT_HERE),
]  # fmt: skip


@pytest.mark.parametrize(("method", "code", "description", "meaning"), REAL)
def test_each_refusal_means_what_it_says(
    method: str, code: int, description: str, meaning: Verdict
) -> None:
    assert verdict(method, code, description) is meaning


def test_every_entry_of_the_table_is_met_by_a_real_text() -> None:
    """No rule in the table without a refusal Telegram really sends (and a test above)."""
    for piece, methods, meaning in KNOWN:
        met = [
            (m, d) for m, _, d, v in REAL if piece in d.lower() and m in methods and v is meaning
        ]
        assert met or piece in UNMET, f"no real text above meets {piece!r} ({meaning})"


# Entries kept for texts seen in the public trackers in another casing or wording; each is
# still decided by the table (checked here so a typo in the table cannot hide).
UNMET = {
    "text is too long",
    "unsupported start tag",
    "chat_send_docs_forbidden",
    "chat_send_media_forbidden",
    "bot can't send messages to bots",
    "chat was deleted",
    "channel_private",
    "not enough rights to unpin",
    "not enough rights to pin",
    "reactions_uniq_max",
    "chat_admin_required",
}


def test_the_same_words_mean_different_things_for_different_calls() -> None:
    # CHAT_ADMIN_REQUIRED: no right to pin, or reactions the bot may not set.
    assert (
        verdict("pinChatMessage", 400, "Bad Request: CHAT_ADMIN_REQUIRED") is Verdict.NO_PIN_RIGHTS
    )
    assert (
        verdict("setMessageReaction", 400, "Bad Request: CHAT_ADMIN_REQUIRED")
        is Verdict.NO_REACTIONS
    )
    # A thread that is not found is a topic, never a message to re-post.
    assert (
        verdict("editMessageText", 400, "Bad Request: message thread not found")
        is Verdict.TOPIC_GONE
    )


def test_any_other_403_means_the_bot_may_not_reach_the_chat() -> None:
    assert verdict("sendMessage", 403, "Forbidden: something new") is Verdict.NOT_HERE


def test_the_fake_bot_api_refuses_with_words_the_table_knows() -> None:
    """What the test suite's fake answers must mean for the worker what Telegram's does."""
    expected = {
        fakebotapi.NOT_FOUND: ("editMessageText", Verdict.MESSAGE_GONE),
        fakebotapi.NOT_MODIFIED: ("editMessageText", Verdict.NOT_MODIFIED),
        fakebotapi.NOT_EDITABLE: ("editMessageText", Verdict.NOT_EDITABLE),
        fakebotapi.TOPIC_CLOSED: ("sendMessage", Verdict.TOPIC_GONE),
        fakebotapi.THREAD_NOT_FOUND: ("sendMessage", Verdict.TOPIC_GONE),
        fakebotapi.REACTION_INVALID: ("setMessageReaction", Verdict.NO_REACTIONS),
        fakebotapi.TOO_LONG: ("sendMessage", Verdict.TOO_LONG),
        fakebotapi.CAPTION_TOO_LONG: ("sendPhoto", Verdict.TOO_LONG),
        fakebotapi.NO_PIN_RIGHTS: ("pinChatMessage", Verdict.NO_PIN_RIGHTS),
        fakebotapi.KICKED: ("sendMessage", Verdict.NOT_HERE),
        fakebotapi.NOT_MEMBER: ("sendMessage", Verdict.NOT_HERE),
    }
    for description, (method, meaning) in expected.items():
        code = 403 if description.startswith("Forbidden") else 400
        assert verdict(method, code, description) is meaning, description
