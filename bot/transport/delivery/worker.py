"""The delivery worker's loop: which pending rows go now, and what each try's answer means.

- Lanes first (critical → news → answers → card edits → chatter), each chat's rows in the
  order they were written, one at a time per chat: a card edit never overtakes its card.
- A row goes when the flood budget has room for it (`budget`), through the Bot API call its
  method names (`DeliveryWorker._calls`); what Telegram answered is written down by `results`.
- Critical and news rows to a team chat are never dropped: 429 waits `retry_after`, 5xx and
  timeouts back off, a chat that refuses (403) is retried slowly until it answers again.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from telegram import Bot, InputFile, ReplyParameters
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.core.fence import LeaseLost
from bot.runtime import Runtime
from bot.storage.direct import Kept
from bot.team import chats
from bot.transport.delivery import rows as outbox_rows
from bot.transport.delivery.budget import LANES, Budget, Slot
from bot.transport.delivery.calls import Charged, current_call, markup_of
from bot.transport.delivery.cards import CARD_GAP, Cards
from bot.transport.delivery.claims import Claims
from bot.transport.delivery.joined import Reactions
from bot.transport.delivery.posting import Poster
from bot.transport.delivery.results import Postpone, Results, SendResult
from bot.transport.delivery.rows import SENDS, Row, row_of
from bot.transport.delivery.state import ChatState
from bot.transport.delivery.words import Words
from bot.transport.telegram_errors import Verdict, verdict
from models.delivery import CHATTER, DROPPED, NEWS, PENDING, SENT, UNCHANGED
from models.vocab import OutboxMethod

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 8
FOLD_NOW = 40  # superseded card edits in one read beyond which they are folded at once
# The row a delivery task is sending, and the budget slot taken when it was chosen.
_ROW: ContextVar[tuple[Row, Slot] | None] = ContextVar("flexus_outbox_row", default=None)

Call = Callable[[Row], Awaitable[SendResult]]


class DeliveryWorker:
    def __init__(self, runtime: Runtime, bot: Bot, words: Words) -> None:
        settings = runtime.config.settings
        self.runtime = runtime
        self.clock = runtime.clock  # its monotonic() measures flood windows and back-offs
        self.bot: Any = Charged(bot, self.spend, self.clock.monotonic, runtime.fence.check)
        self.budget = Budget(
            settings.telegram_msgs_per_second, settings.telegram_group_msgs_per_minute
        )
        self._wake = asyncio.Event()
        self.state = ChatState(wake=self.wake)
        self.words = words
        self.results = Results(runtime, self.state, words)
        self.claims = Claims(runtime)
        self.poster = Poster(runtime, self.bot, self.state, words)
        self.cards = Cards(runtime, self.bot, self.poster, self.state)
        self.reactions = Reactions(runtime, self.bot, self.poster, self.budget, self.state, words)
        self._calls: dict[OutboxMethod, Call] = {
            OutboxMethod.SEND: self._send_text,
            OutboxMethod.PHOTO: self._send_photo,
            OutboxMethod.UPLOAD_PHOTO: self._upload,
            OutboxMethod.UPLOAD_DOCUMENT: self._upload,
            OutboxMethod.EDIT_CARD: self.cards.edit,
            OutboxMethod.ASK_SECTOR: self.cards.ask_sector,
            OutboxMethod.REACTION: self.reactions.react,
            OutboxMethod.PIN: self._pin,
            OutboxMethod.UNPIN: self._unpin,
            OutboxMethod.CLEAR_MARKUP: self._clear_markup,
        }
        self._busy_chats: set[int] = set()
        self._busy_rows: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        # Row id -> when its outcome was committed. A read that started before that may still
        # show the row pending: it must not be sent again from such a stale read.
        self._finished_at: dict[int, float] = {}
        self._edited_at: dict[str, float] = {}  # card -> when its last edit went
        # The pending rows as last read, and each one's Row: a row read again unchanged is not
        # converted or parsed again (bot.storage.direct.Kept).
        self._kept = Kept()
        self._rows: dict[int, tuple[Any, Row]] = {}

    def wake(self) -> None:
        self._wake.set()

    def _row_of(self, read: Any) -> Row:
        """The Row of a pending row as read: the one made last time if the read gave back the
        same object (nothing in the row changed)."""
        found = self._rows.get(read.id)
        if found is None or found[0] is not read:
            found = self._rows[read.id] = (read, row_of(read))
            if len(self._rows) > 4 * outbox_rows.BATCH:  # rows long gone: start again
                self._rows = {read.id: found}
        return found[1]

    @property
    def unreachable(self) -> frozenset[int]:
        return frozenset(self.state.unreachable)

    def chat_writable(self, chat_id: int, writable: bool) -> None:
        """Telegram said the bot was added back to a chat (or removed from it)."""
        if writable:
            self.state.unreachable.discard(chat_id)
            self.state.blocked_until.pop(chat_id, None)
        else:
            self.state.unreachable.add(chat_id)
        self.wake()

    async def run(self) -> None:
        async with self.runtime.read_session() as session:
            self.state.unreachable = {c.chat_id for c in await chats.unreachable_chats(session)}
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
    async def _dispatch(self) -> float:
        """Start every row that may go now; the seconds until one more may."""
        now_clock = self.clock.now()
        read_at = self.clock.monotonic()
        stored = await outbox_rows.pending(self.runtime, self._kept)
        # A card's older pending edits wait for its newest one (rendered when sent, it shows
        # everything they would) and are marked folded with its outcome (`Results.finish`),
        # not by a transaction of their own at every read; only a pile of them is folded now,
        # so it never crowds other rows out of the read.
        superseded = outbox_rows.superseded_edits(stored)
        if len(superseded) > FOLD_NOW and await outbox_rows.fold_pending_edits(self.runtime):
            read_at = self.clock.monotonic()
            stored = await outbox_rows.pending(self.runtime, self._kept)
            superseded = outbox_rows.superseded_edits(stored)
        self._finished_at = {i: t for i, t in self._finished_at.items() if read_at - t < 60}
        self._edited_at = {k: t for k, t in self._edited_at.items() if read_at - t < CARD_GAP}
        # A row under way, or whose outcome this read may not show, still holds its chat back:
        # a chat's messages never overtake one another.
        unsettled = {
            r.id
            for r in stored
            if r.id in self._busy_rows or self._finished_at.get(r.id, -1.0) >= read_at
        }
        held = {r.chat_id for r in stored if r.id in unsettled}
        fresh = [r for r in stored if r.id not in unsettled and r.id not in superseded]
        snapshot = [self._row_of(r) for r in fresh]
        not_yet = [r.next_attempt_at for r in fresh if r.next_attempt_at > now_clock]
        delay = 5.0
        if not_yet:
            delay = min(delay, max(0.01, (min(not_yet) - now_clock).total_seconds()))
        due_ids = {r.id for r in fresh if r.next_attempt_at <= now_clock}
        if await self.reactions.fold_late(snapshot, due_ids, held):
            return 0.0  # read again: the new message is in its chat's sequence
        snapshot.sort(key=lambda r: (LANES.index(r.lane), r.id))
        seen: set[int] = set(held)
        now = self.clock.monotonic()
        for row in snapshot:
            if len(self._tasks) >= MAX_IN_FLIGHT:
                break
            # A chat's messages go in order: the first one waiting blocks the rest.
            if row.id not in due_ids or self._waits_for_chat(row, snapshot):
                if row.sequenced and not self._held_alone_row(row):
                    seen.add(row.chat_id)
                continue
            asks = row.method == OutboxMethod.ASK_SECTOR
            if row.chat_id in seen and (row.sequenced or asks):
                continue
            if row.sequenced:
                seen.add(row.chat_id)
            if row.chat_id in self._busy_chats and not row.loose:
                continue
            wait = self._wait(row, now)
            if wait > 0:
                delay = min(delay, wait)
                continue
            self._start(row, now)
        return delay

    def _wait(self, row: Row, now: float) -> float:
        """Seconds until this row may go: its chat's 429, the card's gap, the budget."""
        blocked = self.state.blocked_until.get(row.chat_id, 0.0) - now
        if row.method == OutboxMethod.EDIT_CARD:
            # A card changing with every vote of a burst is edited at most this often:
            # the next edit shows every vote since, and nobody reads faster.
            blocked = max(blocked, self._edited_at.get(row.card_key or "", -60.0) + CARD_GAP - now)
        return max(blocked, self.budget.wait(row.chat_id, row.lane, now, posts=self._posts(row)))

    def _start(self, row: Row, now: float) -> None:
        slot = self.budget.take(row.chat_id, now, posts=self._posts(row))
        if row.method == OutboxMethod.EDIT_CARD:
            self._edited_at[row.card_key or ""] = now
        if not row.loose:
            self._busy_chats.add(row.chat_id)
        self._busy_rows.add(row.id)
        task = asyncio.create_task(self._deliver_counted(row, slot))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._done, row))

    def _held_alone_row(self, row: Row) -> bool:
        """A row Telegram refused for what it says (a 400) in a chat that takes the bot's other
        messages: waiting for its next try, it holds none of them back."""
        refused = (row.last_error or "").startswith("400")
        return refused and row.chat_id not in self.state.unreachable

    def _posts(self, row: Row) -> bool:
        """The row puts something in the chat (uses the group's minute): all but a reaction
        where reactions work (where they do not, the person gets a short reply instead)."""
        return row.method != OutboxMethod.REACTION or row.chat_id in self.runtime.reactionless

    def _mark_drill(self, payload: dict[str, Any]) -> None:
        """A drill's message says so: its text (or caption, or the fallback's) marked as the
        wiring's words say. Rendered card edits are marked by their renderer."""
        for key in ("text", "caption"):
            if isinstance(payload.get(key), str):
                payload[key] = self.words.drill(payload[key])
        if payload.get("fallback"):
            payload["fallback"] = [
                [chat, self.words.drill(text), markup] for chat, text, markup in payload["fallback"]
            ]

    @staticmethod
    def _waits_for_chat(row: Row, rows: list[Row]) -> bool:
        """A row written to go after another chat's messages (`after_chat`, e.g. the note to
        the admins that the held messages of a group went out) waits while they are pending."""
        other = row.payload.get("after_chat")
        return other is not None and any(
            r.chat_id == other and r.priority <= NEWS and r.id < row.id for r in rows
        )

    def _done(self, row: Row, task: asyncio.Task[None]) -> None:
        self._finished_at[row.id] = self.clock.monotonic()
        self._tasks.discard(task)
        if not row.loose:
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
            reserved.used, reserved.sent = True, self.clock.monotonic()
            return reserved
        while True:
            now = self.clock.monotonic()
            wait = self.budget.wait(row.chat_id, row.lane, now, posts=posts)
            if wait <= 0:
                return self.budget.take(row.chat_id, now, posts=posts)
            await asyncio.sleep(wait)

    async def _deliver(self, row: Row) -> None:
        results = self.results
        if row.payload.get("drill") or row.method == OutboxMethod.EDIT_CARD:
            # Marked or rendered on a copy: the Row is kept for the next read (`_row_of`).
            row = dataclasses.replace(row, payload=copy.deepcopy(row.payload))
        if row.payload.get("drill"):
            self._mark_drill(row.payload)
        # Not for chatter (a reply, a prompt): a second copy of it after a crash harms no one,
        # and the mark costs a transaction before every reply. A timeout still marks it (see
        # `Results.retry`).
        write_ahead = row.method in SENDS and not row.uncertain and row.priority != CHATTER
        if self.runtime.fence.leased:  # several copies: the row is taken under this epoch
            claimed = await self.claims.claim(row, write_ahead=write_ahead)
            if claimed is None:
                return  # this copy is no longer the active one (or the row went meanwhile)
            row = claimed
        elif write_ahead:
            await results.mark_uncertain(row)
        try:
            try:
                result = await self._call(row)
            except Exception:
                # The library wraps what the fence raised in a NetworkError: whatever the
                # error, a copy that lost the lease writes no outcome (the row is the active
                # copy's now).
                if not self.runtime.fence.held:
                    raise LeaseLost(f"outbox row {row.id}: this copy lost the lease") from None
                raise
        except LeaseLost:
            return  # lost the lease before this request: the active copy sends the row
        except Postpone as wait:
            await results.reschedule(row, wait.seconds, None, count=False)
        except RetryAfter as exc:
            seconds = _seconds(exc.retry_after)
            self.state.blocked_until[row.chat_id] = self.clock.monotonic() + seconds
            await results.reschedule(row, seconds, f"429: retry after {seconds:.0f} s", count=False)
        except ChatMigrated as exc:
            await results.migrated(row, exc.new_chat_id)
        except TimedOut as exc:
            await results.retry(
                row, f"timed out: {exc.message}", uncertain=results.may_have_posted(row)
            )
        except Forbidden as exc:
            await results.refused(row, f"403: {exc.message}")
        except BadRequest as exc:
            await self._bad_request(row, exc)
        except NetworkError as exc:
            # The request may have reached Telegram unless the connection never opened.
            # A 5xx ("Bad Gateway") is Telegram's answer: the request was not carried out.
            reached = (
                results.may_have_posted(row)
                and exc.message.startswith("httpx.")
                and not exc.message.startswith("httpx.ConnectError")
            )
            await results.retry(row, f"{type(exc).__name__}: {exc.message}", uncertain=reached)
        except TelegramError as exc:
            await results.retry(row, f"{type(exc).__name__}: {exc.message}")
        except Exception as exc:
            log.exception("unexpected error delivering outbox row %s", row.id)
            await results.retry(row, f"{type(exc).__name__}: {exc}")
        else:
            await results.finish(row, result)
        finally:
            self.state.reposting.discard(row.id)

    async def _call(self, row: Row) -> SendResult:
        call = self._calls.get(row.method) if isinstance(row.method, OutboxMethod) else None
        if call is None:
            log.error("outbox row %s has an unknown method %r: dropped", row.id, row.method)
            return SendResult(DROPPED)
        return await call(row)

    async def _bad_request(self, row: Row, exc: BadRequest) -> None:
        """A 400 that sending another way did not mend (see `Poster.post`): what it means
        decides."""
        meaning = verdict(current_call(), 400, exc.message)
        error = f"400: {exc.message}"
        if meaning in (Verdict.NOT_HERE, Verdict.TOPIC_GONE):
            # Whatever the code, the bot may not write here (General itself is closed).
            await self.results.refused(row, error)
        elif meaning is Verdict.UNKNOWN and row.priority != CHATTER and row.method in SENDS:
            await self.results.held_alone(row, error)
        else:
            # Telegram will never accept this request as it is: retrying cannot help.
            await self.results.drop(row, error)

    # --- the calls, one per outbox method ----------------------------------------------------
    async def _send_text(self, row: Row) -> SendResult:
        p = row.payload
        reply = ReplyParameters(p["reply_to"], allow_sending_without_reply=True)
        message = await self.poster.post(
            row,
            "send_message",
            text=p["text"],
            reply_markup=markup_of(p.get("markup")),
            reply_parameters=reply if p.get("reply_to") else None,
        )
        return SendResult(SENT, message.message_id)

    async def _send_photo(self, row: Row) -> SendResult:
        p = row.payload
        message = await self.poster.post(
            row, "send_photo", photo=p["file_id"], caption=p["caption"]
        )
        return SendResult(SENT, message.message_id)

    async def _upload(self, row: Row) -> SendResult:
        p = row.payload
        upload = InputFile(base64.b64decode(p["data"]), filename=p["filename"])
        kind = "photo" if row.method == OutboxMethod.UPLOAD_PHOTO else "document"
        message = await self.poster.post(
            row, f"send_{kind}", caption=p["caption"], **{kind: upload}
        )
        return SendResult(SENT, message.message_id)

    async def _pin(self, row: Row) -> SendResult:
        # Only the first pin of an alert rings (people who muted the group hear it).
        silent = not row.payload.get("notify")
        return await self._noted(
            row,
            self.bot.pin_chat_message(
                row.chat_id, row.payload["message_id"], disable_notification=silent
            ),
        )

    async def _unpin(self, row: Row) -> SendResult:
        return await self._noted(
            row, self.bot.unpin_chat_message(row.chat_id, row.payload["message_id"])
        )

    async def _clear_markup(self, row: Row) -> SendResult:
        message_id = row.payload.get("message_id")
        if message_id is None:  # the message another row posts (or posted meanwhile)
            status, message_id, attempts = await outbox_rows.outcome(
                self.runtime, row.payload["of_row"]
            )
            if status == PENDING:
                raise Postpone(min(60.0, 2.0**attempts))
            if status != SENT or message_id is None:
                return SendResult(UNCHANGED)  # it never went (or went elsewhere)
        return await self._noted(
            row,
            self.bot.edit_message_reply_markup(
                chat_id=row.chat_id, message_id=message_id, reply_markup=None
            ),
        )

    async def _noted(self, row: Row, request: Awaitable[Any]) -> SendResult:
        """Pins and button clean-ups are never retried: a refusal is noted and that is all."""
        try:
            await request
        except BadRequest as exc:
            meaning = verdict(current_call(), 400, exc.message)
            if meaning is Verdict.NO_PIN_RIGHTS:
                if row.chat_id not in self.state.cannot_pin:
                    self.state.cannot_pin.add(row.chat_id)
                    log.warning(
                        "chat %s: the bot may not pin messages (%s): cards stay unpinned there "
                        "(make it an admin with «Fijar mensajes»)",
                        row.chat_id,
                        exc.message,
                    )
            elif meaning in (Verdict.UNKNOWN, Verdict.NOT_HERE):
                log.warning(
                    "Telegram refused %s in chat %s: %s", current_call(), row.chat_id, exc.message
                )
            else:
                log.info(
                    "%s in chat %s: nothing to do (%s)", current_call(), row.chat_id, exc.message
                )
            return SendResult(UNCHANGED)
        return SendResult(SENT)


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return max(1.0, value.total_seconds())
    return max(1.0, float(value))
