"""The delivery worker on a real database built by the migrations, against an in-process fake Bot.

Time is the test's: the runtime's clock stands still until a test moves it, and the worker's
monotonic clock (429 blocks, flood windows) follows every jump of it, so back-offs of seconds or
minutes take no real time. `Harness.until()` polls the database for a condition; with
`advance=True` it also moves the clock to the next row that waits, reading that instant before
the condition, so a state the rows reach while they wait (a back-off, a refused chat) holds
still long enough to be asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import BadRequest, ChatMigrated, NetworkError

from bot import texts
from bot.core.clock import Clock
from bot.core.config import Config, load_protocol, load_settings
from bot.runtime import Runtime
from bot.storage.db import is_sqlite, make_engine, make_session_factory
from bot.team.members import Person, sync_team_chats, touch_member
from bot.transport import outbox
from bot.transport.delivery import DeliveryWorker
from models import Incident, IncidentMessage, OutboxMessage, TeamChat
from models.delivery import CRITICAL

# The worker reads RetryAfter.retry_after, which python-telegram-bot 22.2+ warns will become a
# timedelta; bot.transport.delivery.worker._seconds takes both.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

T0 = datetime(2026, 11, 24, 11, 42, tzinfo=UTC)  # Tuesday 08:42 in Córdoba
GROUP_A, GROUP_B, GROUP_C = -1001, -1002, -1003
SUPERGROUP_A = -1009001
ADMINS = (7001, 7002)
PERSON = 4242  # someone who never opened a private chat with the bot
CARD_MARKUP = {"inline_keyboard": [[{"text": "A mí también me falla", "callback_data": "v:1:f"}]]}


# --- time ----------------------------------------------------------------------------------------
class StillClock(Clock):
    """The runtime's clock: stands still until the test moves it."""

    def __init__(self, start: datetime = T0) -> None:
        super().__init__()
        self.instant = start

    def now(self) -> datetime:
        return self.instant

    def advance(self, seconds: float) -> None:
        self.instant += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        """The worker's monotonic clock: real time goes on, plus every jump of this clock."""
        return time.monotonic() + (self.instant - T0).total_seconds()


# --- the fake Bot ----------------------------------------------------------------------------------
OK = "ok"
KILL = "kill"  # delivered, then the worker dies while it awaits Telegram's answer


@dataclass(frozen=True)
class Delivered:
    """Telegram carried the call out, then the answer was lost: `error` is what the bot sees."""

    error: Exception


@dataclass
class Call:
    method: str
    chat_id: int
    text: str | None = None
    message_id: int | None = None
    markup: dict[str, Any] | None = None
    outcome: str = OK  # "ok", or the error the bot got
    delivered: bool = True
    at: float = field(default_factory=time.monotonic)


@dataclass
class Plan:
    method: str
    chat_id: int | None  # None: any chat
    text: str | None  # None: any text
    outcomes: deque[Any]
    on_empty: Callable[[], None] | None = None


@dataclass
class FakeBot:
    """Stands in for telegram.Bot: records every call and follows a script of outcomes.

    It keeps the messages each chat shows, so an edit of a deleted message is refused the way
    Telegram refuses it, and a chat that became a supergroup answers ChatMigrated.
    """

    calls: list[Call] = field(default_factory=list)
    shown: dict[tuple[int, int], tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    plans: list[Plan] = field(default_factory=list)
    migrated: dict[int, int] = field(default_factory=dict)
    down: bool = False  # the process is going down: nothing reaches Telegram
    unacknowledged: int = 0  # calls carried out whose answer the bot never got
    killed: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(501))

    def script(
        self,
        *outcomes: Any,
        method: str = "send_message",
        chat_id: int | None = None,
        text: str | None = None,
        on_empty: Callable[[], None] | None = None,
    ) -> None:
        """The next calls of `method` (to `chat_id`, with `text`) get these outcomes, then success."""
        self.plans.append(Plan(method, chat_id, text, deque(outcomes), on_empty))

    def delete(self, chat_id: int, message_id: int) -> None:
        """Someone deleted this message."""
        del self.shown[(chat_id, message_id)]

    # what the tests read
    def sent(self, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == "send_message" and c.delivered and chat_id in (None, c.chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str | None]:
        return [c.text for c in self.sent(chat_id)]

    def tries(self, method: str, chat_id: int) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.chat_id == chat_id]

    # the Bot API
    async def send_message(
        self, chat_id: int, text: str, *, reply_markup: Any = None, **_: Any
    ) -> Any:
        call = Call("send_message", chat_id, text, markup=_dict(reply_markup))
        await self._answer(call)
        call.message_id = next(self._ids)
        self.shown[(chat_id, call.message_id)] = (text, call.markup)
        return SimpleNamespace(message_id=call.message_id, chat_id=chat_id)

    async def send_photo(self, chat_id: int, photo: str, *, caption: str = "", **_: Any) -> Any:
        call = Call("send_photo", chat_id, caption)
        await self._answer(call)
        call.message_id = next(self._ids)
        return SimpleNamespace(message_id=call.message_id, chat_id=chat_id)

    async def edit_message_text(
        self, text: str, *, chat_id: int, message_id: int, reply_markup: Any = None, **_: Any
    ) -> Any:
        call = Call("edit_message_text", chat_id, text, message_id, _dict(reply_markup))
        await self._answer(call, refuse=self._edit_refusal(call))
        self.shown[(chat_id, message_id)] = (text, call.markup)
        return SimpleNamespace(message_id=message_id, chat_id=chat_id)

    async def edit_message_reply_markup(
        self, *, chat_id: int, message_id: int, reply_markup: Any = None, **_: Any
    ) -> Any:
        await self._answer(Call("edit_message_reply_markup", chat_id, None, message_id))
        return True

    async def pin_chat_message(self, chat_id: int, message_id: int, **_: Any) -> bool:
        await self._answer(Call("pin_chat_message", chat_id, None, message_id))
        return True

    async def unpin_chat_message(
        self, chat_id: int, message_id: int | None = None, **_: Any
    ) -> bool:
        await self._answer(Call("unpin_chat_message", chat_id, None, message_id))
        return True

    async def set_message_reaction(
        self, chat_id: int, message_id: int, reaction: Any = None, **_: Any
    ) -> bool:
        await self._answer(Call("set_message_reaction", chat_id, str(reaction), message_id))
        return True

    def _edit_refusal(self, call: Call) -> BadRequest | None:
        assert call.message_id is not None
        shown = self.shown.get((call.chat_id, call.message_id))
        if shown is None:
            return BadRequest("Message to edit not found")
        if shown == (call.text, call.markup):
            return BadRequest(
                "Message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        return None

    async def _answer(self, call: Call, refuse: Exception | None = None) -> None:
        """Record the call, then succeed or fail as scripted (a raise means the bot sees an error)."""
        self.calls.append(call)
        if self.down:
            outcome: Any = NetworkError("httpx.ConnectError: All connection attempts failed")
        elif call.chat_id in self.migrated:
            outcome = ChatMigrated(self.migrated[call.chat_id])
        else:
            outcome = self._next_outcome(call) if refuse is None else refuse
        if outcome == OK:
            return
        if outcome == KILL:
            self.unacknowledged += 1
            self.killed.append(call.text or "")
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            await asyncio.sleep(0)  # the kill lands while the call awaits Telegram's answer
            raise AssertionError("a cancelled call went on")
        if isinstance(outcome, Delivered):
            self.unacknowledged += 1
            call.outcome = type(outcome.error).__name__
            raise outcome.error
        call.delivered = False
        call.outcome = type(outcome).__name__
        raise outcome

    def _next_outcome(self, call: Call) -> Any:
        for plan in self.plans:
            if plan.method != call.method or plan.chat_id not in (None, call.chat_id):
                continue
            if plan.text not in (None, call.text):
                continue
            if not plan.outcomes:
                continue
            outcome = plan.outcomes.popleft()
            if not plan.outcomes and plan.on_empty is not None:
                plan.on_empty()
            return outcome
        return OK


def _dict(markup: Any) -> dict[str, Any] | None:
    return markup.to_dict() if markup is not None else None


def bad_gateway() -> NetworkError:
    return NetworkError("Bad Gateway")


def dropped() -> NetworkError:
    """What python-telegram-bot raises when the connection closes without an answer."""
    return NetworkError(
        "httpx.RemoteProtocolError: Server disconnected without sending a response."
    )


# --- the runtime and the worker --------------------------------------------------------------------
@dataclass
class Harness:
    runtime: Runtime
    clock: StillClock
    bot: FakeBot
    worker: DeliveryWorker | None = None

    def session(self) -> AsyncSession:
        return self.runtime.sessions()

    async def enqueue(self, *adds: Callable[[AsyncSession], None]) -> list[int]:
        """Add outbox rows in one transaction (as a step does); returns their ids in order."""
        async with self.session() as session:
            for add in adds:
                add(session)
            new = [o for o in session.new if isinstance(o, OutboxMessage)]
            await session.commit()
        return sorted(o.id for o in new)

    async def outbox_rows(self) -> list[OutboxMessage]:
        async with self.runtime.read_session() as session:
            return list(
                (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
            )

    async def row(self, row_id: int) -> OutboxMessage:
        async with self.runtime.read_session() as session:
            row = await session.get(OutboxMessage, row_id)
        assert row is not None
        return row

    async def statuses(self, ids: list[int]) -> list[str]:
        return [(await self.row(i)).status for i in ids]

    async def cards(self) -> list[IncidentMessage]:
        async with self.runtime.read_session() as session:
            found = await session.scalars(select(IncidentMessage).order_by(IncidentMessage.id))
            return list(found.all())

    async def team_chat(self, chat_id: int) -> TeamChat:
        async with self.runtime.read_session() as session:
            chat = await session.get(TeamChat, chat_id)
        assert chat is not None
        return chat

    async def next_due(self) -> datetime | None:
        """When the next row that waits (a back-off, a 429) is due."""
        async with self.runtime.read_session() as session:
            due: datetime | None = await session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at > self.clock.now(),
                )
            )
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        return due

    async def until(
        self,
        condition: Callable[[], Awaitable[bool]],
        *,
        advance: bool = True,
        what: str = "",
        patience: float = 15.0,
    ) -> None:
        """Wait for `condition`; with `advance`, time jumps to the next row that is due."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while True:
            # Read when the next row is due BEFORE looking at the condition: a row that waits
            # only after the condition was read is never hurried past the state it waited in.
            due = await self.next_due() if advance else None
            if await condition():
                return
            if loop.time() > deadline:
                rows = [
                    (r.id, r.chat_id, r.status, r.attempts, r.last_error)
                    for r in await self.outbox_rows()
                ]
                calls = [(c.method, c.chat_id, c.text, c.outcome) for c in self.bot.calls]
                raise AssertionError(
                    f"never happened: {what or condition}\noutbox: {rows}\ncalls: {calls}"
                )
            if due is not None and due > self.clock.now():
                self.clock.instant = due
            if self.worker is not None:
                self.worker.wake()
            await asyncio.sleep(0.002)

    async def settled(self, ids: list[int], *, advance: bool = True) -> None:
        """Wait until none of these rows is pending."""

        async def done() -> bool:
            return "pending" not in await self.statuses(ids)

        await self.until(done, advance=advance, what=f"rows {ids} settled")

    @contextlib.asynccontextmanager
    async def running(self, *, telegram_limits: bool = False) -> AsyncIterator[DeliveryWorker]:
        """A delivery worker, as `serve` runs it; stopped (not killed) on the way out.
        `telegram_limits`: Telegram's 30 a second and 20 a minute per group, not the harness's
        lifted ones."""
        worker = DeliveryWorker(self.runtime, self.bot, texts.DELIVERY_WORDS)  # type: ignore[arg-type]
        if telegram_limits:
            worker.budget.per_second, worker.budget.group_per_minute = 30, 20
        self.worker = self.runtime.delivery = worker
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            await worker.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.worker = self.runtime.delivery = None


@contextlib.asynccontextmanager
async def harness(url: str) -> AsyncIterator[Harness]:
    settings_ = load_settings(
        _env_file=None,
        database_url=url,
        team_chat_ids=[GROUP_A, GROUP_B, GROUP_C],
        admin_user_ids=list(ADMINS),
        # Far above what a test sends: the flood windows are not what these tests are about.
        telegram_msgs_per_second=10_000,
        telegram_group_msgs_per_minute=10_000,
    )
    engine = make_engine(url)
    read_engine = make_engine(url, reads_only=True) if is_sqlite(url) else None
    clock = StillClock()
    runtime = Runtime(
        config=Config(settings=settings_, protocol=load_protocol()),
        engine=engine,
        read_engine=read_engine,
        sessions=make_session_factory(engine),
        clock=clock,
        chats={GROUP_A: "Caja", GROUP_B: "Administración", GROUP_C: None},
    )
    try:
        yield Harness(runtime, clock, FakeBot())
    finally:
        await engine.dispose()
        if read_engine is not None:
            await read_engine.dispose()


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    async with harness(database_url) as built:
        yield built


async def new_incident(h: Harness) -> int:
    async with h.session() as session:
        await touch_member(session, person=Person(1, "Ana"), now=T0)
        incident = Incident(status="general", reporter_id=1, origin_chat_id=GROUP_A, opened_at=T0)
        session.add(incident)
        await session.commit()
        return incident.id


async def sync_chats(h: Harness, *chat_ids: int) -> None:
    async with h.session() as session:
        await sync_team_chats(
            session, chat_ids=list(chat_ids), chat_sectors={GROUP_A: "Caja"}, now=T0
        )


def send(chat_id: int, text: str, priority: int = CRITICAL, **kwargs: Any) -> Any:
    return lambda s: outbox.send(s, chat_id, text, priority=priority, now=T0, **kwargs)


def edit(incident_id: int, chat_id: int, text: str, markup: Any = CARD_MARKUP) -> Any:
    return lambda s: outbox.edit_card(
        s,
        incident_id=incident_id,
        kind="alert",
        chat_id=chat_id,
        text=text,
        markup=markup,
        now=T0,
    )


async def post_card(h: Harness, incident_id: int, chat_id: int, text: str) -> IncidentMessage:
    """The alert card, sent (and recorded) by the worker as a real step would have it."""
    await h.enqueue(
        send(chat_id, text, markup=CARD_MARKUP, record=(incident_id, "alert"), pin=True)
    )

    async def nothing_pending() -> bool:
        return all(r.status != "pending" for r in await h.outbox_rows())

    await h.until(nothing_pending, what="the card sent and pinned")
    [card] = [c for c in await h.cards() if c.chat_id == chat_id]
    return card


# --- 1. priority -----------------------------------------------------------------------------------
