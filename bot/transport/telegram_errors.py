"""What each refusal from Telegram means for the delivery worker, decided once, in a table.

Telegram refuses with a status code and a description ("Bad Request: TOPIC_CLOSED",
"Forbidden: bot was kicked from the supergroup chat"). The status code alone says little: a
400 may mean "you may not write here" (CHAT_WRITE_FORBIDDEN), "this topic is closed", "this
text is too long" or "this reaction is not allowed here", and each needs something different.
Every description the Bot API server sends (tdlib/telegram-bot-api, tdlib/td) or public
trackers show for the calls the bot makes is listed in KNOWN with its verdict, older wordings
too; tests/unit/test_telegram_errors.py checks each one, and the fake Bot API answers with these
same texts. python-telegram-bot hands them over changed ("Bad Request: TOPIC_CLOSED" arrives
as "Topic_closed"), so they are compared in lower case.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """What a refusal means (not stored: the worker acts on it at once)."""

    NOT_HERE = "not_here"  # the bot may not write in this chat: held, the admins are told
    TOPIC_GONE = "topic_gone"  # the forum topic is closed or deleted: post elsewhere in the chat
    MESSAGE_GONE = "message_gone"  # the message to edit, pin or react to is not there any more
    NOT_EDITABLE = "not_editable"  # it is there, but Telegram will not edit it any more
    NOT_MODIFIED = "not_modified"  # it already shows exactly that
    TOO_LONG = "too_long"  # split it (a text) or shorten it (a caption)
    BAD_HTML = "bad_html"  # its markup does not parse: sent as plain text
    REPLY_GONE = "reply_gone"  # the message it answers was deleted: sent without the reply
    NO_REACTIONS = "no_reactions"  # the chat does not take that reaction: answered another way
    NO_PIN_RIGHTS = "no_pin_rights"  # the bot may not pin here: the card goes unpinned
    NOTHING_TO_DO = "nothing_to_do"  # already pinned / not pinned: the wanted state holds
    UNKNOWN = "unknown"  # never seen: sent the plainest way, then held as NOT_HERE


SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
EDITS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})
PINS = frozenset({"pinChatMessage", "unpinChatMessage"})
REACTIONS = frozenset({"setMessageReaction"})
WRITES = SENDS | EDITS | PINS | REACTIONS

# (a piece of the description, lower case; the methods it can come from; the verdict), in
# the order they are tried: the first piece found in the description decides.
KNOWN: tuple[tuple[str, frozenset[str], Verdict], ...] = (
    # The topic (checked first: "message thread not found" must not read as "not found").
    ("topic_closed", WRITES, Verdict.TOPIC_GONE),
    ("topic_deleted", WRITES, Verdict.TOPIC_GONE),
    ("message thread not found", WRITES, Verdict.TOPIC_GONE),
    ("topic_id_invalid", WRITES, Verdict.TOPIC_GONE),
    # The chat: the bot may not write here, whatever the status code.
    ("bot was kicked", WRITES, Verdict.NOT_HERE),
    ("bot is not a member", WRITES, Verdict.NOT_HERE),
    ("bot was blocked by the user", WRITES, Verdict.NOT_HERE),
    ("bot can't initiate conversation", WRITES, Verdict.NOT_HERE),
    ("bot can't send messages to bots", WRITES, Verdict.NOT_HERE),
    ("user is deactivated", WRITES, Verdict.NOT_HERE),
    ("group chat was deleted", WRITES, Verdict.NOT_HERE),
    ("chat was deleted", WRITES, Verdict.NOT_HERE),
    ("chat_write_forbidden", WRITES, Verdict.NOT_HERE),
    ("chat_restricted", WRITES, Verdict.NOT_HERE),
    ("chat_send_plain_forbidden", WRITES, Verdict.NOT_HERE),
    ("chat_send_photos_forbidden", WRITES, Verdict.NOT_HERE),
    ("chat_send_docs_forbidden", WRITES, Verdict.NOT_HERE),
    ("chat_send_media_forbidden", WRITES, Verdict.NOT_HERE),
    ("user_banned_in_channel", WRITES, Verdict.NOT_HERE),
    ("have no rights to send a message", WRITES, Verdict.NOT_HERE),
    ("not enough rights to send", WRITES, Verdict.NOT_HERE),
    ("need administrator rights in the channel", WRITES, Verdict.NOT_HERE),
    ("have no write access to the chat", WRITES, Verdict.NOT_HERE),
    ("chat not found", WRITES, Verdict.NOT_HERE),  # also "private chat not found"
    ("peer_id_invalid", WRITES, Verdict.NOT_HERE),
    ("channel_private", WRITES, Verdict.NOT_HERE),
    # Pins.
    ("not enough rights to manage pinned messages", PINS, Verdict.NO_PIN_RIGHTS),
    ("not enough rights to pin", PINS, Verdict.NO_PIN_RIGHTS),
    ("not enough rights to unpin", PINS, Verdict.NO_PIN_RIGHTS),
    ("chat_admin_required", PINS, Verdict.NO_PIN_RIGHTS),
    ("chat_not_modified", PINS, Verdict.NOTHING_TO_DO),
    ("message to pin not found", PINS, Verdict.MESSAGE_GONE),
    ("message to unpin not found", PINS, Verdict.NOTHING_TO_DO),
    ("message can't be pinned", PINS, Verdict.NOTHING_TO_DO),
    ("service messages can't be pinned", PINS, Verdict.NOTHING_TO_DO),
    ("not enough rights", PINS, Verdict.NO_PIN_RIGHTS),
    # Reactions.
    ("reaction_invalid", REACTIONS, Verdict.NO_REACTIONS),
    ("reactions_too_many", REACTIONS, Verdict.NO_REACTIONS),
    ("reaction_empty", REACTIONS, Verdict.NO_REACTIONS),
    ("reactions_uniq_max", REACTIONS, Verdict.NO_REACTIONS),
    ("chat_admin_required", REACTIONS, Verdict.NO_REACTIONS),
    ("message to react not found", REACTIONS, Verdict.MESSAGE_GONE),
    # Edits.
    ("message is not modified", EDITS, Verdict.NOT_MODIFIED),
    ("message to edit not found", EDITS, Verdict.MESSAGE_GONE),
    ("message can't be edited", EDITS, Verdict.NOT_EDITABLE),
    ("there is no text in the message to edit", EDITS, Verdict.NOT_EDITABLE),
    ("message_id_invalid", EDITS | PINS | REACTIONS, Verdict.MESSAGE_GONE),
    # The message itself.
    ("message is too long", SENDS | EDITS, Verdict.TOO_LONG),
    ("message_too_long", SENDS | EDITS, Verdict.TOO_LONG),  # an edit past the limit
    ("text is too long", SENDS | EDITS, Verdict.TOO_LONG),
    ("caption is too long", SENDS | EDITS, Verdict.TOO_LONG),
    ("can't parse entities", SENDS | EDITS, Verdict.BAD_HTML),
    ("message to be replied not found", SENDS, Verdict.REPLY_GONE),
    ("replied message not found", SENDS, Verdict.REPLY_GONE),
    ("message to reply not found", SENDS, Verdict.REPLY_GONE),
    ("reply message not found", SENDS, Verdict.REPLY_GONE),
    ("unsupported start tag", SENDS | EDITS, Verdict.BAD_HTML),
)


def verdict(method: str, code: int, description: str) -> Verdict:
    """What Telegram's refusal of `method` means (429 and migrations are handled before)."""
    text = description.lower()
    for piece, methods, meaning in KNOWN:
        if piece in text and method in methods:
            return meaning
    if code == 403:
        return Verdict.NOT_HERE  # every 403 means the bot may not reach that chat
    return Verdict.UNKNOWN
