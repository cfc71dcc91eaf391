"""👍 on reports. In a burst of /caido, the 👍 that would come late become one message per group
naming those people; where a chat refuses reactions, each person gets a short reply instead."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import update
from telegram import ReplyParameters
from telegram.error import BadRequest

from bot.runtime import Runtime
from bot.team import chats
from bot.transport import outbox
from bot.transport.delivery.budget import SECOND_RESERVE, Budget, Lane
from bot.transport.delivery.calls import current_call
from bot.transport.delivery.posting import Poster
from bot.transport.delivery.results import SendResult
from bot.transport.delivery.rows import Row
from bot.transport.delivery.state import ChatState
from bot.transport.delivery.words import Words
from bot.transport.telegram_errors import Verdict, verdict
from models import OutboxMessage
from models.delivery import FOLDED, NEWS, PENDING, SENT, UNCHANGED
from models.vocab import OutboxMethod, Priority

log = logging.getLogger(__name__)

# A 👍 that would wait longer than REACTION_WAIT behind the others goes instead in one message
# per group naming those people, at most one such message every JOINED_EVERY seconds per group,
# and only when it names at least JOINED_MIN people (fewer are not worth a message in the group).
REACTION_WAIT = 2.0
JOINED_EVERY = 1.0
JOINED_MIN = 3
JOINED_TAG = "joined"


class Reactions:
    def __init__(
        self,
        runtime: Runtime,
        bot: Any,
        poster: Poster,
        budget: Budget,
        state: ChatState,
        words: Words,
    ) -> None:
        self.runtime, self.bot, self.poster, self.budget = runtime, bot, poster, budget
        self.state, self.words = state, words
        self._joined_at: dict[int, float] = {}  # group -> when its last joined message was made

    async def react(self, row: Row) -> SendResult:
        """A 👍 on a report; where the chat does not take it, a short reply instead (the
        chat remembers, so the next person does not wait for a refused try)."""
        p = row.payload
        if row.chat_id in self.runtime.reactionless:
            return await self._answer_instead(row)
        try:
            await self.bot.set_message_reaction(row.chat_id, p["message_id"], p["emoji"])
        except BadRequest as exc:
            meaning = verdict(current_call(), 400, exc.message)
            if meaning is Verdict.MESSAGE_GONE:
                return SendResult(UNCHANGED)  # the person deleted the report: the card counts
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
        return SendResult(SENT)

    async def _answer_instead(self, row: Row) -> SendResult:
        p = row.payload
        message = await self.poster.post(
            row,
            "send_message",
            text=self.words.joined_one(p.get("name")),
            reply_parameters=ReplyParameters(p["message_id"], allow_sending_without_reply=True),
            disable_notification=True,
        )
        return SendResult(SENT, message.message_id)

    async def fold_late(self, rows: list[Row], due_ids: set[int], held: set[int]) -> bool:
        """The 👍 that would wait more than REACTION_WAIT behind the others become one message
        per group naming those people, in one transaction (the reactions folded, the message
        added). Only where that message can go at once: the chat is not blocked, no earlier
        one waits, and the group's minute has room for it after the rows ahead of it.
        Otherwise they wait their turn as reactions. True if a message was added."""
        reactions = [r for r in rows if r.method == OutboxMethod.REACTION and r.id in due_ids]
        rate = self.budget.per_second * (1.0 - SECOND_RESERVE[Lane.CHATTER])
        late: defaultdict[int, list[Row]] = defaultdict(list)
        for row in reactions[int(rate * REACTION_WAIT) :]:
            # A reaction tried before may have reached Telegram: it stays a reaction.
            if row.payload.get("name") and row.chat_id < 0 and not (row.attempts or row.uncertain):
                late[row.chat_id].append(row)
        now = self.runtime.clock.monotonic()
        added = False
        for chat_id, folding in late.items():
            if not self._may_join(chat_id, folding, rows, held, now):
                continue
            folding, names = self._names(folding)
            if len(names) < JOINED_MIN:
                continue
            if await self._join(chat_id, folding, names):
                self._joined_at[chat_id] = now
                log.info(
                    "chat %s: %d late 👍 answered by name in one message instead",
                    chat_id,
                    len(folding),
                )
                added = True
        return added

    def _may_join(
        self, chat_id: int, folding: list[Row], rows: list[Row], held: set[int], now: float
    ) -> bool:
        ahead = [r for r in rows if r.chat_id == chat_id and r.method != OutboxMethod.REACTION]
        return not (
            len(folding) < JOINED_MIN
            or now - self._joined_at.get(chat_id, -60.0) < JOINED_EVERY
            or chat_id in self.state.unreachable
            or self.state.blocked_until.get(chat_id, 0.0) > now
            or any(r.payload.get("tag") == JOINED_TAG for r in ahead)
            or self.budget.room(chat_id, Lane.NEWS, now)
            <= sum(r.priority <= Priority.NEWS for r in ahead) + (chat_id in held)
        )

    def _names(self, folding: list[Row]) -> tuple[list[Row], list[str]]:
        """Each person once, in order, as many as the message takes (counted as Telegram
        counts: UTF-16 units)."""
        names: dict[str, None] = {}
        length = 0
        for count, row in enumerate(folding):
            name = row.payload["name"]
            if name not in names:
                length += len(self.words.joined_name(name).encode("utf-16-le")) // 2 + 2
                if length > self.words.joined_names_max:
                    return folding[:count], list(names)
                names[name] = None
        return folding, list(names)

    async def _join(self, chat_id: int, folding: list[Row], names: list[str]) -> bool:
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
                return False
            outbox.send(
                session,
                chat_id,
                self.words.joined_many(names),
                priority=NEWS,
                now=clock_now,
                tag=JOINED_TAG,
            )
            await session.commit()
        return True
