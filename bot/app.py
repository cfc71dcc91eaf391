"""build_application: the one place that wires handlers, jobs and shared resources together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    Defaults,
    TypeHandler,
)

from bot import texts
from bot.clock import Clock
from bot.config import Config
from bot.db import make_engine, make_session_factory
from bot.jobs import RUNTIME_KEY, arm_after_update, arm_pending
from bot.people import sync_team_chats
from bot.runtime import Runtime
from handlers import (
    access,
    allclear,
    coordination,
    deadlines,
    errors,
    info,
    local,
    prompts,
    report,
    sector,
    validation,
    votes,
)

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
# Overdue timers wait this long after start-up so the backlog of updates is handled first.
STARTUP_GRACE_SECONDS = 3.0
CONCURRENT_UPDATES = 16


class PerPersonOrder(BaseUpdateProcessor):
    """Different people's updates run side by side; one person's run in the order they sent them.

    Side by side, a step waiting on Telegram's flood limits does not delay everyone else's
    button answers (the database decides every race). In order per person, a reply to the
    bot's question is never read before the question was recorded.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # person -> (lock, updates in line)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await coroutine
            return
        lock, waiting = self._locks.get(user.id, (asyncio.Lock(), 0))
        self._locks[user.id] = (lock, waiting + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, waiting = self._locks[user.id]
            if waiting == 1:
                del self._locks[user.id]
            else:
                self._locks[user.id] = (lock, waiting - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def build_application(config: Config, clock: Clock | None = None) -> App:
    settings = config.settings
    root = settings.telegram_api_url.rstrip("/")
    engine = make_engine(settings.database_url)
    runtime = Runtime(
        config=config,
        engine=engine,
        session=make_session_factory(engine),
        clock=clock or Clock.from_setting(settings.flexus_now),
    )
    limiter = AIORateLimiter(
        overall_max_rate=settings.telegram_msgs_per_second,
        group_max_rate=settings.telegram_group_msgs_per_minute,
        group_time_period=60,
        max_retries=3,
    )
    app = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=runtime.tz))
        .rate_limiter(limiter)
        .concurrent_updates(PerPersonOrder(CONCURRENT_UPDATES))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data[RUNTIME_KEY] = runtime

    # Commands and buttons, in protocol order. `errors` goes last: it answers leftover buttons.
    report.register(app)  # 1–2: /caido opens or joins the incident, alert to every chat
    votes.register(app)  # 3: confirmation poll on the alert card
    local.register(app)  # 4: local checklist, escalate anyway
    coordination.register(app)  # 5: claim, /contactado, hand over
    access.register(app)  # 6: server access through Gerencia
    validation.register(app)  # 7: each sector confirms FLEXUS works
    allclear.register(app)  # 8: /resuelto, "Entendido", summary
    prompts.register(app)  # replies to the bot's questions (ticket number, reasons)
    deadlines.register(app)  # every deadline and reminder
    info.register(app)  # /soporte, /estado, /ayuda, /start, /help
    sector.register(app)  # /sector
    # After every update, whatever its handler: put the timers its step stored on the queue.
    app.add_handler(TypeHandler(Update, arm_after_update), group=1)
    errors.register(app)
    return app


async def _post_init(app: App) -> None:
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    async with runtime.session() as session:
        await sync_team_chats(
            session,
            chat_ids=runtime.team_chat_ids,
            chat_sectors=runtime.protocol.team.chat_sectors,
            now=runtime.clock.now(),
        )
    try:
        await app.bot.set_my_commands([BotCommand(c, d) for c, d in texts.COMMANDS])
    except TelegramError as exc:
        log.warning("could not set the command list (the bot works without it): %s", exc)
    armed = await arm_pending(app, min_delay=STARTUP_GRACE_SECONDS)
    log.info(
        "FLEXUS Guardia started: %d team chats, %d timers re-armed",
        len(runtime.team_chat_ids),
        armed,
    )


async def _post_shutdown(app: App) -> None:
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    await runtime.engine.dispose()
