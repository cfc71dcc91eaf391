"""Updates in: store each one in the inbox first, then hand it to the application.

Used by long polling (our own loop, so the offset only moves past updates already stored)
and by the webhook (the HTTP answer goes out only after the update is stored).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from bot.core.fence import LeaseLost
from bot.runtime import Runtime
from bot.storage import lease
from bot.transport import inbox

log = logging.getLogger(__name__)

CONFLICT_LOG_EVERY = 60.0  # seconds between two log lines about another copy
CONFLICT_CLEAR = 120.0  # no 409 for this long: the other copy is gone

POLL_TIMEOUT = 25  # seconds Telegram holds a getUpdates open when there is nothing new
MAX_BACKOFF = 5.0  # after an outage, updates flow again within this (plus one poll)

# getUpdates goes through do_api_request to get the raw JSON (each update is stored, then
# parsed on its own: one the library cannot parse must not stall the others).
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'")


class Intake:
    """Stores updates, then hands them to the handlers in order, from a task of its own that
    waits while 64 are in flight (bot.core.in_flight): storing never waits for the handlers,
    so a webhook call is answered and the next getUpdates goes out as soon as the batch is
    stored, and what is stored but not handed over yet is only its raw JSON. What is still
    waiting at a stop stays stored, and the next start replays it."""

    def __init__(self, app: Any, runtime: Runtime) -> None:
        self.app, self.runtime = app, runtime
        self._waiting: asyncio.Queue[tuple[dict[str, Any], bool, bool]] = asyncio.Queue()
        self._handing: asyncio.Task[None] | None = None

    async def take(self, raw: list[dict[str, Any]]) -> None:
        """Store new updates (one transaction), then queue them for the handlers, in order."""
        fence = self.runtime.fence
        for data in raw:
            self._ask_membership_early(data)
        if self.runtime.direct.path is not None and not fence.leased:  # SQLite: one copy
            new = await inbox.store_now(self.runtime.direct, raw, self.runtime.clock.now())
            self._hand_over_new(raw, new)
            return
        async with self.runtime.sessions() as session:
            new = await inbox.store(session, raw, self.runtime.clock.now())
            if fence.leased:
                # Several copies: stored only while this copy holds the lease (else the active
                # copy, whose replay is done, would never handle them: not new to its store).
                assert fence.copy_id is not None and fence.epoch is not None
                if not await lease.held(session, me=fence.copy_id, epoch=fence.epoch):
                    await session.rollback()
                    fence.drop()
                    raise LeaseLost("updates left to the active copy")
                fence.check()
            await session.commit()
        self._hand_over_new(raw, new)

    def _hand_over_new(self, raw: list[dict[str, Any]], new: set[int]) -> None:
        for data in sorted(raw, key=lambda u: int(u.get("update_id", 0))):
            if data.get("update_id") in new:
                self._hand_over(data, fresh=True)

    def _ask_membership_early(self, data: dict[str, Any]) -> None:
        """A button pressed in a team chat or a private chat: its step asks whether the person
        is a member (bot.team.membership), so the question goes out now, while the press is
        stored and handed over; read from the raw update (nothing is parsed or trusted here:
        the step decides)."""
        query = data.get("callback_query")
        if not isinstance(query, dict):
            return
        person, message = query.get("from"), query.get("message")
        chat = message.get("chat") if isinstance(message, dict) else None
        if not isinstance(person, dict) or not isinstance(chat, dict):
            return
        user_id, chat_id = person.get("id"), chat.get("id")
        if not isinstance(user_id, int) or not isinstance(chat_id, int):
            return
        if chat.get("type") == "private" or self.runtime.is_team_chat(chat_id):
            self.runtime.membership.ask_early(self.app.bot, user_id, chat_id)

    async def replay(self) -> int:
        """Updates stored by an earlier run but never handled go first, oldest first."""
        async with self.runtime.read_session() as session:
            rows = await inbox.waiting(session)
        for row in rows:
            self._hand_over(_loads(row.data), replay=True)
        if rows:
            log.warning("handling %d updates stored before the last stop", len(rows))
        return len(rows)

    def _hand_over(
        self, data: dict[str, Any], *, replay: bool = False, fresh: bool = False
    ) -> None:
        """Stored: safe. Parsed and handed to the handlers (a task each) as there is room."""
        if self._handing is None:
            self._handing = asyncio.create_task(self._hand_over_in_turn(), name="hand-over")
        self._waiting.put_nowait((data, replay, fresh))

    async def _hand_over_in_turn(self) -> None:
        while True:
            data, replay, fresh = await self._waiting.get()
            await self.runtime.in_flight.room()
            try:
                await self.queue(data, replay=replay, fresh=fresh)
            except Exception:  # stored as waiting: the next start replays it
                log.exception("could not hand update %s to the handlers", data.get("update_id"))

    async def stop(self) -> None:
        """Hand over nothing more (what waits stays stored as waiting)."""
        if self._handing is not None:
            self._handing.cancel()
            await asyncio.gather(self._handing, return_exceptions=True)
            self._handing = None

    async def queue(
        self, data: dict[str, Any], *, replay: bool = False, fresh: bool = False
    ) -> None:
        """Hand a stored update to the handlers; `fresh`: this process stored it just now."""
        update_id = int(data.get("update_id", 0))
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as exc:
            # One line, with no content: the update may be hostile, and it is skipped.
            log.warning(
                "skipped update %s (%s): it cannot be read (%s)",
                update_id,
                inbox.kind_of(data),
                type(exc).__name__,
            )
            self.runtime.stats.updates_skipped += 1
            async with self.runtime.sessions() as session:
                await inbox.mark(session, update_id, inbox.SKIPPED, self.runtime.clock.now())
                await session.commit()
            return
        if fresh:
            self.runtime.fresh_updates.add(update_id)
        self.runtime.in_flight.handed()  # until its step ends (bot.app.handle_update)
        await self.app.update_queue.put(update)


class Poller:
    """Long polling with a short, capped back-off and one warning per outage."""

    def __init__(
        self, intake: Intake, on_conflict: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.intake = intake
        self.runtime = intake.runtime
        self.on_conflict = on_conflict  # the admins are told (the wiring writes the words)
        self._down_since: float | None = None
        self._store_failures = 0
        self._failures = 0
        self._conflict_logged = 0.0

    async def run(self) -> None:
        async with self.runtime.read_session() as session:
            offset = await inbox.next_offset(session)
        bot = self.intake.app.bot
        fence = self.runtime.fence
        while fence.held:  # a copy that is no longer the active one polls no more
            kwargs: dict[str, Any] = {
                "timeout": POLL_TIMEOUT,
                "allowed_updates": inbox.ALLOWED_UPDATES,
            }
            if offset is not None:
                kwargs["offset"] = offset
            try:
                raw = await bot.do_api_request(
                    "getUpdates", api_kwargs=kwargs, read_timeout=POLL_TIMEOUT + 10
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not fence.held:  # a copy paused past its lease: the 409 is the new active's
                    break
                await self._failed(exc)
                continue
            self._recovered()
            if raw and not fence.held:
                # Answered to a copy that was paused meanwhile: not stored, so not confirmed
                # to Telegram; the active copy's next getUpdates gets them again.
                break
            if raw:
                try:
                    await self.intake.take(list(raw))
                except LeaseLost:
                    break  # another copy took over: it gets these updates from Telegram
                except Exception as exc:
                    # Not stored (the database is away, or full): the offset stays where it
                    # is, so Telegram keeps them and the next getUpdates brings them again.
                    await self._not_stored(exc)
                    continue
                self._stored_again()
                offset = max(int(u.get("update_id", 0)) for u in raw) + 1

    async def _conflict(self) -> None:
        """Another copy of the bot takes this token's updates: reports may go to it. Said once
        to the admins, in the log once a minute while it lasts; /healthz is unhealthy."""
        stats, now = self.runtime.stats, time.monotonic()
        first = stats.conflict_since is None
        if first:
            stats.conflict_since = now
        stats.conflict_last = now
        if first or now - self._conflict_logged >= CONFLICT_LOG_EVERY:
            self._conflict_logged = now
            assert stats.conflict_since is not None
            log.error(
                "another copy of the bot is taking this token's updates (409 Conflict) for "
                "%.0f s: reports may go to it, not here; stop the other copy",
                now - stats.conflict_since,
            )
        if first and self.on_conflict is not None:
            try:
                await self.on_conflict()
            except Exception:
                log.exception("could not tell the admins about the other copy")

    async def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        if isinstance(exc, Conflict):
            await self._conflict()
        if isinstance(exc, RetryAfter):
            delay = float(
                exc.retry_after
                if not isinstance(exc.retry_after, timedelta)
                else exc.retry_after.total_seconds()
            )
        else:
            delay = _backoff(self._failures)
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "cannot get updates from Telegram (%s); retrying every %.0f s at most",
                _cause(exc),
                MAX_BACKOFF,
            )
        else:
            log.debug("getUpdates failed again: %s", _cause(exc))
        await asyncio.sleep(delay)

    async def _not_stored(self, exc: BaseException) -> None:
        self._store_failures += 1
        if self._store_failures == 1:
            log.error(
                "cannot store the updates Telegram sent (%s): they stay with Telegram; "
                "trying again every %.0f s at most",
                _cause(exc),
                MAX_BACKOFF,
            )
        await asyncio.sleep(_backoff(self._store_failures))

    def _stored_again(self) -> None:
        if self._store_failures:
            log.warning("updates are stored again after %d failed tries", self._store_failures)
            self._store_failures = 0

    def _recovered(self) -> None:
        stats = self.runtime.stats
        stats.last_poll_ok = time.monotonic()
        if (
            stats.conflict_last is not None
            and stats.last_poll_ok - stats.conflict_last > CONFLICT_CLEAR
        ):
            log.warning("no other copy of the bot seen for %.0f s", CONFLICT_CLEAR)
            stats.conflict_since = stats.conflict_last = None
        if self._down_since is not None:
            log.warning(
                "Telegram answers again after %.0f s (%d failed tries)",
                time.monotonic() - self._down_since,
                self._failures,
            )
        self._down_since, self._failures = None, 0


def _backoff(failures: int) -> float:
    """Seconds before the next try after `failures` in a row: 0.5, 1, 2, 4, then MAX_BACKOFF."""
    return min(MAX_BACKOFF, 0.25 * 2**failures)


def _cause(exc: BaseException) -> str:
    if isinstance(exc, InvalidToken):
        return "the token was rejected"
    if isinstance(exc, Conflict):
        return "another copy of the bot, or a webhook, is taking the updates"
    if isinstance(exc, TelegramError):
        return f"{type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _loads(data: str) -> dict[str, Any]:
    import json

    value = json.loads(data)
    return value if isinstance(value, dict) else {}
