"""A new message in a chat, sent another way when Telegram refuses this way: a closed or
deleted topic → the alert topic, then General; a reply to a deleted message → no reply;
markup that does not parse → plain text; too long → in parts (a text) or shortened (a caption)."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Message
from telegram.error import BadRequest

from bot.runtime import Runtime
from bot.team import chats
from bot.transport import outbox
from bot.transport.delivery.calls import current_call
from bot.transport.delivery.rows import Row
from bot.transport.delivery.state import ChatState
from bot.transport.delivery.words import Words
from bot.transport.telegram_errors import Verdict, verdict
from bot.transport.telegram_text import CAPTION_LIMIT, plain, shorten, split
from models.delivery import CHATTER, NEWS

log = logging.getLogger(__name__)


class Poster:
    def __init__(self, runtime: Runtime, bot: Any, state: ChatState, words: Words) -> None:
        self.runtime, self.bot, self.state, self.words = runtime, bot, state, words

    async def post(self, row: Row, call: str, **kwargs: Any) -> Message:
        """`call` (send_message, send_photo, ...) to the row's chat and topic. Chatter arrives
        silently."""
        kwargs.setdefault("disable_notification", row.priority == CHATTER)
        if call == "send_message":
            kwargs.setdefault("disable_web_page_preview", True)
        topic = self.topic(row)
        send = getattr(self.bot, call)
        while True:
            try:
                sent: Message = await send(row.chat_id, message_thread_id=topic, **kwargs)
                return sent
            except BadRequest as exc:
                meaning = verdict(current_call(), 400, exc.message)
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

    def topic(self, row: Row) -> int | None:
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
                        self.words.alert_topic_gone(title, error),
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
        self.state.wake()
        return None
