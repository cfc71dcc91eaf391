"""Cards: the bot's messages that show an incident's state and are edited as it changes (the
alert, the coordinator's panel, questions), and the sector question a group gets at most once a
minute. An edit is folded into a newer one, rendered when it is sent (through
`Runtime.card_renderers`), skipped when the card already shows it, and posted again when the
card can no longer be edited."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select, update
from telegram.error import BadRequest

from bot.runtime import Runtime
from bot.transport import outbox
from bot.transport.delivery.calls import inline_of, markup_of
from bot.transport.delivery.posting import Poster
from bot.transport.delivery.results import Postpone, SendResult
from bot.transport.delivery.rows import Row
from bot.transport.delivery.state import ChatState
from bot.transport.telegram_errors import Verdict, verdict
from bot.transport.telegram_text import TEXT_LIMIT, plain, shorten, units
from models import IncidentMessage, OutboxMessage
from models.delivery import FOLDED, PENDING, SENT, UNCHANGED
from models.vocab import MessageKind, OutboxMethod

log = logging.getLogger(__name__)

ASK_SECTOR_EVERY = 60.0  # seconds between two sector questions in one group
CARD_GAP = 0.25  # seconds between two edits of one card


class Cards:
    def __init__(self, runtime: Runtime, bot: Any, poster: Poster, state: ChatState) -> None:
        self.runtime, self.bot, self.poster, self.state = runtime, bot, poster, state
        self._asked_at: dict[int, float] = {}  # group -> when its last sector question went

    async def edit(self, row: Row) -> SendResult:
        p = row.payload
        if await self._newer_edit(row) is not None:
            return SendResult(FOLDED)
        target = await self._card(row)
        if target is None:
            if await self._card_being_sent(row):
                raise Postpone(0.5)
            return SendResult(UNCHANGED)  # no card in this chat (never sent there)
        if p.get("text") is None:
            await self._render(row)
        if target.shown_hash == outbox.card_hash(p["text"], p.get("markup")):
            return SendResult(UNCHANGED)
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
                return SendResult(SENT, target.message_id)
            except BadRequest as exc:
                meaning = verdict("editMessageText", 400, exc.message)
                if meaning is Verdict.NOT_MODIFIED:
                    return SendResult(UNCHANGED, target.message_id)
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

    async def ask_sector(self, row: Row) -> SendResult:
        """Every pending sector question of this group in one message, at most one a minute."""
        clock = self.runtime.clock
        last = self._asked_at.get(row.chat_id)
        if last is not None and clock.monotonic() - last < ASK_SECTOR_EVERY:
            raise Postpone(ASK_SECTOR_EVERY - (clock.monotonic() - last))
        async with self.runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.payload).where(
                        OutboxMessage.chat_id == row.chat_id,
                        OutboxMessage.method == OutboxMethod.ASK_SECTOR,
                        OutboxMessage.status == PENDING,
                        OutboxMessage.id != row.id,
                    )
                )
            ).all()
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([i for i, _ in rows]))
                .values(status=FOLDED, done_at=clock.now())
            )
            await session.commit()
        people = [row.payload["user_id"], *(json.loads(p)["user_id"] for _, p in rows)]
        render = self.runtime.card_renderers.get(MessageKind.SECTOR_QUESTION)
        question = await render(self.runtime, list(dict.fromkeys(people))) if render else None
        if question is None:
            return SendResult(UNCHANGED)  # everyone named has picked a sector meanwhile
        text, markup = question
        message = await self.poster.post(
            row, "send_message", text=text, reply_markup=markup_of(markup)
        )
        self._asked_at[row.chat_id] = clock.monotonic()
        return SendResult(SENT, message.message_id)

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
    ) -> SendResult:
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
        self.state.reposting.add(row.id)  # a timeout now may have posted it: counted if sent again
        message = await self.poster.post(
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
                outbox.pin(session, row.chat_id, message.message_id, now=now)
                if still_there:
                    outbox.unpin(session, row.chat_id, target.message_id, now=now)
            await session.commit()
        self.state.wake()
        return SendResult(SENT, message.message_id)

    async def _newer_edit(self, row: Row) -> int | None:
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
        record = (row.payload["incident_id"], row.payload["kind"])
        async with self.runtime.read_session() as session:
            return bool(await outbox.unsent(session, record, row.chat_id))
