"""What a try did, written down: sent (and what follows from it: the card recorded, the pin,
the unpin of a closed card), retried with back-off, held, dropped, or the chat marked as one
that refuses the bot."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from bot.runtime import Runtime
from bot.team import chats
from bot.transport import outbox
from bot.transport.delivery.rows import SENDS, SET_ROW, Row, fold_older_edits, set_row
from bot.transport.delivery.state import ChatState
from bot.transport.delivery.words import Words
from models import IncidentMessage, OutboxMessage
from models.delivery import CHATTER, CRITICAL, DROPPED, FOLDED, NEWS, SENT, UNCHANGED
from models.vocab import OutboxMethod, OutboxStatus

log = logging.getLogger(__name__)

MAX_TRIES = {CHATTER: 5}  # critical and news rows to a team chat are never given up
# A critical or news row to a person (not a team chat) that still fails after this is dropped
# with an error in the log: a person who blocked the bot is no sector left unwarned.
CRITICAL_GIVE_UP = timedelta(hours=24)
MAX_BACKOFF = 30.0
REFUSED_BACKOFF = 600.0  # a chat that refused: try its critical messages again this often


@dataclass(frozen=True)
class SendResult:
    """How a row ended when its call returned (errors are exceptions, see `Results`)."""

    status: OutboxStatus
    message_id: int | None = None


class Postpone(Exception):
    """Not an error: the row waits (e.g. a card edit whose card is still being sent)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class Results:
    def __init__(self, runtime: Runtime, state: ChatState, words: Words) -> None:
        self.runtime, self.state, self.words = runtime, state, words

    async def finish(self, row: Row, result: SendResult) -> None:
        now, stats = self.runtime.clock.now(), self.runtime.stats
        sent = result.status == SENT
        outcome = {
            "status": result.status,
            "done_at": now,
            "message_id": result.message_id,
            "duplicate_risk": row.uncertain and sent,
        }
        try:
            back = await self._record(row, result, outcome, now)
        except IntegrityError as exc:
            # What the message records is refused (e.g. an incident that does not exist): the
            # row still went out, and must never be sent again for it.
            log.error(
                "outbox row %s went out but what it records was refused (%s): kept as sent only",
                row.id,
                str(exc.orig)[:120],
            )
            async with self.runtime.sessions() as session:
                await set_row(session, row, **outcome)
                self.runtime.stats.folded += await fold_older_edits(session, row, now)
                await session.commit()
            back = False
        if back:
            self.state.unreachable.discard(row.chat_id)
            log.warning("chat %s answers again: marked reachable", row.chat_id)
        if sent:
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
        elif result.status == FOLDED:
            stats.folded += 1
        elif result.status == UNCHANGED:
            stats.unchanged += 1
        if sent and row.payload.get("pin"):
            self.state.wake()

    async def _record(
        self, row: Row, result: SendResult, outcome: dict[str, Any], now: datetime
    ) -> bool:
        """The row's outcome and what it leads to, in one transaction; whether the chat was
        marked reachable again."""
        p = row.payload
        sent = result.status == SENT
        direct = self.runtime.direct
        alone = (  # nothing follows from it: no card, message id, pin or chat to record
            row.card_key is None
            and row.method != OutboxMethod.EDIT_CARD
            and not (row.method == OutboxMethod.SEND and p.get("record"))
            and not p.get("pin")
            and row.chat_id not in self.state.unreachable
        )
        if alone and direct.path is not None and not self.runtime.fence.leased:
            # A reply, a 👍: one UPDATE, committed straight on SQLite's driver.
            await direct.write_each(SET_ROW, [{"row_id": row.id, **outcome}])
            return False
        async with self.runtime.sessions() as session:
            await set_row(session, row, **outcome)
            self.runtime.stats.folded += await fold_older_edits(session, row, now)
            if sent and row.method == OutboxMethod.SEND and p.get("record"):
                incident_id, kind = p["record"]
                session.add(
                    IncidentMessage(
                        incident_id=incident_id,
                        kind=kind,
                        chat_id=row.chat_id,
                        message_id=result.message_id,
                        created_at=now,
                        shown_hash=outbox.card_hash(p["text"], p.get("markup")),
                    )
                )
            if row.method == OutboxMethod.EDIT_CARD and result.message_id is not None:
                await session.execute(
                    update(IncidentMessage)
                    .where(
                        IncidentMessage.chat_id == row.chat_id,
                        IncidentMessage.message_id == result.message_id,
                    )
                    .values(shown_hash=outbox.card_hash(p["text"], p.get("markup")))
                )
                if sent and p.get("closed"):
                    await _unpin_closed_card(session, row, result.message_id, now)
            if sent and p.get("pin") and result.message_id is not None:
                notify = p.get("pin") == outbox.PIN_NOTIFY
                outbox.pin(session, row.chat_id, result.message_id, now=now, notify=notify)
            back = row.chat_id in self.state.unreachable and sent
            if back:
                await chats.mark_reachable(session, chat_id=row.chat_id)
            await session.commit()
        return back

    async def reschedule(
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
            await set_row(session, row, **values)
            await session.commit()

    async def mark_uncertain(self, row: Row) -> None:
        """Write-ahead, before a send: if the process dies while Telegram has the request, the
        next try knows it may be a duplicate and counts it."""
        async with self.runtime.sessions() as session:
            await set_row(session, row, uncertain=True)
            await session.commit()

    async def retry(self, row: Row, error: str, *, uncertain: bool = False) -> None:
        tries = row.attempts + 1
        limit = MAX_TRIES.get(row.priority)
        if limit is not None and tries >= limit:
            await self.drop(row, f"{error} (after {tries} tries)")
            return
        if row.priority != CHATTER and self.too_old(row):
            await self.drop(row, f"{error} (still failing after {CRITICAL_GIVE_UP})")
            return
        delay = min(MAX_BACKOFF, 0.5 * 2**row.attempts) * random.uniform(0.8, 1.2)
        log.info(
            "outbox row %s to chat %s failed (%s); retry in %.1f s",
            row.id,
            row.chat_id,
            error,
            delay,
        )
        await self.reschedule(row, delay, error, count=True, uncertain=uncertain)

    def too_old(self, row: Row) -> bool:
        """A row to a person, failing for a day. A team chat's critical and news rows are never
        too old: a sector must hear, however late (promise 3)."""
        if self.runtime.is_team_chat(row.chat_id):
            return False
        return self.runtime.clock.now() - row.created_at > CRITICAL_GIVE_UP

    async def drop(self, row: Row, error: str) -> None:
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
        now = self.runtime.clock.now()
        async with self.runtime.sessions() as session:
            await set_row(session, row, status=DROPPED, last_error=error[:255], done_at=now)
            # A card's older edits waited for this one: they would only bring older text back.
            self.runtime.stats.folded += await fold_older_edits(session, row, now)
            await session.commit()

    async def refused(self, row: Row, error: str) -> None:
        """The chat does not accept the bot: a person's fallback, or an unreachable team chat."""
        now = self.runtime.clock.now()
        fallback = row.payload.get("fallback")
        if fallback:
            await self._fall_back(row, error, fallback, now)
            return
        team_chat = self.runtime.is_team_chat(row.chat_id)
        if team_chat:
            await self._team_chat_refused(row, error, now)
        if row.priority != CHATTER and not self.too_old(row) and team_chat:
            delay = min(REFUSED_BACKOFF, 30.0 * 2 ** min(row.attempts, 5))
            await self.reschedule(row, delay, error, count=True)
            return
        await self.drop(row, error)

    async def _fall_back(self, row: Row, error: str, fallback: list[Any], now: datetime) -> None:
        async with self.runtime.sessions() as session:
            await set_row(session, row, status=DROPPED, last_error=error[:255], done_at=now)
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
        self.state.wake()

    async def held_alone(self, row: Row, error: str) -> None:
        """Never dropped: Telegram refused this message (even as plain text) for a reason nobody
        documented. It is tried again slowly, the admins are told once, and it holds back none
        of the chat's other messages (it may be this text alone)."""
        now = self.runtime.clock.now()
        if row.attempts == 0 and self.runtime.is_team_chat(row.chat_id):
            sector = self.runtime.chat_sector(row.chat_id)
            await self._tell_admins(self.words.message_refused(row.chat_id, error, sector), now)
        log.error(
            "Telegram refused outbox row %s to chat %s even as plain text (%s): held, tried "
            "again later; the chat's other messages go on",
            row.id,
            row.chat_id,
            error,
        )
        delay = min(REFUSED_BACKOFF, 30.0 * 2 ** min(row.attempts, 5))
        await self.reschedule(row, delay, error, count=True)

    async def _tell_admins(self, text: str, now: datetime) -> None:
        async with self.runtime.sessions() as session:
            for admin in self.runtime.admin_ids:
                outbox.send(session, admin, text, priority=NEWS, now=now)
            await session.commit()
        self.state.wake()

    async def _team_chat_refused(self, row: Row, error: str, now: datetime) -> None:
        async with self.runtime.sessions() as session:
            news = await chats.mark_unreachable(session, chat_id=row.chat_id, error=error, now=now)
            if news:
                for admin in self.runtime.admin_ids:
                    outbox.send(
                        session,
                        admin,
                        self.words.chat_unreachable(row.chat_id, error),
                        priority=NEWS,
                        now=now,
                    )
            await session.commit()
        self.state.unreachable.add(row.chat_id)
        if news:
            log.error(
                "team chat %s does not accept the bot (%s): marked unreachable", row.chat_id, error
            )
            if not self.runtime.admin_ids:
                log.error("no ADMIN_USER_IDS to tell that chat %s is unreachable", row.chat_id)

    async def migrated(self, row: Row, new_chat_id: int) -> None:
        # Telegram refused the send (the chat moved): nothing reached anyone, no duplicate risk.
        async with self.runtime.sessions() as session:
            await set_row(session, row, uncertain=row.uncertain)
            await session.commit()
        await follow_migration(self.runtime, row.chat_id, new_chat_id)
        self.state.wake()

    def may_have_posted(self, row: Row) -> bool:
        """A try that timed out may have reached Telegram: a send, or a card posted again."""
        return row.method in SENDS or row.id in self.state.reposting


async def _unpin_closed_card(session: Any, row: Row, message_id: int, now: datetime) -> None:
    """A closed card comes off the pins, once, after everything that matters more: the
    all-clear must not wait behind fifty unpins. The row's card key names this unpin: one per
    card, ever."""
    key = f"unpin:{row.chat_id}:{message_id}"
    if not await session.scalar(select(exists().where(OutboxMessage.card_key == key))):
        outbox.unpin(session, row.chat_id, message_id, now=now, card=key)


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
