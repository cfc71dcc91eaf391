"""build_application: the one place that wires handlers, jobs and shared resources together."""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, Defaults

from bot import texts
from bot.clock import Clock
from bot.config import Config
from bot.db import make_engine, make_session_factory
from bot.jobs import RUNTIME_KEY, arm_pending
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
