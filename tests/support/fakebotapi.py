"""A fake Telegram Bot API server on 127.0.0.1 that queues updates and records every call.

The bot under test is pointed at it through TELEGRAM_API_URL. It keeps the current text and
buttons of every message it was asked to send or edit, so tests can assert on what people see.

It can also behave like a bad day at Telegram: a seeded share of calls answered with 429, 5xx or
403, answered too late ("timeout": processed, reply delayed) or not answered at all ("drop": the
connection closes, nothing is processed); strict flood limits; edits refused the way Telegram
refuses them ("message to edit not found", "message is not modified", "message can't be
edited"); migrated group chats.

And it holds the rules of real groups that the bot meets every week, with Telegram's own words
for each refusal: HTML parsed as the Bot API parses it ("can't parse entities"), texts counted
in UTF-16 units after parsing ("message is too long"), groups with topics (a closed topic
answers TOPIC_CLOSED, a deleted one "message thread not found", General is the chat without a
message_thread_id), reactions limited to Telegram's list and to what each group allows
(REACTION_INVALID), pins only with the right to pin, and the bot removed from a group and added
back (403 while it is out, with the my_chat_member updates Telegram sends).

Tests that drive the delivery worker alone script single calls (`script`): a refusal in
Telegram's words (`Refusal`), or a mishap of the connection (`Mishap`: no answer, an answer lost
after Telegram carried the call out, too late, the bot killed while it waits). They reach the
same fake through `InProcessRequest`, python-telegram-bot's request interface without a socket,
so the worker's clock can jump without real time passing, and python-telegram-bot turns each
answer into the exception it raises for Telegram's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

BOT_USER = {
    "id": 999000,
    "is_bot": True,
    "first_name": "FLEXUS Guardia",
    "username": "flexus_guardia_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
_INT_KEYS = {
    "chat_id",
    "message_id",
    "user_id",
    "offset",
    "timeout",
    "limit",
    "reply_to_message_id",
    "message_thread_id",
}

# Calls that change what people see: the default targets of fault injection and flood limits.
STATE_CHANGING = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "editMessageReplyMarkup",
        "pinChatMessage",
        "unpinChatMessage",
        "setMessageReaction",
    }
)
FAULT_KINDS = ("429", "500", "502", "timeout", "403", "drop")
NOT_FOUND = "Bad Request: message to edit not found"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
NOT_EDITABLE = "Bad Request: message can't be edited"
TOPIC_CLOSED = "Bad Request: TOPIC_CLOSED"
THREAD_NOT_FOUND = "Bad Request: message thread not found"
REACTION_INVALID = "Bad Request: REACTION_INVALID"
TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
EMPTY_TEXT = "Bad Request: message text is empty"
NO_PIN_RIGHTS = "Bad Request: not enough rights to manage pinned messages in the chat"
CHAT_WRITE_FORBIDDEN = "Bad Request: CHAT_WRITE_FORBIDDEN"
KICKED = "Forbidden: bot was kicked from the supergroup chat"
NOT_MEMBER = "Forbidden: bot is not a member of the supergroup chat"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
# The emoji a bot may react with (Bot API, ReactionTypeEmoji).
REACTION_EMOJI = frozenset(
    "❤ 👍 👎 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 "
    "🏆 💔 🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 "
    "💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷‍♂ 🤷 🤷‍♀ 😡".split()
)
TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024
# The tags of the Bot API's HTML parse mode; any other is refused.
HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "span", "tg-spoiler", "tg-emoji", "blockquote",
    }
)  # fmt: skip
_FAULT_ERRORS = {
    "500": (500, "Internal Server Error"),
    "502": (502, "Bad Gateway"),
    "403": (403, "Forbidden: bot was kicked from the supergroup chat"),
}
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


# Which client made the call being answered on this thread: the first segment of a path like
# /copy-a/bot<token>/sendMessage (TELEGRAM_API_URL=http://127.0.0.1:port/copy-a), "" without.
_CALLER = threading.local()


def _caller() -> str:
    return str(getattr(_CALLER, "via", ""))


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    via: str = field(default_factory=_caller)  # see _CALLER: which copy of the bot called
    result: Any = None
    # None for an ordinary call; "429", "500", "502", "403", "timeout", "drop" for an injected
    # fault, "flood" for a 429 from enforce_flood_limits(), "drop" for fail(code=0).
    fault: str | None = None

    @property
    def chat_id(self) -> int | None:
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button in the call's reply_markup."""
        return buttons_of(self.params.get("reply_markup"))

    @property
    def markup(self) -> Any:
        return self.params.get("reply_markup")

    @property
    def message_id(self) -> int | None:
        """The message the call made (a send) or acted on (an edit, a pin, a reaction)."""
        if isinstance(self.result, dict) and "message_id" in self.result:
            return int(self.result["message_id"])
        value = self.params.get("message_id")
        return None if value is None else int(value)

    @property
    def carried_out(self) -> bool:
        """Telegram did what was asked (whether or not the bot heard back)."""
        return self.result is not None


def buttons_of(markup: Any) -> list[tuple[str, str]]:
    if not isinstance(markup, dict):
        return []
    return [
        (b.get("text", ""), b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


@dataclass
class Failure:
    method: str
    chat_id: int | None
    code: int  # 0 = close the connection without answering
    description: str
    times: int | None  # None = always
    retry_after: int | None = None
    until: float | None = None  # time.monotonic() deadline; None = no deadline


@dataclass(frozen=True)
class Refusal:
    """Telegram's error answer, in its words (`script`)."""

    code: int
    description: str
    retry_after: int | None = None
    migrate_to: int | None = None


class Mishap(Enum):
    """What can happen to a call on its way (`script`)."""

    NO_CONNECTION = "no_connection"  # the connection could not be opened: the call never left
    NO_ANSWER = "no_answer"  # the connection closed first: not carried out
    ANSWER_LOST = "answer_lost"  # carried out, then the connection closed before the answer
    TOO_SLOW = "too_slow"  # the bot gave up waiting before Telegram carried it out
    LATE = "late"  # carried out; the answer came after the bot gave up waiting
    KILLED = "killed"  # carried out; the bot's process died while it waited for the answer
    SLOW = "slow"  # carried out at once; the answer takes `slow_for` seconds (not a fault)


CARRIED_OUT = (Mishap.ANSWER_LOST, Mishap.LATE, Mishap.KILLED)


def too_many(seconds: int) -> Refusal:
    return Refusal(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)


BAD_GATEWAY = Refusal(502, "Bad Gateway")


@dataclass
class _Plan:
    method: str
    chat_id: int | None
    text: str | None
    outcomes: deque[Refusal | Mishap | None]
    on_empty: Callable[[], None] | None = None


@dataclass
class _Faults:
    share: float
    kinds: tuple[str, ...]
    rng: random.Random
    methods: frozenset[str]
    retry_after: int
    timeout_delay: float


@dataclass
class _FloodLimits:
    per_second: int
    group_per_minute: int
    reactions_per_group: bool = True  # False: reactions count only against per_second
    recent: deque[float] = field(default_factory=deque)
    per_chat: dict[int, deque[float]] = field(default_factory=dict)


@dataclass
class _Response:
    status: int
    payload: dict[str, Any] | None  # None = drop the connection without answering
    delay: float = 0.0
    mishap: Mishap | None = None


@dataclass
class FakeChat:
    """What Telegram knows of one group beyond its messages (see FakeBotAPI.group)."""

    forum: bool = False
    topics: dict[int, str] = field(default_factory=dict)  # topic id -> name
    closed: set[int] = field(default_factory=set)  # closed topics (0: General)
    # The reactions the group allows: None = all of Telegram's list; empty = reactions off.
    reactions: frozenset[str] | None = None
    bot_status: str = "administrator"  # member, administrator, left, kicked, restricted
    # Every write answers this (e.g. "Bad Request: CHAT_WRITE_FORBIDDEN"); None = none.
    write_refusal: str | None = None
    uneditable: set[int] = field(default_factory=set)  # message ids Telegram will not edit


class HTMLError(ValueError):
    """Telegram's reason, as it follows "Bad Request: can't parse entities: "."""


def parse_html(source: str) -> str:
    """The text a message with parse_mode HTML shows, as the Bot API reads it (tdlib's
    parse_html): unknown or unclosed tags are refused with its words and byte offsets."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0

    def offset(at: int) -> int:
        return len(source[:at].encode("utf-8"))

    while pos < len(source):
        char = source[pos]
        if char == "&":
            match = _ENTITY.match(source, pos)
            if match:
                name = match.group(1)
                if name.startswith("#x"):
                    out.append(chr(int(name[2:], 16)))
                elif name.startswith("#"):
                    out.append(chr(int(name[1:])))
                else:
                    out.append(_NAMED_ENTITIES.get(name, match.group(0)))
                pos = match.end()
                continue
        if char != "<":
            out.append(char)
            pos += 1
            continue
        end = source.find(">", pos)
        if end == -1:
            raise HTMLError(f"Unclosed start tag at byte offset {offset(pos)}")
        inner = source[pos + 1 : end]
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise HTMLError(f"Unexpected end tag at byte offset {offset(pos)}")
            opened = stack.pop()
            if name != opened:
                raise HTMLError(
                    f'Unmatched end tag at byte offset {offset(pos)}, expected "</{opened}>", '
                    f'found "</{name}>"'
                )
        else:
            match = _TAG_NAME.match(inner)
            name = match.group(0).lower() if match else ""
            if name not in HTML_TAGS:
                raise HTMLError(f'Unsupported start tag "{name}" at byte offset {offset(pos)}')
            stack.append(name)
        pos = end + 1
    if stack:
        raise HTMLError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]+")


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def busiest(times: list[float], span: float) -> int:
    """The most of `times` (sorted) within any `span` seconds: what the flood limits count."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= span:
            start += 1
        most = max(most, end - start + 1)
    return most


def user(user_id: int, first: str, last: str = "", username: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first}
    if last:
        data["last_name"] = last
    if username:
        data["username"] = username
    return data


def chat(chat_id: int, title: str = "Equipo") -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "X"}
    return {"id": chat_id, "type": "supergroup", "title": title}


def _error(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return payload


def _too_many(retry_after: int) -> dict[str, Any]:
    return _error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


class FakeBotAPI:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.chat_member_status: dict[tuple[int, int], str] = {}
        # getChatMember's answer for anyone not in chat_member_status.
        self.default_member_status = "left"
        self.late_after = 30.0  # seconds a TOO_SLOW or LATE answer takes over HTTP
        self.slow_for = 2.0  # seconds a SLOW answer takes (well within the bot's patience)
        # Message ids pinned in each chat (pinChatMessage adds, unpinChatMessage removes).
        self.pinned: dict[int, set[int]] = {}
        # Old group chat id → new supergroup id: calls to the old id answer "upgraded".
        self.migrated: dict[int, int] = {}
        self.fault_counts: dict[str, int] = {}
        self.flood_429s = 0
        self._not_modified = 0
        self._pin_order: dict[int, list[int]] = {}
        self._faults: _Faults | None = None
        self._flood: _FloodLimits | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._failures: list[Failure] = []
        self._plans: list[_Plan] = []
        self._last_pushed = 0  # the newest update id pushed
        self._polls = 0  # getUpdates calls so far (a newer one ends a waiting one: 409)
        self.conflicts = 0  # getUpdates answered 409 because another one came in
        # Set by the bot process under test: True once every update up to this id is handled
        # and what it caused went out, as its database says (see settled()).
        self.store_settled: Callable[[int], bool | None] | None = None
        # Nothing reaches the fake: a connection cannot even be opened (not recorded).
        self.unreachable = False
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self.groups: dict[int, FakeChat] = {}  # see group(): what each group allows
        self._open: set[socket.socket] = set()
        # The HTTP side, made by start(): a test that reaches the fake in process
        # (InProcessRequest) opens no socket.
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBotAPI:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # Connections are kept alive (HTTP/1.1), as Telegram's are: a new TCP connection per
        # call would be latency of the fake's own. stop() cuts the open ones.
        self._server.block_on_close = False
        # A short poll interval so stop() returns promptly (serve_forever checks it between polls).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # delayed ("timeout") answers stop waiting
        with self._cond:
            self._cond.notify_all()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            still_open, self._open = list(self._open), set()
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    # --- what tests do ---------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            self._last_pushed = update["update_id"]
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def fail(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        code: int = 403,
        description: str = "Forbidden: bot was blocked by the user",
        times: int | None = None,
        retry_after: int | None = None,
        until: float | None = None,
    ) -> None:
        """Answer `method` (in `chat_id`, or anywhere) with an error.

        `times` limits how many calls fail; `until` is a time.monotonic() deadline after which
        the failure no longer applies; `retry_after` adds `parameters.retry_after` to the body;
        code 0 closes the connection without any answer (the call is not processed).
        """
        with self._cond:
            self._failures.append(
                Failure(method, chat_id, code, description, times, retry_after, until)
            )

    def script(
        self,
        *outcomes: Refusal | Mishap | None,
        method: str = "sendMessage",
        chat_id: int | None = None,
        text: str | None = None,
        on_empty: Callable[[], None] | None = None,
    ) -> None:
        """The next calls of `method` (to `chat_id`, with `text`) meet these outcomes, one each
        (None: that call goes through), then go through as usual; `on_empty` runs when the last
        one is used."""
        with self._cond:
            self._plans.append(_Plan(method, chat_id, text, deque(outcomes), on_empty))

    def clear_scripts(self) -> None:
        with self._cond:
            self._plans = []

    def killed(self) -> list[str]:
        """The texts of the calls during which the bot was killed."""
        with self._cond:
            return [c.text for c in self.calls if c.fault == Mishap.KILLED.value]

    def unanswered(self) -> int:
        """Calls Telegram carried out whose answer the bot never got."""
        with self._cond:
            return sum(c.fault in {m.value for m in CARRIED_OUT} for c in self.calls)

    def inject_faults(
        self,
        share: float,
        kinds: Sequence[str] = FAULT_KINDS,
        *,
        seed: int = 1,
        methods: Collection[str] | None = None,
        retry_after: int = 1,
        timeout_delay: float = 2.0,
    ) -> None:
        """Answer a seeded random `share` of calls with a fault drawn uniformly from `kinds`.

        Only `methods` are affected (default: STATE_CHANGING; getUpdates only when named).
        "429"/"500"/"502"/"403" answer an error without processing the call; "timeout"
        processes it but answers only after `timeout_delay` seconds; "drop" closes the
        connection without an answer and does not process the call.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be within [0, 1], not {share}")
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be some of {FAULT_KINDS}, not {list(kinds)}")
        with self._cond:
            self._faults = _Faults(
                share=share,
                kinds=tuple(kinds),
                rng=random.Random(seed),
                methods=frozenset(STATE_CHANGING if methods is None else methods),
                retry_after=retry_after,
                timeout_delay=timeout_delay,
            )

    def clear_faults(self) -> None:
        with self._cond:
            self._faults = None

    def enforce_flood_limits(
        self, per_second: int = 30, group_per_minute: int = 20, *, reactions_per_group: bool = True
    ) -> None:
        """Answer 429 (fault "flood") beyond `per_second` state-changing calls in any second,
        or beyond `group_per_minute` of them to one group (negative chat id) in any minute
        (reactions among them unless `reactions_per_group` is False: they are not messages)."""
        with self._cond:
            self._flood = _FloodLimits(per_second, group_per_minute, reactions_per_group)

    def clear_flood_limits(self) -> None:
        with self._cond:
            self._flood = None

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """Someone deleted the message: editing it now answers "message to edit not found"."""
        with self._cond:
            self._delete(chat_id, message_id)

    # --- real groups -------------------------------------------------------------------------
    def group(self, chat_id: int) -> FakeChat:
        """The group's settings (a plain group where the bot is an admin, until changed)."""
        with self._cond:
            return self.groups.setdefault(chat_id, FakeChat())

    def make_forum(self, chat_id: int, topics: dict[int, str]) -> FakeChat:
        """The group has topics (`is_forum`): General (no message_thread_id) and these."""
        group = self.group(chat_id)
        with self._cond:
            group.forum = True
            group.topics.update(topics)
        return group

    def close_topic(self, chat_id: int, topic: int | None) -> None:
        """Close a topic (None: General): sending there answers TOPIC_CLOSED."""
        group = self.group(chat_id)
        with self._cond:
            group.closed.add(topic or 0)

    def delete_topic(self, chat_id: int, topic: int) -> None:
        """Delete a topic: sending there answers "message thread not found"."""
        group = self.group(chat_id)
        with self._cond:
            group.topics.pop(topic, None)

    def remove_bot(self, chat_id: int, status: str = "kicked", by: int = 1) -> dict[str, Any]:
        """Someone removed the bot from the group: what Telegram then sends (my_chat_member)."""
        group = self.group(chat_id)
        with self._cond:
            old, group.bot_status = group.bot_status, status
        return bot_member_update(chat_id, old, status, by)

    def add_bot(self, chat_id: int, status: str = "administrator", by: int = 1) -> dict[str, Any]:
        """Someone added the bot back: writes work again; the my_chat_member update."""
        group = self.group(chat_id)
        with self._cond:
            old, group.bot_status = group.bot_status, status
        return bot_member_update(chat_id, old, status, by)

    def make_uneditable(self, chat_id: int, message_id: int) -> None:
        """Telegram will not edit this message any more ("message can't be edited")."""
        group = self.group(chat_id)
        with self._cond:
            group.uneditable.add(message_id)

    def not_modified_count(self) -> int:
        """How many edits were refused as "message is not modified"."""
        with self._cond:
            return self._not_modified

    def duplicate_sends(self) -> list[tuple[int, str]]:
        """(chat_id, text) of each extra copy of a message sendMessage delivered more than once.

        A call counts as delivered when it was processed (result not None), including calls
        whose answer was delayed by a "timeout" fault.
        """
        seen: Counter[tuple[int, str]] = Counter()
        extra: list[tuple[int, str]] = []
        with self._cond:
            for c in self.calls:
                if c.method == "sendMessage" and c.result is not None:
                    key = (int(c.chat_id or 0), c.text)
                    if seen[key]:
                        extra.append(key)
                    seen[key] += 1
        return extra

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        with self._cond:
            return [
                c
                for c in self.calls
                if c.method == method and (chat_id is None or c.chat_id == chat_id)
            ]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Successful sendMessage calls (what appeared as new messages)."""
        return [c for c in self.calls_of("sendMessage", chat_id) if c.result is not None]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """The texts of the new messages, in the order they appeared."""
        return [c.text for c in self.sent(chat_id)]

    def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 15.0, after: int = 0
    ) -> Call:
        """The first call (from index `after`) matching `predicate`; waits for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self.calls[after:]:
                    if predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = "\n".join(f"  {c.method} {c.params}" for c in self.calls[-15:])
                    raise AssertionError(
                        f"no matching call within {timeout}s; last calls:\n{recent}"
                    )
                self._cond.wait(remaining)

    def settled(self, timeout: float = 15.0) -> None:
        """Wait until the bot is done with everything pushed so far, by what it stored: each
        update handled and each message it caused sent (`store_settled`), then 30 ms for the
        button answers made right after a step commits (no row records them). A bot without a
        probe (a benchmark's bare bot) is waited for by a quiet spell instead."""
        if self.store_settled is None:
            self.wait_idle()
            return
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                last = self._last_pushed
            done = self.store_settled(last)
            if done is None:  # the probe cannot read this bot's database
                self.wait_idle()
                return
            if done:
                with self._cond:
                    busy = [c.at for c in self.calls if c.method != "getUpdates"]
                if not busy or time.monotonic() - busy[-1] >= 0.03:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not settle (updates up to {last})")
            time.sleep(0.05)

    def wait_idle(self, quiet: float = 0.4, timeout: float = 15.0) -> None:
        """Wait until no call other than getUpdates arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                busy = [c for c in self.calls if c.method != "getUpdates"]
                last = busy[-1].at if busy else 0.0
                pending = bool(self._updates)
            if not pending and time.monotonic() - last >= quiet:
                return
            time.sleep(0.05)
        raise AssertionError("the bot did not go quiet")

    def mark(self) -> int:
        with self._cond:
            return len(self.calls)

    def text_of(self, chat_id: int, message_id: int) -> str:
        return str(self.messages[(chat_id, message_id)]["text"])

    def buttons_on(self, chat_id: int, message_id: int) -> list[tuple[str, str]]:
        return buttons_of(self.messages[(chat_id, message_id)].get("reply_markup"))

    # --- the HTTP side ---------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with api._cond:
                    api._open.add(self.connection)

            def finish(self) -> None:
                with api._cond:
                    api._open.discard(self.connection)
                super().finish()

            def handle(self) -> None:
                # A kept connection reset by a killed bot is the bot's business, not an error.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                if api._stopping.is_set() or api.unreachable:  # as if nobody were listening
                    self.close_connection = True
                    return
                prefix = f"/bot{api.token}/"
                via, at, path = "", self.path.find(prefix), self.path
                if at > 0:  # an API root with a path: /copy-a/bot<token>/...
                    via, path = path[1:at], path[at:]
                if not path.startswith(prefix):
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                _CALLER.via = via
                method = path[len(prefix) :].split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    # The client stopped half-way (a copy of the bot paused between the
                    # request's head and its body, then refused to send the body): Telegram's
                    # front never passes an incomplete request on, so no method runs.
                    self.close_connection = True
                    return
                params = _parse(self.headers.get("Content-Type", ""), body)
                response = api._dispatch(method, params)
                if response.mishap in (Mishap.TOO_SLOW, Mishap.LATE):
                    api._stopping.wait(api.late_after)
                if response.mishap is Mishap.KILLED:
                    api._stopping.wait()  # nobody is left to read it
                if response.mishap in (Mishap.ANSWER_LOST, Mishap.TOO_SLOW):
                    self.close_connection = True
                    return
                if response.payload is None:  # "drop": close without a word
                    self.close_connection = True
                    return
                if response.delay > 0 and api._stopping.wait(response.delay):
                    self.close_connection = True  # the fake is stopping: don't keep it waiting
                    return
                self._reply(response.status, response.payload)

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                # Status line, headers and body in one write (one syscall per answer).
                data = json.dumps(payload).encode()
                head = (
                    f"{self.protocol_version} {status} {_REASONS.get(status, '')}\r\n"
                    f"Server: {self.version_string()}\r\n"
                    f"Date: {self.date_time_string()}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                )
                try:
                    self.wfile.write(head.encode("latin-1") + data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def _failure_for(self, method: str, params: dict[str, Any]) -> Failure | None:
        now = time.monotonic()
        for failure in self._failures:
            if failure.method == method and failure.chat_id in (None, params.get("chat_id")):
                if failure.until is not None and now >= failure.until:
                    continue
                if failure.times is not None:
                    if failure.times <= 0:
                        continue
                    failure.times -= 1
                return failure
        return None

    def _draw_fault(self, method: str) -> str | None:
        faults = self._faults
        if faults is None or method not in faults.methods:
            return None
        if faults.rng.random() >= faults.share:
            return None
        kind = faults.rng.choice(faults.kinds)
        self.fault_counts[kind] = self.fault_counts.get(kind, 0) + 1
        return kind

    def _fault_response(self, kind: str) -> _Response:
        if kind == "drop":
            return _Response(0, None)
        if kind == "429":
            assert self._faults is not None
            return _Response(429, _too_many(self._faults.retry_after))
        code, description = _FAULT_ERRORS[kind]
        return _Response(code, _error(code, description))

    def _dispatch(self, method: str, params: dict[str, Any]) -> _Response:
        if method == "getUpdates":
            return self._dispatch_get_updates(params)
        with self._cond:
            try:
                return self._answer(method, params)
            finally:
                self._cond.notify_all()

    def _scripted(self, method: str, params: dict[str, Any]) -> Refusal | Mishap | None:
        """The scripted outcome of this call, if one is scripted (None: as usual)."""
        text = params.get("text", params.get("caption"))
        for plan in self._plans:
            if plan.method != method or plan.chat_id not in (None, params.get("chat_id")):
                continue
            if plan.text not in (None, text) or not plan.outcomes:
                continue
            outcome = plan.outcomes.popleft()
            if not plan.outcomes and plan.on_empty is not None:
                plan.on_empty()
            return outcome
        return None

    def _answer(self, method: str, params: dict[str, Any]) -> _Response:
        """Record and answer one call (not getUpdates); the caller holds the lock."""
        call = Call(method, params)
        self.calls.append(call)
        scripted = self._scripted(method, params)
        if isinstance(scripted, Refusal):
            call.fault = str(scripted.code)
            extra: dict[str, Any] = {}
            if scripted.retry_after is not None:
                extra["retry_after"] = scripted.retry_after
            if scripted.migrate_to is not None:
                extra["migrate_to_chat_id"] = scripted.migrate_to
            return _Response(scripted.code, _error(scripted.code, scripted.description, **extra))
        if scripted is Mishap.SLOW:
            response = self._carry_out(call, method, params, self.slow_for)
            response.mishap = scripted
            return response
        if isinstance(scripted, Mishap):
            call.fault = scripted.value
            if scripted not in CARRIED_OUT:
                return _Response(0, None, mishap=scripted)
            response = self._carry_out(call, method, params, 0.0)
            response.mishap = scripted
            return response
        failure = self._failure_for(method, params)
        if failure is not None:
            return _failure_response(failure, call)
        delay = 0.0
        kind = self._draw_fault(method)
        if kind == "timeout":
            assert self._faults is not None
            call.fault, delay = kind, self._faults.timeout_delay
        elif kind is not None:
            call.fault = kind
            return self._fault_response(kind)
        return self._carry_out(call, method, params, delay)

    def _carry_out(
        self, call: Call, method: str, params: dict[str, Any], delay: float
    ) -> _Response:
        """Telegram's answer to a call that reached it: a refusal, or the call carried out."""
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id in self.migrated:
            payload = _error(400, UPGRADED, migrate_to_chat_id=self.migrated[chat_id])
            return _Response(400, payload, delay)
        retry_after = self._flood_wait(method, chat_id)
        if retry_after:
            self.flood_429s += 1
            call.fault = call.fault or "flood"
            return _Response(429, _too_many(retry_after), delay)
        refusal = self._refusal(method, params)
        if refusal is not None:
            code, description = refusal
            return _Response(code, _error(code, description), delay)
        call.result = self._result(method, params)
        return _Response(200, {"ok": True, "result": call.result}, delay)

    def _dispatch_get_updates(self, params: dict[str, Any]) -> _Response:
        with self._cond:
            failure = self._failure_for("getUpdates", params)
            kind = None if failure is not None else self._draw_fault("getUpdates")
            if failure is not None or (kind is not None and kind != "timeout"):
                call = Call("getUpdates", params)
                self.calls.append(call)
                self._cond.notify_all()
                if failure is not None:
                    return _failure_response(failure, call)
                assert kind is not None
                call.fault = kind
                return self._fault_response(kind)
            delay = self._faults.timeout_delay if kind and self._faults else 0.0
        result = self._get_updates(params, fault=kind)
        if result is None:  # a newer getUpdates came in while this one waited
            self.conflicts += 1
            return _Response(409, _error(409, POLL_CONFLICT))
        return _Response(200, {"ok": True, "result": result}, delay)

    def _flood_wait(self, method: str, chat_id: Any) -> int:
        """Seconds to wait if this call is over the flood limits (0 = let it through)."""
        flood = self._flood
        if flood is None or method not in STATE_CHANGING:
            return 0
        now = time.monotonic()
        while flood.recent and now - flood.recent[0] >= 1.0:
            flood.recent.popleft()
        wait = 0.0
        if len(flood.recent) >= flood.per_second:
            wait = flood.recent[-flood.per_second] + 1.0 - now
        window = None
        in_group = method != "setMessageReaction" or flood.reactions_per_group
        if isinstance(chat_id, int) and chat_id < 0 and in_group:
            window = flood.per_chat.setdefault(chat_id, deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= flood.group_per_minute:
                wait = max(wait, window[-flood.group_per_minute] + 60.0 - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        flood.recent.append(now)
        if window is not None:
            window.append(now)
        return 0

    def _refusal(self, method: str, params: dict[str, Any]) -> tuple[int, str] | None:
        """Telegram's refusal of this call, with its code and words, if it would refuse."""
        if "chat_id" not in params and "inline_message_id" in params:
            return None  # inline messages are not tracked
        chat_id = int(params.get("chat_id") or 0)
        group = self.groups.get(chat_id) if chat_id < 0 else None
        writes = method in STATE_CHANGING
        if group is not None and writes:
            if group.bot_status in ("left", "kicked"):
                return 403, KICKED if group.bot_status == "kicked" else NOT_MEMBER
            if group.write_refusal is not None and method not in ("unpinChatMessage",):
                code = 403 if group.write_refusal.startswith("Forbidden") else 400
                return code, group.write_refusal
        if method in ("sendMessage", "sendPhoto", "sendDocument"):
            return self._topic_refusal(group, params) or _text_refusal(method, params)
        if method in ("editMessageText", "editMessageReplyMarkup"):
            return self._edit_refusal(group, method, params)
        if method == "pinChatMessage" and group is not None:
            if group.bot_status not in ("administrator", "creator"):
                return 400, NO_PIN_RIGHTS
        if method == "setMessageReaction":
            emojis = [r.get("emoji") for r in params.get("reaction") or [] if isinstance(r, dict)]
            allowed = (
                REACTION_EMOJI if group is None or group.reactions is None else group.reactions
            )
            if any(e not in REACTION_EMOJI or e not in allowed for e in emojis):
                return 400, REACTION_INVALID
        return None

    @staticmethod
    def _topic_refusal(group: FakeChat | None, params: dict[str, Any]) -> tuple[int, str] | None:
        topic = params.get("message_thread_id")
        if topic is not None and (group is None or not group.forum or topic not in group.topics):
            return 400, THREAD_NOT_FOUND  # General has no id to send to (1 is refused too)
        if group is not None and group.forum and (topic or 0) in group.closed:
            return 400, TOPIC_CLOSED
        return None

    def _edit_refusal(
        self, group: FakeChat | None, method: str, params: dict[str, Any]
    ) -> tuple[int, str] | None:
        key = (int(params.get("chat_id") or 0), int(params.get("message_id") or 0))
        current = self.messages.get(key)
        if current is None:
            return 400, NOT_FOUND
        if group is not None and key[1] in group.uneditable:
            return 400, NOT_EDITABLE
        if method == "editMessageText":
            refused = _text_refusal(method, params)
            if refused is not None:
                return refused
        if (
            method == "editMessageText"
            and params.get("text", "") == current["text"]
            and _shown(params.get("reply_markup")) == _shown(current.get("reply_markup"))
        ):
            self._not_modified += 1
            return 400, NOT_MODIFIED
        return None

    def _delete(self, chat_id: int, message_id: int) -> None:
        self.messages.pop((chat_id, message_id), None)

    def _get_updates(
        self, params: dict[str, Any], fault: str | None = None
    ) -> list[dict[str, Any]] | None:
        """The updates from `offset` on, waiting up to the poll's timeout (2 s at most here);
        None if another getUpdates came in meanwhile: Telegram ends the older one with 409."""
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 2.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            self.calls.append(Call("getUpdates", params, fault=fault))
            self._polls += 1
            mine = self._polls
            self._cond.notify_all()
            # Confirming an offset drops everything before it, as Telegram does.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
                if self._polls != mine:
                    return None
            return list(self._updates[:100])

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "sendPhoto", "sendDocument"):
            message_id = next(self._message_ids)
            message = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat(int(chat_id or 0)),
                "from": BOT_USER,
            }
            if method == "sendPhoto":
                message["photo"] = [
                    {
                        "file_id": str(params.get("photo")),
                        "file_unique_id": "u",
                        "width": 10,
                        "height": 10,
                    }
                ]
                message["caption"] = params.get("caption", "")
            elif method == "sendDocument":
                document = params.get("document")
                file_id = document if isinstance(document, str) else f"DOCUMENT-{message_id}"
                message["document"] = {"file_id": file_id, "file_unique_id": f"{file_id}u"}
                message["caption"] = params.get("caption", "")
            else:
                message["text"] = params.get("text", "")
            if _inline(params.get("reply_markup")):  # Telegram echoes only inline keyboards
                message["reply_markup"] = params["reply_markup"]
            topic = params.get("message_thread_id")
            if topic is not None:
                message["message_thread_id"], message["is_topic_message"] = topic, True
            if self.groups.get(int(chat_id or 0), FakeChat()).forum:
                message["chat"]["is_forum"] = True
            self.messages[(int(chat_id or 0), message_id)] = {
                "text": params.get("text") or params.get("caption") or "",
                "reply_markup": params.get("reply_markup"),
                "topic": topic,
                "disable_notification": bool(params.get("disable_notification")),
            }
            return message
        if method == "editMessageText":
            key = (int(chat_id or 0), int(params.get("message_id") or 0))
            self.messages[key] = {
                "text": params.get("text", ""),
                "reply_markup": params.get("reply_markup"),
            }
            message = {
                "message_id": key[1],
                "date": int(time.time()),
                "chat": chat(key[0]),
                "text": params.get("text", ""),
                "from": BOT_USER,
            }
            if _inline(params.get("reply_markup")):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "editMessageReplyMarkup":
            key = (int(chat_id or 0), int(params.get("message_id") or 0))
            if key in self.messages:
                self.messages[key]["reply_markup"] = params.get("reply_markup")
            return True
        if method == "deleteMessage":
            self._delete(int(chat_id or 0), int(params.get("message_id") or 0))
            return True
        if method == "pinChatMessage":
            message_id = int(params.get("message_id") or 0)
            self.pinned.setdefault(int(chat_id or 0), set()).add(message_id)
            order = self._pin_order.setdefault(int(chat_id or 0), [])
            if message_id in order:
                order.remove(message_id)
            order.append(message_id)
            return True
        if method == "unpinChatMessage":
            pins = self.pinned.setdefault(int(chat_id or 0), set())
            order = self._pin_order.setdefault(int(chat_id or 0), [])
            unpinned = params.get("message_id")
            if unpinned is None and order:  # Telegram unpins the most recent pin
                unpinned = order[-1]
            if unpinned is not None:
                pins.discard(int(unpinned))
                if int(unpinned) in order:
                    order.remove(int(unpinned))
            return True
        if method == "unpinAllChatMessages":
            self.pinned.pop(int(chat_id or 0), None)
            self._pin_order.pop(int(chat_id or 0), None)
            return True
        if method == "getChatMember":
            key = (int(chat_id or 0), int(params.get("user_id") or 0))
            status = self.chat_member_status.get(key, self.default_member_status)
            if key[1] == BOT_USER["id"] and key not in self.chat_member_status:
                status = self.group(key[0]).bot_status if key[0] < 0 else "member"
                bot: dict[str, Any] = {"status": status, "user": BOT_USER}
                if status == "administrator":
                    bot.update(can_pin_messages=True, can_manage_topics=True)
                return bot
            member: dict[str, Any] = {"status": status, "user": user(key[1], "Alguien")}
            if status == "kicked":
                member["until_date"] = 0
            return member
        if method == "getChat":
            return chat(int(chat_id or 0))
        return True


def _failure_response(failure: Failure, call: Call) -> _Response:
    if failure.code == 0:
        call.fault = "drop"
        return _Response(0, None)
    extra = {} if failure.retry_after is None else {"retry_after": failure.retry_after}
    return _Response(failure.code, _error(failure.code, failure.description, **extra))


def _text_refusal(method: str, params: dict[str, Any]) -> tuple[int, str] | None:
    """A text or caption Telegram will not take: HTML it cannot parse, too long, empty."""
    key = "caption" if method in ("sendPhoto", "sendDocument") else "text"
    raw = str(params.get(key) or "")
    shown = raw
    if params.get("parse_mode") == "HTML":
        try:
            shown = parse_html(raw)
        except HTMLError as exc:
            return 400, f"Bad Request: can't parse entities: {exc}"
    if key == "caption":
        return (400, CAPTION_TOO_LONG) if utf16(shown) > CAPTION_LIMIT else None
    if not shown.strip():
        return 400, EMPTY_TEXT
    return (400, TOO_LONG) if utf16(shown) > TEXT_LIMIT else None


def _shown(markup: Any) -> Any:
    """The keyboard a message shows: only non-empty inline keyboards count."""
    if _inline(markup) and any(markup["inline_keyboard"]):
        return markup["inline_keyboard"]
    return None


def _inline(markup: Any) -> bool:
    return isinstance(markup, dict) and "inline_keyboard" in markup


def _parse(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        return dict(json.loads(body))
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=email_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        raw = {
            part.get_param("name", header="content-disposition"): part.get_content()
            for part in message.iter_parts()
        }
    else:
        raw = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return {key: _value(key, value) for key, value in raw.items()}


def _value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _INT_KEYS:
        try:
            return int(value)
        except ValueError:
            return value
    if value[:1] in "[{" and key not in ("text", "caption"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value in ("true", "false") and key not in ("text", "caption"):
        return value == "true"
    return value


# --- updates as Telegram sends them ----------------------------------------------------------

_incoming_ids = itertools.count(1)


def in_topic(message: dict[str, Any], topic: int | None, name: str = "Tema") -> dict[str, Any]:
    """The message as Telegram sends it from a forum topic: message_thread_id, is_topic_message
    and, unless it answers something, reply_to_message = the topic's own creation message."""
    if topic is None:
        return message
    message["chat"]["is_forum"] = True
    message["message_thread_id"], message["is_topic_message"] = topic, True
    message.setdefault(
        "reply_to_message",
        {
            "message_id": topic,
            "date": message["date"] - 3600,
            "chat": message["chat"],
            "from": message["from"],
            "message_thread_id": topic,
            "is_topic_message": True,
            "forum_topic_created": {"name": name, "icon_color": 7322096},
        },
    )
    return message


def command_update(
    chat_id: int,
    sender: dict[str, Any],
    text: str,
    *,
    topic: int | None = None,
    topic_name: str = "Tema",
    date: int | None = None,
    forwarded_from: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A text message (a command when it starts with /), in a topic, written at `date`
    (default now), or forwarded from someone else's message."""
    command = text.split()[0] if text.startswith("/") else ""
    message: dict[str, Any] = {
        "message_id": next(_incoming_ids),
        "date": int(time.time()) if date is None else date,
        "chat": chat(chat_id),
        "from": sender,
        "text": text,
    }
    if command:
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    if forwarded_from is not None:
        message["forward_origin"] = {
            "type": "user",
            "date": message["date"] - 60,
            "sender_user": forwarded_from,
        }
    return {"message": in_topic(message, topic, topic_name)}


def bot_member_update(chat_id: int, old: str, new: str, by: int = 1) -> dict[str, Any]:
    """What Telegram sends when the bot's own status in a group changes (my_chat_member)."""

    def member(status: str) -> dict[str, Any]:
        data: dict[str, Any] = {"status": status, "user": BOT_USER}
        if status == "administrator":
            data.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
                can_manage_topics=True,
            )
        if status == "kicked":
            data["until_date"] = 0
        if status == "restricted":
            data.update(
                is_member=True,
                can_send_messages=False,
                can_send_audios=False,
                can_send_documents=False,
                can_send_photos=False,
                can_send_videos=False,
                can_send_video_notes=False,
                can_send_voice_notes=False,
                can_send_polls=False,
                can_send_other_messages=False,
                can_add_web_page_previews=False,
                can_change_info=False,
                can_invite_users=False,
                can_pin_messages=False,
                can_manage_topics=False,
                can_edit_tag=False,
                can_react_to_messages=False,
                until_date=0,
            )
        return data

    return {
        "my_chat_member": {
            "chat": chat(chat_id),
            "from": user(by, "Admin"),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
    }


def photo_update(
    chat_id: int,
    sender: dict[str, Any],
    caption: str,
    file_id: str = "PHOTO-1",
    *,
    topic: int | None = None,
) -> dict[str, Any]:
    command = caption.split()[0] if caption.startswith("/") else ""
    message: dict[str, Any] = {
        "message_id": next(_incoming_ids),
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": sender,
        "caption": caption,
        "photo": [
            {"file_id": file_id, "file_unique_id": file_id + "u", "width": 640, "height": 480}
        ],
    }
    if command:
        message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"message": in_topic(message, topic)}


def press_update(
    chat_id: int, message_id: int, sender: dict[str, Any], data: str, *, topic: int | None = None
) -> dict[str, Any]:
    """A button pressed on the bot's message `message_id` (in `topic`, in a forum)."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": BOT_USER,
        "text": "…",
    }
    if topic is not None:
        message["message_thread_id"], message["is_topic_message"] = topic, True
        message["chat"]["is_forum"] = True
    return {
        "callback_query": {
            "id": str(next(_incoming_ids)),
            "from": sender,
            "chat_instance": str(chat_id),
            "data": data,
            "message": message,
        }
    }


def reply_update(chat_id: int, sender: dict[str, Any], text: str, reply_to: int) -> dict[str, Any]:
    """A text message answering one of the bot's messages (e.g. a ForceReply question)."""
    update = command_update(chat_id, sender, text)
    update["message"]["reply_to_message"] = {
        "message_id": reply_to,
        "date": int(time.time()),
        "chat": chat(chat_id),
        "from": BOT_USER,
        "text": "…",
    }
    return update


def migrate_update(old_chat_id: int, new_chat_id: int, sender: dict[str, Any]) -> dict[str, Any]:
    """The service message Telegram sends in a group that became the supergroup `new_chat_id`."""
    return {
        "message": {
            "message_id": next(_incoming_ids),
            "date": int(time.time()),
            "chat": {"id": old_chat_id, "type": "group", "title": "Equipo"},
            "from": sender,
            "migrate_to_chat_id": new_chat_id,
        }
    }


def migrated_from_update(
    new_chat_id: int, old_chat_id: int, sender: dict[str, Any]
) -> dict[str, Any]:
    """The matching service message Telegram sends in the new supergroup."""
    return {
        "message": {
            "message_id": next(_incoming_ids),
            "date": int(time.time()),
            "chat": chat(new_chat_id),
            "from": sender,
            "migrate_from_chat_id": old_chat_id,
        }
    }


class InProcessRequest(BaseRequest):
    """python-telegram-bot's request interface answered by a FakeBotAPI in this process: no
    socket, no thread. Each mishap becomes what HTTPXRequest raises for it."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if self.api.unreachable:
            raise NetworkError("httpx.ConnectError: All connection attempts failed")
        name = url.rsplit("/", 1)[-1]
        params = json.loads(json.dumps(request_data.parameters)) if request_data else {}
        response = self.api._dispatch(name, params)
        if response.mishap is Mishap.KILLED:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            await asyncio.sleep(0)  # the kill lands while the call awaits Telegram's answer
            raise AssertionError("a cancelled call went on")
        if response.mishap in (Mishap.TOO_SLOW, Mishap.LATE):
            raise TimedOut()
        if response.mishap is Mishap.SLOW:
            await asyncio.sleep(response.delay)
        if response.mishap is Mishap.NO_CONNECTION:
            raise NetworkError("httpx.ConnectError: All connection attempts failed")
        if response.payload is None or response.mishap is Mishap.ANSWER_LOST:
            raise NetworkError(
                "httpx.RemoteProtocolError: Server disconnected without sending a response."
            )
        return response.status, json.dumps(response.payload).encode()
