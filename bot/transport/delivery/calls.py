"""The Bot API as the worker calls it: every request counted against the budget as it is sent,
and the name of the last method called, which a refusal's meaning depends on."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from telegram import Bot, ForceReply, InlineKeyboardMarkup

from bot.transport.delivery.budget import Budget, Slot

# The Bot API method the delivery task called last ("sendMessage"): a refusal means what it
# means for it (see bot.transport.telegram_errors).
_CALL: ContextVar[str] = ContextVar("flexus_outbox_call", default="")


def current_call() -> str:
    return _CALL.get()


def api_name(name: str) -> str:
    """send_message → sendMessage, as the Bot API names its methods."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Charged:
    """The bot, with each request counted against the budget as it is sent (a row may make
    more than one request: a card posted again and pinned, an upload). `spend` waits for room
    and takes it; `monotonic` is the worker's clock; `guard` raises when this copy may no
    longer act (bot.core.fence), checked right before each request leaves."""

    def __init__(
        self,
        bot: Bot,
        spend: Callable[..., Awaitable[Slot | None]],
        monotonic: Callable[[], float],
        guard: Callable[[], None] = lambda: None,
    ) -> None:
        self._bot, self._spend, self._monotonic, self._guard = bot, spend, monotonic, guard

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._bot, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(method):
            return method

        async def counted(*args: Any, **kwargs: Any) -> Any:
            _CALL.set(api_name(name))
            slot = await self._spend(posts=name != "set_message_reaction")
            try:
                self._guard()
                return await method(*args, **kwargs)
            finally:
                if slot is not None:
                    Budget.settle(slot, self._monotonic())

        return counted


def inline_of(data: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    markup = markup_of(data)
    return markup if isinstance(markup, InlineKeyboardMarkup) else None


def markup_of(data: dict[str, Any] | None) -> InlineKeyboardMarkup | ForceReply | None:
    """A markup stored as the Bot API's JSON, as python-telegram-bot's object."""
    if not data:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.de_json(data, None)
    if data.get("force_reply"):
        return ForceReply(selective=data.get("selective"))
    return None
