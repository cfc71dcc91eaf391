"""The delivery worker on a real database built by the migrations, against the suite's fake Bot
API (tests/support/fakebotapi.py) reached in process: python-telegram-bot's own Bot, whose
request layer hands each call to the fake, so every answer is parsed as Telegram's would be.

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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.constants import ParseMode
from telegram.ext import Defaults, ExtBot

from bot import texts
from bot.core.clock import Clock
from bot.core.config import Config, load_protocol, load_settings
from bot.runtime import Runtime
from bot.storage.db import is_sqlite, make_engine
from bot.team.members import Person, sync_team_chats, touch_member
from bot.transport import outbox
from bot.transport.delivery import DeliveryWorker
from models import Incident, IncidentMessage, OutboxMessage, TeamChat
from models.delivery import CRITICAL
from tests.support.fakebotapi import FakeBotAPI, InProcessRequest
from tests.support.sessions import committing_sessions

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


# --- Telegram: the suite's one fake, reached in process -------------------------------------------
TOKEN = "123:delivery"


def telegram_bot(api: FakeBotAPI) -> ExtBot[None]:
    """The bot as the application builds it (HTML by default), talking to `api` in process."""
    return ExtBot(
        TOKEN, request=InProcessRequest(api), defaults=Defaults(parse_mode=ParseMode.HTML)
    )


# --- the runtime and the worker --------------------------------------------------------------------
@dataclass
class Harness:
    runtime: Runtime
    clock: StillClock
    api: FakeBotAPI  # what Telegram was asked, and what it shows
    telegram: ExtBot[None]
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
                calls = [(c.method, c.chat_id, c.text, c.fault) for c in self.api.calls]
                raise AssertionError(
                    f"never happened: {what or condition}\noutbox: {rows}\ncalls: {calls}"
                )
            if due is not None and due > self.clock.now():
                self.clock.instant = due
            if self.worker is not None:
                self.worker.wake()
            await asyncio.sleep(0.01)

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
        worker = DeliveryWorker(self.runtime, self.telegram, texts.DELIVERY_WORDS)
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
        sessions=committing_sessions(engine),
        clock=clock,
        chats={GROUP_A: "Caja", GROUP_B: "Administración", GROUP_C: None},
    )
    try:
        api = FakeBotAPI(TOKEN)
        yield Harness(runtime, clock, api, telegram_bot(api))
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
        await session.commit()


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
