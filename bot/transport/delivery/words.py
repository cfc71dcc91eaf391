"""What the worker itself writes to people. The words come from the wiring (bot/serve.py gives
`bot.texts.DELIVERY_WORDS`): the transport knows no Spanish and imports no texts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    joined_one: Callable[[str | None], str]  # a reply instead of a 👍 the chat refused
    joined_many: Callable[[list[str]], str]  # the late 👍 of a burst, as one message
    joined_name: Callable[[str], str]  # one name in it (its length counts against the limit)
    joined_names_max: int  # UTF-16 units the names may take
    alert_topic_gone: Callable[[str, str], str]  # to admins: (chat title, Telegram's words)
    message_refused: Callable[[int, str, str | None], str]  # to admins: (chat, error, sector)
    chat_unreachable: Callable[[int, str], str]  # to admins: (chat, error)
    # A message of a drill, marked as one (the row says `drill`); the identity by default.
    drill: Callable[[str], str] = str
