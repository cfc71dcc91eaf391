"""Messages a step decides to send, stored in the step's own transaction (the delivery outbox).

Services and handlers only add rows here; the delivery worker (`bot.transport.delivery`) sends them by priority, retries,
records each message id as it goes, and folds card edits. Markups arrive already as the
Bot API's JSON (dicts), so nothing here knows Telegram's classes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.unit_of_work import add_row, current_step
from bot.transport.telegram_text import split
from models import OutboxMessage
from models.delivery import CHATTER, CRITICAL, NEWS, PENDING
from models.vocab import OutboxMethod, Priority

__all__ = [
    "CHATTER",
    "CRITICAL",
    "NEWS",
    "PIN_NOTIFY",
    "Backlog",
    "backlog",
    "card_hash",
    "card_key",
]

Markup = dict[str, Any] | None


def card_key(incident_id: int, kind: str, chat_id: int) -> str:
    return f"{incident_id}:{kind}:{chat_id}"


def card_hash(text: str, markup: Markup) -> str:
    """What a message shows, as a short hash: an edit to the same content is not sent."""
    raw = json.dumps([text, markup], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def add(
    session: AsyncSession,
    *,
    method: OutboxMethod,
    chat_id: int,
    priority: Priority,
    now: datetime,
    card: str | None = None,
    **payload: Any,
) -> None:
    step = current_step()
    if step is not None and step.drill:
        payload["drill"] = True  # the delivery worker marks it (Words.drill) when it sends it
    row = {
        "priority": priority,
        "method": method,
        "chat_id": chat_id,
        "payload": json.dumps(payload, ensure_ascii=False),
        "card_key": card,
        "status": PENDING,
        "attempts": 0,
        "uncertain": False,
        "duplicate_risk": False,
        "created_at": now,
        "next_attempt_at": now,
    }
    add_row(session if step is None else step.session, OutboxMessage, row)
    if step is not None:
        step.wrote_outbox = True


PIN_NOTIFY = "notify"  # send(pin=PIN_NOTIFY): pinned with a notification to everyone


def send(
    session: AsyncSession,
    chat_id: int,
    text: str,
    *,
    priority: Priority,
    now: datetime,
    markup: Markup = None,
    reply_to: int | None = None,
    topic: int | None = None,
    record: tuple[int, str] | None = None,
    pin: bool | str = False,
    fallback: list[tuple[int, str, Markup]] | None = None,
    tag: str | None = None,
    after_chat: int | None = None,
) -> None:
    """A new message. `record` = (incident, kind) remembers it once sent (to edit it later);
    `pin` pins it once sent (PIN_NOTIFY: with a notification); `fallback` is sent instead if
    the chat refuses (a person who never started the bot); `tag` tells the delivery worker
    what it is (e.g. its own "joined" message); `after_chat`: it waits until that chat's
    pending messages went out.

    `topic`: in a group with topics, the one it goes to (0: General); None: the chat's
    alert topic. A reply goes where the person wrote.

    A text longer than Telegram takes is stored as several messages (the buttons on the last),
    counted as Telegram counts (see bot.transport.telegram_text)."""
    parts = split(text)
    for index, part in enumerate(parts):
        first, last = index == 0, index == len(parts) - 1
        add(
            session,
            method=OutboxMethod.SEND,
            chat_id=chat_id,
            priority=priority,
            now=now,
            text=part,
            markup=markup if last else None,
            reply_to=reply_to if first else None,
            topic=topic,
            record=list(record) if record and first else None,
            pin=pin if first else False,
            fallback=[list(f) for f in fallback] if fallback and first else None,
            tag=tag,
            after_chat=after_chat,
        )


def edit_card(
    session: AsyncSession,
    *,
    incident_id: int,
    kind: str,
    chat_id: int,
    now: datetime,
    text: str | None = None,
    markup: Markup = None,
    repin: bool = True,
) -> None:
    """Show `text` on the incident's `kind` message in this chat (folded with older edits).

    Without `text`, the delivery worker renders the card itself when it sends the edit
    (`Runtime.card_renderers[kind]`): the state at that moment, built once per edit sent.
    """
    add(
        session,
        method=OutboxMethod.EDIT_CARD,
        chat_id=chat_id,
        priority=NEWS,
        now=now,
        card=card_key(incident_id, kind, chat_id),
        incident_id=incident_id,
        kind=kind,
        text=text,
        markup=markup,
        repin=repin,
    )


def photo(
    session: AsyncSession,
    chat_id: int,
    file_id: str,
    caption: str,
    *,
    priority: Priority,
    now: datetime,
) -> None:
    add(
        session,
        method=OutboxMethod.PHOTO,
        chat_id=chat_id,
        priority=priority,
        now=now,
        file_id=file_id,
        caption=caption,
    )


def upload(
    session: AsyncSession,
    chat_id: int,
    kind: str,
    data: bytes,
    filename: str,
    caption: str,
    *,
    priority: Priority,
    now: datetime,
) -> None:
    """A file made by the bot (`kind` "photo": a chart; "document": an export), kept in the row
    (base64) so it survives a restart like any other message."""
    if kind not in ("photo", "document"):
        raise ValueError(f"unknown upload kind {kind!r}")
    add(
        session,
        method=OutboxMethod(f"upload_{kind}"),
        chat_id=chat_id,
        priority=priority,
        now=now,
        data=base64.b64encode(data).decode(),
        filename=filename,
        caption=caption,
    )


def ask_sector(session: AsyncSession, chat_id: int, user_id: int, *, now: datetime) -> None:
    """Ask this person their sector in this group. The delivery worker joins every pending
    question of a group into one message naming them all, at most one a minute."""
    add(
        session,
        method=OutboxMethod.ASK_SECTOR,
        chat_id=chat_id,
        priority=CHATTER,
        now=now,
        user_id=user_id,
    )


def pin(
    session: AsyncSession, chat_id: int, message_id: int, *, now: datetime, notify: bool = False
) -> None:
    """Pin a message already sent, as a row of its own (a pin that fails is retried alone).
    `notify`: everyone hears it (only the first pin of an alert)."""
    add(
        session,
        method=OutboxMethod.PIN,
        chat_id=chat_id,
        priority=NEWS,
        now=now,
        message_id=message_id,
        notify=notify,
    )


def unpin(
    session: AsyncSession, chat_id: int, message_id: int, *, now: datetime, card: str | None = None
) -> None:
    """Unpin a message, after everything that matters more (chatter). `card` names the row, so
    that one unpin per message is ever stored."""
    add(
        session,
        method=OutboxMethod.UNPIN,
        chat_id=chat_id,
        priority=CHATTER,
        now=now,
        card=card,
        message_id=message_id,
    )


def clear_markup(
    session: AsyncSession,
    chat_id: int,
    message_id: int | None = None,
    *,
    now: datetime,
    of_row: int | None = None,
) -> None:
    """A message's buttons come off: `message_id`, or the message outbox row `of_row` (in the
    same chat, not sent yet) will have posted."""
    where = {"message_id": message_id} if of_row is None else {"of_row": of_row}
    add(
        session,
        method=OutboxMethod.CLEAR_MARKUP,
        chat_id=chat_id,
        priority=CHATTER,
        now=now,
        **where,
    )


async def unsent(
    session: AsyncSession, record: tuple[int, str], chat_id: int | None = None
) -> list[tuple[int, int]]:
    """(chat, outbox row) of each message that will record `record` (see `send`) and has not
    gone yet: Telegram may already have it, but its message id is not stored."""
    where = [
        OutboxMessage.status == PENDING,
        OutboxMessage.method == OutboxMethod.SEND,
        OutboxMessage.payload.contains('"record": ['),  # as send() writes it (not null)
    ]
    if chat_id is not None:
        where.append(OutboxMessage.chat_id == chat_id)
    rows = await session.execute(
        select(OutboxMessage.chat_id, OutboxMessage.id, OutboxMessage.payload).where(*where)
    )
    wanted = list(record)
    return [(chat, row) for chat, row, p in rows.all() if json.loads(p).get("record") == wanted]


def reaction(
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    emoji: str,
    *,
    now: datetime,
    name: str | None = None,
    topic: int | None = None,
) -> None:
    """A reaction on someone's message: an answer that adds no message to the group.

    With the person's `name`, a 👍 that would come late in a burst may be folded into one
    message naming everyone instead (see `bot.transport.delivery.worker`). Where the chat does not take the
    reaction, the person gets a short reply instead, in their `topic`."""
    add(
        session,
        method=OutboxMethod.REACTION,
        chat_id=chat_id,
        priority=CHATTER,
        now=now,
        message_id=message_id,
        emoji=emoji,
        name=name,
        topic=topic,
    )


class Backlog:
    def __init__(self, pending: int, oldest_due: datetime | None) -> None:
        self.pending = pending
        self.oldest_due = oldest_due


async def backlog(session: AsyncSession) -> Backlog:
    """How many rows wait, and since when the oldest one is due."""
    row = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == PENDING
            )
        )
    ).one()
    oldest = row[1]
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return Backlog(int(row[0]), oldest)


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget rows settled (sent, folded, dropped...) before `before`; pending ones stay."""
    result: Any = await session.execute(
        delete(OutboxMessage).where(OutboxMessage.status != PENDING, OutboxMessage.done_at < before)
    )
    return int(result.rowcount or 0)
