"""The delivery worker: sends the outbox by priority, within Telegram's flood limits.

- Critical rows (alert, general failure, escalations, all-clear) go first and are never
  dropped: 429 waits `retry_after`, 5xx and timeouts back off, a chat that refuses (403) is
  retried slowly until it answers again. A rare duplicate after a timeout is counted.
- Each chat's rows go out one at a time and in order, so a card edit never overtakes the card.
- The message id is stored the moment a send succeeds, in the same transaction as its status.
- Card edits are folded (only the newest pending edit of a card is sent) and skipped when the
  card already shows the same text and buttons.
- Chatter leaves room in a group's budget for what matters, and is dropped after its retries.
- In a burst of reports, the 👍 that would come late are one message naming those people.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import inspect
import json
import logging
import random
import time
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased
from telegram import Bot, ForceReply, InlineKeyboardMarkup, InputFile, Message, ReplyParameters
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import chats, outbox, texts
from bot.runtime import Runtime
from bot.telegram_errors import Verdict, verdict
from bot.telegram_text import CAPTION_LIMIT, TEXT_LIMIT, plain, shorten, split, units
from models import IncidentMessage, OutboxMessage
from models.delivery import CHATTER, CRITICAL, DROPPED, FOLDED, NEWS, PENDING, SENT, UNCHANGED

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 8
BATCH = 200
MAX_TRIES = {CHATTER: 5}  # critical and news rows to a team chat are never given up
# A critical or news row to a person (not a team chat) that still fails after this is dropped
# with an error in the log: a person who blocked the bot is no sector left unwarned.
CRITICAL_GIVE_UP = timedelta(hours=24)
MAX_BACKOFF = 30.0
REFUSED_BACKOFF = 600.0  # a chat that refused: try its critical messages again this often
# The budget's lanes, from what matters most: critical rows, news, an answer a person waits
# for (a reply, a question: chatter that sends a message), card edits (they fold, so they can
# always yield), then the rest of the chatter (unpins, button clean-ups, sector questions).
ANSWER = "answer"
EDIT = "edit"
Lane = int | str
LANES: tuple[Lane, ...] = (CRITICAL, NEWS, ANSWER, EDIT, CHATTER)
# Share of a group's budget (per minute) each lane leaves free for the lanes before it. Card
# edits stop at 12 a minute (they fold: the card shows the state a little later), leaving 5
# for news and answers: a person's question never waits a minute behind the card.
RESERVE: dict[Lane, int] = {CRITICAL: 0, NEWS: 2, ANSWER: 3, EDIT: 8, CHATTER: 8}
# Share of the overall rate (per second) kept free the same way: an alert never waits a second
# behind a burst of 👍 reactions.
SECOND_RESERVE: dict[Lane, float] = {
    CRITICAL: 0.0,
    NEWS: 0.1,
    ANSWER: 0.15,
    EDIT: 0.2,
    CHATTER: 0.2,
}
SENDS = ("send", "photo", "upload_photo", "upload_document", "ask_sector")
ANSWERS = ("send", "photo", "upload_photo", "upload_document")  # chatter a person waits for
ASK_SECTOR_EVERY = 60.0  # seconds between two sector questions in one group
CARD_GAP = 0.25  # seconds between two edits of one card
# A burst of /caido: a 👍 that would wait longer than this behind the others goes instead in one
# message per group naming those people, at most one such message a second per group, and
# only when it names at least JOINED_MIN people (fewer are not worth a message in the group).
REACTION_WAIT = 2.0
JOINED_EVERY = 1.0
JOINED_MIN = 3
JOINED_TAG = "joined"
UNDER_WAY_POLL = 0.02  # seconds: how often a request waiting on the budget looks again
# The row a delivery task is sending, and the budget slot taken when it was chosen.
_ROW: ContextVar[tuple[Row, Slot] | None] = ContextVar("flexus_outbox_row", default=None)
# The Bot API method the task called last ("sendMessage"): a refusal means what it means for it.
_CALL: ContextVar[str] = ContextVar("flexus_outbox_call", default="")


def _api_name(name: str) -> str:
    """send_message → sendMessage, as the Bot API names its methods."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Budget:
    """Rolling windows: `per_second` requests overall, `group_per_minute` per group chat.

    Telegram counts a request at the moment it arrives, somewhere between the moment it was
    sent and the moment its answer came back. So a request counts in a window from when it is
    sent until one window after its answer (while it is under way it counts for sure): no
    request can then be in Telegram's window unless it is in ours, whatever the latency.
    """

    def __init__(self, per_second: int, group_per_minute: int) -> None:
        self.per_second, self.group_per_minute = max(1, per_second), max(1, group_per_minute)
        self._all: list[Slot] = []
        self._groups: defaultdict[int, list[Slot]] = defaultdict(list)

    def wait(self, chat_id: int, priority: Lane, now: float, *, posts: bool = True) -> float:
        """Seconds until a request of this lane may go to this chat (0: now).

        `posts`: the request puts something in the chat (a message, an edit, a pin) and uses
        the group's 20-a-minute budget; a reaction does not, only the overall rate."""
        self._all = _recent(self._all, now, 1.0)
        share = 1.0 - SECOND_RESERVE.get(priority, 0.0)
        wait = _until_room(self._all, max(1, int(self.per_second * share)), now, 1.0)
        if chat_id < 0 and posts:
            window = self._groups[chat_id] = _recent(self._groups[chat_id], now, 60.0)
            cap = max(1, self.group_per_minute - RESERVE.get(priority, 0))
            wait = max(wait, _until_room(window, cap, now, 60.0))
        return max(0.0, wait)

    def room(self, chat_id: int, priority: Lane, now: float) -> int:
        """How many more messages of this lane the group's minute takes now."""
        window = self._groups[chat_id] = _recent(self._groups[chat_id], now, 60.0)
        return max(0, self.group_per_minute - RESERVE.get(priority, 0) - len(window))

    def take(self, chat_id: int, now: float, *, posts: bool = True) -> Slot:
        """Count a request sent now; `settle` it when its answer arrives."""
        slot = Slot(now)
        self._all.append(slot)
        if chat_id < 0 and posts:
            self._groups[chat_id].append(slot)
        return slot

    @staticmethod
    def settle(slot: Slot, now: float) -> None:
        slot.answered = now


@dataclass
class Slot:
    sent: float
    answered: float = float("inf")  # still under way: it counts in every window
    used: bool = False  # a slot taken when a row is chosen is used by its first request

    def release(self) -> None:
        """The row made no request after all (folded, unchanged): it counts nowhere."""
        if not self.used:
            self.answered = float("-inf")


def _recent(slots: list[Slot], now: float, window: float) -> list[Slot]:
    return [s for s in slots if now - s.answered < window]


def _until_room(slots: list[Slot], cap: int, now: float, window: float) -> float:
    """Seconds until fewer than `cap` of `slots` count (a short poll if some are under way)."""
    if len(slots) < cap:
        return 0.0
    ends = sorted(s.answered for s in slots)
    end = ends[len(slots) - cap]
    return UNDER_WAY_POLL if end == float("inf") else end + window - now


@dataclass(frozen=True)
class Row:
    id: int
    priority: int
    method: str
    chat_id: int
    payload: dict[str, Any]
    card_key: str | None
    attempts: int
    uncertain: bool
    created_at: datetime
    last_error: str | None = None

    @property
    def lane(self) -> Lane:
        if self.priority == CRITICAL:
            return CRITICAL
        if self.method == "edit_card":
            return EDIT
        if self.priority == NEWS:
            return NEWS
        return ANSWER if self.method in ANSWERS else CHATTER


class Postpone(Exception):
    """Not an error: the row waits (e.g. a card edit whose card is still being sent)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


@dataclass(frozen=True)
class Outcome:
    status: str
    message_id: int | None = None


def inline_of(data: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    markup = markup_of(data)
    return markup if isinstance(markup, InlineKeyboardMarkup) else None


def markup_of(data: dict[str, Any] | None) -> InlineKeyboardMarkup | ForceReply | None:
    if not data:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.de_json(data, None)
    if data.get("force_reply"):
        return ForceReply(selective=data.get("selective"))
    return None


class Charged:
    """The bot, with each request counted against the budget as it is sent (a row may make
    more than one request: a card posted again and pinned, an upload)."""

    def __init__(self, bot: Bot, worker: DeliveryWorker) -> None:
        self._bot, self._worker = bot, worker

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._bot, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(method):
            return method

        async def counted(*args: Any, **kwargs: Any) -> Any:
            _CALL.set(_api_name(name))  # what a refusal answered (see bot.telegram_errors)
            slot = await self._worker.spend(posts=name != "set_message_reaction")
            try:
                return await method(*args, **kwargs)
            finally:
                if slot is not None:
                    Budget.settle(slot, time.monotonic())

        return counted


class DeliveryWorker:
    def __init__(self, runtime: Runtime, bot: Bot) -> None:
        settings = runtime.config.settings
        self.runtime = runtime
        self.bot: Any = Charged(bot, self)
        self.budget = Budget(
            settings.telegram_msgs_per_second, settings.telegram_group_msgs_per_minute
        )
        self._wake = asyncio.Event()
        self._busy_chats: set[int] = set()
        self._busy_rows: set[int] = set()
        self._blocked_until: dict[int, float] = {}  # chat -> monotonic time (429)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._unreachable: set[int] = set()
        # Row id -> when its outcome was committed. A read that started before that may still
        # show the row pending: it must not be sent again from such a stale read.
        self._finished_at: dict[int, float] = {}
        self._reposting: set[int] = set()  # card edits that are posting their card again
        self._asked_at: dict[int, float] = {}  # group -> when its last sector question went
        self._edited_at: dict[str, float] = {}  # card -> when its last edit went
        self._joined_at: dict[int, float] = {}  # group -> when its last "joined" message was made
        self._cannot_pin: set[int] = set()  # chats where a pin was refused for want of rights

    def wake(self) -> None:
        self._wake.set()

    @property
    def unreachable(self) -> frozenset[int]:
        return frozenset(self._unreachable)

    def chat_writable(self, chat_id: int, writable: bool) -> None:
        """Telegram said the bot was added back to a chat (or removed from it)."""
        if writable:
            self._unreachable.discard(chat_id)
            self._blocked_until.pop(chat_id, None)
        else:
            self._unreachable.add(chat_id)
        self.wake()

    async def run(self) -> None:
        async with self.runtime.read_session() as session:
            self._unreachable = {c.chat_id for c in await chats.unreachable_chats(session)}
        while not self._stopping:
            self._wake.clear()
            try:
                delay = await self._dispatch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the delivery worker hit an error; trying again in 1 s")
                delay = 1.0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def stop(self, grace: float = 5.0) -> None:
        """Let sends under way finish (briefly); pending rows stay stored for the next start."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)

    # --- choosing what goes next -------------------------------------------------------------
    async def _pending(self) -> list[OutboxMessage]:
        async with self.runtime.read_session() as session:
            return list(
                (
                    await session.scalars(
                        select(OutboxMessage)
                        .where(OutboxMessage.status == PENDING)
                        .order_by(OutboxMessage.priority, OutboxMessage.id)
                        .limit(BATCH)
                    )
                ).all()
            )

    async def _fold_pending(self) -> int:
        """Every card's pending edits but the newest are folded into it, in one statement."""
        newer = aliased(OutboxMessage)
        async with self.runtime.sessions() as session:
            result: Any = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == PENDING,
                    OutboxMessage.card_key.is_not(None),
                    exists().where(
                        newer.card_key == OutboxMessage.card_key,
                        newer.status == PENDING,
                        newer.id > OutboxMessage.id,
                    ),
                )
                .values(status=FOLDED, done_at=self.runtime.clock.now())
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        folded = int(result.rowcount or 0)
        self.runtime.stats.folded += folded
        return folded

    async def _dispatch(self) -> float:
        now_clock = self.runtime.clock.now()
        read_at = time.monotonic()
        rows = await self._pending()
        keys = [r.card_key for r in rows if r.card_key is not None]
        if len(keys) != len(set(keys)) and await self._fold_pending():
            read_at = time.monotonic()
            rows = await self._pending()
        self._finished_at = {i: t for i, t in self._finished_at.items() if read_at - t < 60}
        self._edited_at = {k: t for k, t in self._edited_at.items() if read_at - t < CARD_GAP}
        fresh = [
            r
            for r in rows
            if r.id not in self._busy_rows and self._finished_at.get(r.id, -1.0) < read_at
        ]
        # A row under way, or whose outcome this read may not show, still holds its chat back:
        # a chat's messages never overtake one another.
        held = {r.chat_id for r in rows if r not in fresh}
        rows = fresh
        snapshot = [_row(r) for r in rows]
        not_yet = [r.next_attempt_at for r in rows if r.next_attempt_at > now_clock]
        delay = 5.0
        if not_yet:
            delay = min(delay, max(0.01, (min(not_yet) - now_clock).total_seconds()))
        due_ids = {r.id for r in rows if r.next_attempt_at <= now_clock}
        if await self._fold_late_reactions(snapshot, due_ids, held):
            return 0.0  # read again: the new message is in its chat's sequence
        # Lanes first (an answer a person waits for before a card edit), each chat's rows in
        # the order they were written.
        snapshot.sort(key=lambda r: (LANES.index(r.lane), r.id))
        seen: set[int] = set(held)
        now = time.monotonic()
        for row in snapshot:
            if len(self._tasks) >= MAX_IN_FLIGHT:
                break
            # A chat's messages go in order: the first one waiting blocks the rest. A reaction
            # is in no sequence (a 👍 on someone's report does not wait for a card edit waiting
            # for the group's minute), nor is a card edit (it folds: it never holds back an
            # answer or news), nor a sector question waiting for its minute.
            loose = row.method == "reaction"
            sequenced = not loose and row.method not in ("edit_card", "ask_sector")
            if row.id not in due_ids or self._waits_for_chat(row, snapshot):
                if sequenced and not self._held_alone_row(row):
                    seen.add(row.chat_id)
                continue
            if row.chat_id in seen and (sequenced or row.method == "ask_sector"):
                continue
            if sequenced:
                seen.add(row.chat_id)
            if row.chat_id in self._busy_chats and not loose:
                continue
            blocked = self._blocked_until.get(row.chat_id, 0.0) - now
            if row.method == "edit_card":
                # A card changing with every vote of a burst is edited at most this often:
                # the next edit shows every vote since, and nobody reads faster.
                blocked = max(
                    blocked, self._edited_at.get(row.card_key or "", -60.0) + CARD_GAP - now
                )
            posts = self._posts(row)
            wait = max(blocked, self.budget.wait(row.chat_id, row.lane, now, posts=posts))
            if wait > 0:
                delay = min(delay, wait)
                continue
            slot = self.budget.take(row.chat_id, now, posts=posts)
            if row.method == "edit_card":
                self._edited_at[row.card_key or ""] = now
            if not loose:
                self._busy_chats.add(row.chat_id)
            self._busy_rows.add(row.id)
            task = asyncio.create_task(self._deliver_counted(row, slot))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._done, row))
        return delay

    def _held_alone_row(self, row: Row) -> bool:
        """A row Telegram refused for what it says (a 400) in a chat that takes the bot's other
        messages: waiting for its next try, it holds none of them back."""
        refused = (row.last_error or "").startswith("400")
        return refused and row.chat_id not in self._unreachable

    def _posts(self, row: Row) -> bool:
        """The row puts something in the chat (uses the group's minute): all but a reaction
        where reactions work (where they do not, the person gets a short reply instead)."""
        return row.method != "reaction" or row.chat_id in self.runtime.reactionless

    @staticmethod
    def _waits_for_chat(row: Row, rows: list[Row]) -> bool:
        """A row written to go after another chat's messages (`after_chat`, e.g. the note to
        the admins that the held messages of a group went out) waits while they are pending."""
        other = row.payload.get("after_chat")
        return other is not None and any(
            r.chat_id == other and r.priority <= NEWS and r.id < row.id for r in rows
        )

    async def _fold_late_reactions(
        self, rows: list[Row], due_ids: set[int], held: set[int]
    ) -> bool:
        """The 👍 that would wait more than REACTION_WAIT behind the others become one message
        per group naming those people, in one transaction (the reactions folded, the message
        added). Only where that message can go at once: the chat is not blocked, no earlier
        one waits, and the group's minute has room for it after the rows ahead of it.
        Otherwise they wait their turn as reactions. True if a message was added."""
        reactions = [r for r in rows if r.method == "reaction" and r.id in due_ids]
        rate = self.budget.per_second * (1.0 - SECOND_RESERVE[CHATTER])
        late: defaultdict[int, list[Row]] = defaultdict(list)
        for row in reactions[int(rate * REACTION_WAIT) :]:
            # A reaction tried before may have reached Telegram: it stays a reaction.
            if row.payload.get("name") and row.chat_id < 0 and not (row.attempts or row.uncertain):
                late[row.chat_id].append(row)
        now = time.monotonic()
        added = False
        for chat_id, folding in late.items():
            ahead = [r for r in rows if r.chat_id == chat_id and r.method != "reaction"]
            if (
                len(folding) < JOINED_MIN
                or now - self._joined_at.get(chat_id, -60.0) < JOINED_EVERY
                or chat_id in self._unreachable
                or self._blocked_until.get(chat_id, 0.0) > now
                or any(r.payload.get("tag") == JOINED_TAG for r in ahead)
                or self.budget.room(chat_id, NEWS, now)
                <= sum(r.priority <= NEWS for r in ahead) + (chat_id in held)
            ):
                continue
            names: dict[str, None] = {}  # each person once, in order
            length = 0
            for count, row in enumerate(folding):
                name = row.payload["name"]
                if name not in names:
                    length += len(texts.joined_name(name).encode("utf-16-le")) // 2 + 2
                    if length > texts.JOINED_NAMES_MAX:  # counted as Telegram counts
                        folding = folding[:count]
                        break
                    names[name] = None
            if len(names) < JOINED_MIN:
                continue
            clock_now = self.runtime.clock.now()
            async with self.runtime.sessions() as session:
                result: Any = await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_([r.id for r in folding]),
                        OutboxMessage.status == PENDING,
                    )
                    .values(status=FOLDED, done_at=clock_now)
                    .execution_options(synchronize_session=False)
                )
                if int(result.rowcount or 0) != len(folding):
                    await session.rollback()  # one of them moved on meanwhile: next read
                    continue
                outbox.send(
                    session,
                    chat_id,
                    texts.joined_many(list(names)),
                    priority=NEWS,
                    now=clock_now,
                    tag=JOINED_TAG,
                )
                await session.commit()
            self._joined_at[chat_id] = now
            log.info(
                "chat %s: %d late 👍 answered by name in one message instead", chat_id, len(folding)
            )
            added = True
        return added

    def _done(self, row: Row, task: asyncio.Task[None]) -> None:
        self._finished_at[row.id] = time.monotonic()
        self._tasks.discard(task)
        if row.method != "reaction":
            self._busy_chats.discard(row.chat_id)
        self._busy_rows.discard(row.id)
        self._wake.set()

    # --- one row -----------------------------------------------------------------------------
    async def _deliver_counted(self, row: Row, slot: Slot) -> None:
        _ROW.set((row, slot))
        try:
            await self._deliver(row)
        finally:
            slot.release()

    async def spend(self, *, posts: bool) -> Slot | None:
        """Wait for room in the budget for one more request of the current row, and take it."""
        current = _ROW.get()
        if current is None:
            return None
        row, reserved = current
        if not reserved.used:
            reserved.used, reserved.sent = True, time.monotonic()
            return reserved
        while True:
            now = time.monotonic()
            wait = self.budget.wait(row.chat_id, row.lane, now, posts=posts)
            if wait <= 0:
                return self.budget.take(row.chat_id, now, posts=posts)
            await asyncio.sleep(wait)

    async def _deliver(self, row: Row) -> None:
        if row.method in SENDS and not row.uncertain and row.priority != CHATTER:
            # Write-ahead: if the process dies while Telegram has the request, the next try
            # knows it may be a duplicate and counts it. Not for chatter (a reply, a prompt):
            # a second copy of it after a crash harms no one, and the mark costs a transaction
            # before every reply. A timeout still marks it (see `_retry`).
            async with self.runtime.sessions() as session:
                await self._set(session, row, uncertain=True)
                await session.commit()
        try:
            outcome = await self._call(row)
        except Postpone as wait:
            await self._reschedule(row, wait.seconds, None, count=False)
        except RetryAfter as exc:
            seconds = _seconds(exc.retry_after)
            self._blocked_until[row.chat_id] = time.monotonic() + seconds
            await self._reschedule(row, seconds, f"429: retry after {seconds:.0f} s", count=False)
        except ChatMigrated as exc:
            await self._migrated(row, exc.new_chat_id)
        except TimedOut as exc:
            uncertain = row.method in SENDS or row.id in self._reposting
            await self._retry(row, f"timed out: {exc.message}", uncertain=uncertain)
        except Forbidden as exc:
            await self._refused(row, f"403: {exc.message}")
        except BadRequest as exc:
            await self._bad_request(row, exc)
        except NetworkError as exc:
            # The request may have reached Telegram unless the connection never opened.
            # A 5xx ("Bad Gateway") is Telegram's answer: the request was not carried out.
            reached = (
                (row.method in SENDS or row.id in self._reposting)
                and exc.message.startswith("httpx.")
                and not exc.message.startswith("httpx.ConnectError")
            )
            await self._retry(row, f"{type(exc).__name__}: {exc.message}", uncertain=reached)
        except TelegramError as exc:
            await self._retry(row, f"{type(exc).__name__}: {exc.message}")
        except Exception as exc:
            log.exception("unexpected error delivering outbox row %s", row.id)
            await self._retry(row, f"{type(exc).__name__}: {exc}")
        else:
            await self._finish(row, outcome)
        finally:
            self._reposting.discard(row.id)

    async def _call(self, row: Row) -> Outcome:
        p, chat_id = row.payload, row.chat_id
        if row.method == "send":
            reply = ReplyParameters(p["reply_to"], allow_sending_without_reply=True)
            message = await self._post(
                row,
                "send_message",
                text=p["text"],
                reply_markup=markup_of(p.get("markup")),
                reply_parameters=reply if p.get("reply_to") else None,
            )
            return Outcome(SENT, message.message_id)
        if row.method == "photo":
            message = await self._post(row, "send_photo", photo=p["file_id"], caption=p["caption"])
            return Outcome(SENT, message.message_id)
        if row.method in ("upload_photo", "upload_document"):
            upload = InputFile(base64.b64decode(p["data"]), filename=p["filename"])
            kind = "photo" if row.method == "upload_photo" else "document"
            message = await self._post(row, f"send_{kind}", caption=p["caption"], **{kind: upload})
            return Outcome(SENT, message.message_id)
        if row.method == "edit_card":
            return await self._edit_card(row)
        if row.method == "ask_sector":
            return await self._ask_sector(row)
        if row.method == "reaction":
            return await self._react(row)
        try:
            if row.method == "pin":
                # Only the first pin of an alert rings (people who muted the group hear it).
                silent = not p.get("notify")
                await self.bot.pin_chat_message(
                    chat_id, p["message_id"], disable_notification=silent
                )
            elif row.method == "unpin":
                await self.bot.unpin_chat_message(chat_id, p["message_id"])
            elif row.method == "clear_markup":
                await self.bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=p["message_id"], reply_markup=None
                )
            else:
                log.error("outbox row %s has an unknown method %r: dropped", row.id, row.method)
                return Outcome(DROPPED)
        except BadRequest as exc:
            return self._refusal_noted(row, exc)
        return Outcome(SENT)

    def _refusal_noted(self, row: Row, exc: BadRequest) -> Outcome:
        """Pins and button clean-ups are never retried: a refusal is noted and that is all."""
        meaning = verdict(_CALL.get(), 400, exc.message)
        if meaning is Verdict.NO_PIN_RIGHTS:
            if row.chat_id not in self._cannot_pin:
                self._cannot_pin.add(row.chat_id)
                log.warning(
                    "chat %s: the bot may not pin messages (%s): cards stay unpinned there "
                    "(make it an admin with «Fijar mensajes»)",
                    row.chat_id,
                    exc.message,
                )
        elif meaning in (Verdict.UNKNOWN, Verdict.NOT_HERE):
            log.warning("Telegram refused %s in chat %s: %s", _CALL.get(), row.chat_id, exc.message)
        else:
            log.info("%s in chat %s: nothing to do (%s)", _CALL.get(), row.chat_id, exc.message)
        return Outcome(UNCHANGED)

    async def _post(self, row: Row, call: str, **kwargs: Any) -> Message:
        """A new message in the row's chat and topic, sent another way when Telegram refuses
        this way: a closed or deleted topic → the alert topic, then General (once, the admins
        are told); markup that does not parse → plain text; too long → in parts (a text) or
        shortened (a caption). Chatter arrives silently."""
        kwargs.setdefault("disable_notification", row.priority == CHATTER)
        if call == "send_message":
            kwargs.setdefault("disable_web_page_preview", True)
        topic = self._topic(row)
        send = getattr(self.bot, call)
        while True:
            try:
                sent: Message = await send(row.chat_id, message_thread_id=topic, **kwargs)
                return sent
            except BadRequest as exc:
                meaning = verdict(_CALL.get(), 400, exc.message)
                if meaning is Verdict.TOPIC_GONE and topic is not None:
                    topic = await self._topic_gone(row, topic, exc.message)
                    continue
                if meaning is Verdict.REPLY_GONE and kwargs.get("reply_parameters"):
                    kwargs["reply_parameters"] = None  # the person deleted what it answers
                    continue
                if meaning is Verdict.TOO_LONG and call == "send_message":
                    return await self._in_parts(row, send, topic, kwargs)
                if meaning is Verdict.TOO_LONG and kwargs.get("caption"):
                    log.warning("outbox row %s: caption too long for Telegram: cut", row.id)
                    kwargs["caption"] = shorten(kwargs["caption"], CAPTION_LIMIT)
                    continue
                unknown = meaning is Verdict.UNKNOWN and row.priority != CHATTER
                if (meaning is Verdict.BAD_HTML or unknown) and "parse_mode" not in kwargs:
                    # Our own text Telegram will not take as it is: what it says still goes.
                    log.error(
                        "Telegram refused outbox row %s as written (%s): sent as plain text",
                        row.id,
                        exc.message,
                    )
                    kwargs["parse_mode"] = None  # given: not the bot's default (HTML)
                    for key in ("text", "caption"):
                        if kwargs.get(key):
                            kwargs[key] = plain(kwargs[key])
                    continue
                raise

    async def _in_parts(
        self, row: Row, send: Any, topic: int | None, kwargs: dict[str, Any]
    ) -> Message:
        """A text longer than Telegram takes, as several messages: the reply on the first,
        the buttons on the last. The first one is the row's message."""
        parts = split(kwargs.pop("text"))
        log.warning(
            "outbox row %s is longer than Telegram takes: sent in %d parts", row.id, len(parts)
        )
        markup = kwargs.pop("reply_markup", None)
        first: Message | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                message = await send(
                    row.chat_id,
                    text=part,
                    message_thread_id=topic,
                    reply_markup=markup if last else None,
                    **kwargs,
                )
            except BadRequest as exc:
                if first is None or "parse_mode" in kwargs:
                    raise  # nothing went yet (the row is retried whole), or already plain
                # Earlier parts are in the chat: this one goes as plain text rather than
                # sending them all again (a cut can fall inside the HTML of a name).
                log.error(
                    "outbox row %s: part %d refused (%s): sent as plain text",
                    row.id,
                    index + 1,
                    exc.message,
                )
                message = await send(
                    row.chat_id,
                    text=plain(part),
                    message_thread_id=topic,
                    reply_markup=markup if last else None,
                    **{**kwargs, "parse_mode": None},
                )
            kwargs.pop("reply_parameters", None)
            first = first or message
        assert first is not None
        return first

    def _topic(self, row: Row) -> int | None:
        """The forum topic a message goes to: the one it answers in (a reply), else the chat's
        alert topic (None: General, and every chat without topics)."""
        topic = row.payload.get("topic")
        if topic is None:
            return self.runtime.alert_topic(row.chat_id)
        return int(topic) or None  # 0: the General topic

    async def _topic_gone(self, row: Row, topic: int, error: str) -> int | None:
        """The topic refused (closed or deleted): where the message goes instead. The alert
        topic itself is forgotten (alerts go to General from now on) and the admins told."""
        alert = self.runtime.alert_topic(row.chat_id)
        if topic != alert:
            log.info(
                "chat %s: topic %s refused (%s): sent to the alert topic", row.chat_id, topic, error
            )
            return alert
        now = self.runtime.clock.now()
        async with self.runtime.sessions() as session:
            title = await chats.forget_alert_topic(session, chat_id=row.chat_id)
            if title is not None:
                for admin in self.runtime.admin_ids:
                    outbox.send(
                        session,
                        admin,
                        texts.alert_topic_gone(title, error),
                        priority=NEWS,
                        now=now,
                    )
            await session.commit()
        self.runtime.alert_topics.pop(row.chat_id, None)
        log.warning(
            "chat %s: the alert topic %s refused (%s): alerts go to the General topic now",
            row.chat_id,
            topic,
            error,
        )
        self.wake()
        return None

    async def _react(self, row: Row) -> Outcome:
        """A 👍 on a report; where the chat does not take it, a short reply instead (the
        chat remembers, so the next person does not wait for a refused try)."""
        p = row.payload
        if row.chat_id in self.runtime.reactionless:
            return await self._answer_instead(row)
        try:
            await self.bot.set_message_reaction(row.chat_id, p["message_id"], p["emoji"])
        except BadRequest as exc:
            meaning = verdict(_CALL.get(), 400, exc.message)
            if meaning is Verdict.MESSAGE_GONE:
                return Outcome(UNCHANGED)  # the person deleted the report: the card counts them
            if meaning is Verdict.NOT_HERE:
                raise
            log.warning(
                "chat %s does not take the %s reaction (%s): people there get a reply instead",
                row.chat_id,
                p["emoji"],
                exc.message,
            )
            if meaning is Verdict.NO_REACTIONS:
                async with self.runtime.sessions() as session:
                    await chats.reactions_refused(session, chat_id=row.chat_id)
                    await session.commit()
                self.runtime.reactionless.add(row.chat_id)
            return await self._answer_instead(row)
        return Outcome(SENT)

    async def _answer_instead(self, row: Row) -> Outcome:
        p = row.payload
        message = await self._post(
            row,
            "send_message",
            text=texts.joined_one(p.get("name")),
            reply_parameters=ReplyParameters(p["message_id"], allow_sending_without_reply=True),
            disable_notification=True,
        )
        return Outcome(SENT, message.message_id)

    async def _card(self, row: Row) -> IncidentMessage | None:
        async with self.runtime.read_session() as session:
            return await session.scalar(
                select(IncidentMessage)
                .where(
                    IncidentMessage.incident_id == row.payload["incident_id"],
                    IncidentMessage.kind == row.payload["kind"],
                    IncidentMessage.chat_id == row.chat_id,
                )
                .order_by(IncidentMessage.id.desc())
                .limit(1)
            )

    async def _edit_card(self, row: Row) -> Outcome:
        p = row.payload
        newest = await self._fold(row)
        if newest is not None:
            return Outcome(FOLDED)
        target = await self._card(row)
        if target is None:
            if await self._card_being_sent(row):
                raise Postpone(0.5)
            return Outcome(UNCHANGED)  # no card in this chat (never sent there)
        if p.get("text") is None:
            await self._render(row)
        wanted = outbox.card_hash(p["text"], p.get("markup"))
        if target.shown_hash == wanted:
            return Outcome(UNCHANGED)
        # {"parse_mode": None} once refused as written: plain text, not the default HTML.
        text: str = p["text"]
        as_plain: dict[str, Any] = {}
        while True:
            try:
                await self.bot.edit_message_text(
                    text,
                    chat_id=row.chat_id,
                    message_id=target.message_id,
                    reply_markup=inline_of(p.get("markup")),
                    disable_web_page_preview=True,
                    **as_plain,
                )
                return Outcome(SENT, target.message_id)
            except BadRequest as exc:
                meaning = verdict("editMessageText", 400, exc.message)
                if meaning is Verdict.NOT_MODIFIED:
                    return Outcome(UNCHANGED, target.message_id)
                if meaning in (Verdict.MESSAGE_GONE, Verdict.NOT_EDITABLE):
                    return await self._repost(
                        row, target, still_there=meaning is Verdict.NOT_EDITABLE
                    )
                if meaning is Verdict.TOO_LONG and units(text) > TEXT_LIMIT:
                    log.warning("card edit %s is longer than Telegram takes: cut", row.id)
                    text = shorten(text, TEXT_LIMIT)
                    continue
                if meaning is Verdict.BAD_HTML and not as_plain:
                    log.error(
                        "Telegram refused card edit %s as written (%s): sent as plain text",
                        row.id,
                        exc.message,
                    )
                    text, as_plain = plain(text), {"parse_mode": None}
                    continue
                raise

    async def _ask_sector(self, row: Row) -> Outcome:
        """Every pending sector question of this group in one message, at most one a minute."""
        last = self._asked_at.get(row.chat_id)
        if last is not None and time.monotonic() - last < ASK_SECTOR_EVERY:
            raise Postpone(ASK_SECTOR_EVERY - (time.monotonic() - last))
        async with self.runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.payload).where(
                        OutboxMessage.chat_id == row.chat_id,
                        OutboxMessage.method == "ask_sector",
                        OutboxMessage.status == PENDING,
                        OutboxMessage.id != row.id,
                    )
                )
            ).all()
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([i for i, _ in rows]))
                .values(status=FOLDED, done_at=self.runtime.clock.now())
            )
            await session.commit()
        people = [row.payload["user_id"], *(json.loads(p)["user_id"] for _, p in rows)]
        render = self.runtime.card_renderers.get("sector_question")
        question = await render(self.runtime, list(dict.fromkeys(people))) if render else None
        if question is None:
            return Outcome(UNCHANGED)  # everyone named has picked a sector meanwhile
        text, markup = question
        message = await self._post(row, "send_message", text=text, reply_markup=markup_of(markup))
        self._asked_at[row.chat_id] = time.monotonic()
        return Outcome(SENT, message.message_id)

    async def _render(self, row: Row) -> None:
        """Fill in a card edit stored without text: the card as it is now."""
        p = row.payload
        render = self.runtime.card_renderers.get(p["kind"])
        if render is None:
            raise RuntimeError(f"no renderer for {p['kind']!r} cards")
        p["text"], p["markup"], still_open = await render(self.runtime, p["incident_id"])
        p["repin"] = still_open and p.get("repin", True)  # a panel is never pinned
        p["closed"] = not still_open

    async def _repost(
        self, row: Row, target: IncidentMessage, *, still_there: bool = False
    ) -> Outcome:
        """The card cannot be edited (someone deleted it, or Telegram will not edit it any
        more): post it again, silently, pin it again, and edit that one next. A card still
        there is unpinned, so the group does not keep a stale one on top."""
        p = row.payload
        log.warning(
            "the %s message of incident %s in chat %s %s: posting it again",
            p["kind"],
            p["incident_id"],
            row.chat_id,
            "cannot be edited any more" if still_there else "is gone",
        )
        self._reposting.add(row.id)  # a timeout now may have posted it: counted if sent again
        message = await self._post(
            row,
            "send_message",
            text=p["text"],
            reply_markup=markup_of(p.get("markup")),
            disable_notification=True,
        )
        now = self.runtime.clock.now()
        async with self.runtime.sessions() as session:
            await session.execute(
                update(IncidentMessage)
                .where(IncidentMessage.id == target.id)
                .values(message_id=message.message_id)
            )
            if p.get("repin") and p.get("markup"):
                # Its own row: a pin that fails is retried without posting the card again.
                outbox.add(
                    session,
                    method="pin",
                    chat_id=row.chat_id,
                    priority=NEWS,
                    now=now,
                    message_id=message.message_id,
                )
                if still_there:
                    outbox.add(
                        session,
                        method="unpin",
                        chat_id=row.chat_id,
                        priority=CHATTER,
                        now=now,
                        message_id=target.message_id,
                    )
            await session.commit()
        self.wake()
        return Outcome(SENT, message.message_id)

    async def _fold(self, row: Row) -> int | None:
        """A newer edit of the same card is pending: this one is folded into it."""
        if row.card_key is None:
            return None
        async with self.runtime.read_session() as session:
            newer: int | None = await session.scalar(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.card_key == row.card_key,
                    OutboxMessage.status == PENDING,
                    OutboxMessage.id > row.id,
                )
                .limit(1)
            )
        return newer

    async def _card_being_sent(self, row: Row) -> bool:
        async with self.runtime.read_session() as session:
            rows = await session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.chat_id == row.chat_id,
                    OutboxMessage.method == "send",
                    OutboxMessage.status == PENDING,
                )
            )
            record = [row.payload["incident_id"], row.payload["kind"]]
            return any(json.loads(p).get("record") == record for p in rows.all())

    # --- outcomes ----------------------------------------------------------------------------
    async def _finish(self, row: Row, outcome: Outcome) -> None:
        now, stats = self.runtime.clock.now(), self.runtime.stats
        p = row.payload
        async with self.runtime.sessions() as session:
            await self._set(
                session,
                row,
                status=outcome.status,
                done_at=now,
                message_id=outcome.message_id,
                duplicate_risk=row.uncertain and outcome.status == SENT,
            )
            if outcome.status == SENT and row.method == "send" and p.get("record"):
                incident_id, kind = p["record"]
                session.add(
                    IncidentMessage(
                        incident_id=incident_id,
                        kind=kind,
                        chat_id=row.chat_id,
                        message_id=outcome.message_id,
                        created_at=now,
                        shown_hash=outbox.card_hash(p["text"], p.get("markup")),
                    )
                )
            if row.method == "edit_card" and outcome.message_id is not None:
                await session.execute(
                    update(IncidentMessage)
                    .where(
                        IncidentMessage.chat_id == row.chat_id,
                        IncidentMessage.message_id == outcome.message_id,
                    )
                    .values(shown_hash=outbox.card_hash(p["text"], p.get("markup")))
                )
            if (
                outcome.status == SENT
                and row.method == "edit_card"
                and p.get("closed")
                and outcome.message_id is not None
            ):
                # A closed card comes off the pins, once, after everything that matters more:
                # the all-clear must not wait behind fifty unpins.
                # The row's card key names this unpin: one per card, ever.
                key = f"unpin:{row.chat_id}:{outcome.message_id}"
                if not await session.scalar(select(exists().where(OutboxMessage.card_key == key))):
                    outbox.add(
                        session,
                        method="unpin",
                        chat_id=row.chat_id,
                        priority=CHATTER,
                        now=now,
                        card=key,
                        message_id=outcome.message_id,
                    )
            if outcome.status == SENT and p.get("pin") and outcome.message_id is not None:
                outbox.add(
                    session,
                    method="pin",
                    chat_id=row.chat_id,
                    priority=NEWS,
                    now=now,
                    message_id=outcome.message_id,
                    notify=p.get("pin") == outbox.PIN_NOTIFY,
                )
            back = row.chat_id in self._unreachable and outcome.status == SENT
            if back:
                await chats.mark_reachable(session, chat_id=row.chat_id)
            await session.commit()
        if back:
            self._unreachable.discard(row.chat_id)
            log.warning("chat %s answers again: marked reachable", row.chat_id)
        if outcome.status == SENT:
            stats.sent += 1
            if row.uncertain:
                stats.possible_duplicates += 1
                log.warning(
                    "outbox row %s (%s to chat %s) was delivered after a try that timed out: "
                    "it may show twice",
                    row.id,
                    row.method,
                    row.chat_id,
                )
        elif outcome.status == FOLDED:
            stats.folded += 1
        elif outcome.status == UNCHANGED:
            stats.unchanged += 1
        if outcome.status == SENT and p.get("pin"):
            self.wake()

    async def _set(self, session: Any, row: Row, **values: Any) -> None:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def _reschedule(
        self, row: Row, seconds: float, error: str | None, *, count: bool, uncertain: bool = False
    ) -> None:
        values: dict[str, Any] = {
            "next_attempt_at": self.runtime.clock.now() + timedelta(seconds=seconds)
        }
        if count:
            values["attempts"] = row.attempts + 1
            self.runtime.stats.retries += 1
        if error is not None:
            values["last_error"] = error[:255]
        # This try surely did not deliver (429, 5xx, refused) unless it timed out.
        values["uncertain"] = uncertain or row.uncertain
        async with self.runtime.sessions() as session:
            await self._set(session, row, **values)
            await session.commit()

    async def _retry(self, row: Row, error: str, *, uncertain: bool = False) -> None:
        tries = row.attempts + 1
        limit = MAX_TRIES.get(row.priority)
        if limit is not None and tries >= limit:
            await self._drop(row, f"{error} (after {tries} tries)")
            return
        if row.priority != CHATTER and self._too_old(row):
            await self._drop(row, f"{error} (still failing after {CRITICAL_GIVE_UP})")
            return
        delay = min(MAX_BACKOFF, 0.5 * 2**row.attempts) * random.uniform(0.8, 1.2)
        log.info(
            "outbox row %s to chat %s failed (%s); retry in %.1f s",
            row.id,
            row.chat_id,
            error,
            delay,
        )
        await self._reschedule(row, delay, error, count=True, uncertain=uncertain)

    def _too_old(self, row: Row) -> bool:
        """A row to a person, failing for a day. A team chat's critical and news rows are never
        too old: a sector must hear, however late (promise 3)."""
        if self.runtime.is_team_chat(row.chat_id):
            return False
        return self.runtime.clock.now() - row.created_at > CRITICAL_GIVE_UP

    async def _drop(self, row: Row, error: str) -> None:
        level = logging.ERROR if row.priority == CRITICAL else logging.WARNING
        log.log(
            level,
            "dropped outbox row %s (%s to chat %s): %s",
            row.id,
            row.method,
            row.chat_id,
            error,
        )
        self.runtime.stats.dropped += 1
        async with self.runtime.sessions() as session:
            await self._set(
                session,
                row,
                status=DROPPED,
                last_error=error[:255],
                done_at=self.runtime.clock.now(),
            )
            await session.commit()

    async def _bad_request(self, row: Row, exc: BadRequest) -> None:
        """A 400 that sending another way did not mend (see `_post`): what it means decides."""
        meaning = verdict(_CALL.get(), 400, exc.message)
        error = f"400: {exc.message}"
        if meaning in (Verdict.NOT_HERE, Verdict.TOPIC_GONE):
            # Whatever the code, the bot may not write here (General itself is closed).
            await self._refused(row, error)
        elif meaning is Verdict.UNKNOWN and row.priority != CHATTER and row.method in SENDS:
            # Never dropped. Telegram refused this message (even as plain text) for a reason
            # nobody documented: it is held and tried again slowly, the admins are told once,
            # and it holds back none of the chat's other messages (it may be this text alone).
            await self._held_alone(row, error)
        else:
            # Telegram will never accept this request as it is: retrying cannot help.
            await self._drop(row, error)

    async def _refused(self, row: Row, error: str) -> None:
        """The chat does not accept the bot: a person's fallback, or an unreachable team chat."""
        now = self.runtime.clock.now()
        fallback = row.payload.get("fallback")
        if fallback:
            async with self.runtime.sessions() as session:
                await self._set(session, row, status=DROPPED, last_error=error[:255], done_at=now)
                record = row.payload.get("record")
                for chat_id, text, markup in fallback:
                    outbox.send(
                        session,
                        chat_id,
                        text,
                        priority=row.priority,
                        now=now,
                        markup=markup,
                        # Where it went instead is the message to edit later (a panel).
                        record=(record[0], record[1]) if record else None,
                    )
                await session.commit()
            log.info(
                "chat %s refused a private message (%s): sent to the group instead",
                row.chat_id,
                error,
            )
            self.wake()
            return
        if self.runtime.is_team_chat(row.chat_id):
            await self._team_chat_refused(row, error, now)
        if (
            row.priority != CHATTER
            and not self._too_old(row)
            and self.runtime.is_team_chat(row.chat_id)
        ):
            delay = min(REFUSED_BACKOFF, 30.0 * 2 ** min(row.attempts, 5))
            await self._reschedule(row, delay, error, count=True)
            return
        await self._drop(row, error)

    async def _held_alone(self, row: Row, error: str) -> None:
        now = self.runtime.clock.now()
        if row.attempts == 0 and self.runtime.is_team_chat(row.chat_id):
            async with self.runtime.sessions() as session:
                for admin in self.runtime.admin_ids:
                    outbox.send(
                        session,
                        admin,
                        texts.message_refused(
                            row.chat_id, error, self.runtime.chat_sector(row.chat_id)
                        ),
                        priority=NEWS,
                        now=now,
                    )
                await session.commit()
            self.wake()
        log.error(
            "Telegram refused outbox row %s to chat %s even as plain text (%s): held, tried "
            "again later; the chat's other messages go on",
            row.id,
            row.chat_id,
            error,
        )
        delay = min(REFUSED_BACKOFF, 30.0 * 2 ** min(row.attempts, 5))
        await self._reschedule(row, delay, error, count=True)

    async def _team_chat_refused(self, row: Row, error: str, now: datetime) -> None:
        async with self.runtime.sessions() as session:
            news = await chats.mark_unreachable(session, chat_id=row.chat_id, error=error, now=now)
            if news:
                for admin in self.runtime.admin_ids:
                    outbox.send(
                        session,
                        admin,
                        texts.chat_unreachable(row.chat_id, error),
                        priority=NEWS,
                        now=now,
                    )
            await session.commit()
        self._unreachable.add(row.chat_id)
        if news:
            log.error(
                "team chat %s does not accept the bot (%s): marked unreachable", row.chat_id, error
            )
            if not self.runtime.admin_ids:
                log.error("no ADMIN_USER_IDS to tell that chat %s is unreachable", row.chat_id)

    async def _migrated(self, row: Row, new_chat_id: int) -> None:
        # Telegram refused the send (the chat moved): nothing reached anyone, no duplicate risk.
        async with self.runtime.sessions() as session:
            await self._set(session, row, uncertain=row.uncertain)
            await session.commit()
        await follow_migration(self.runtime, row.chat_id, new_chat_id)
        self.wake()


async def follow_migration(runtime: Runtime, old_chat_id: int, new_chat_id: int) -> None:
    """The group is now a supergroup: stored ids, pending sends and the team list follow it."""
    async with runtime.sessions() as session:
        moved = await chats.migrate_chat(
            session, old_chat_id=old_chat_id, new_chat_id=new_chat_id, now=runtime.clock.now()
        )
        await session.commit()
    if old_chat_id in runtime.chats:
        runtime.chats[new_chat_id] = runtime.chats.pop(old_chat_id)
    if moved:
        log.warning(
            "team chat %s became the supergroup %s: following it (put %s in TEAM_CHAT_IDS)",
            old_chat_id,
            new_chat_id,
            new_chat_id,
        )


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return max(1.0, value.total_seconds())
    return max(1.0, float(value))


def _row(r: OutboxMessage) -> Row:
    return Row(
        id=r.id,
        priority=r.priority,
        method=r.method,
        chat_id=r.chat_id,
        payload=json.loads(r.payload),
        card_key=r.card_key,
        attempts=r.attempts,
        uncertain=r.uncertain,
        created_at=r.created_at,
        last_error=r.last_error,
    )
