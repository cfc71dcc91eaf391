"""Running the bot: start-up, the update intake (polling or webhook), delivery, shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.app import build_application, start_up
from bot.config import Config
from bot.delivery import DeliveryWorker
from bot.inbox import ALLOWED_UPDATES
from bot.jobs import RUNTIME_KEY
from bot.polling import Intake, Poller
from bot.runtime import Runtime
from bot.web import WebServer

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
DEFAULT_WEBHOOK_PORT = 8080
START_BACKOFF_MAX = 30.0


async def serve(config: Config, *, webhook: bool = False) -> None:
    """Run until SIGTERM/SIGINT. InvalidToken propagates (the caller prints one line)."""
    app = build_application(config)
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if not await _initialize(app, stop):
            return
        await start_up(app)
        worker = DeliveryWorker(runtime, app.bot)
        runtime.delivery = worker
        worker_task = asyncio.create_task(worker.run(), name="delivery")
        await app.start()
        intake = Intake(app, runtime)
        await intake.replay()
        web, poll_task = await _open_intake(app, runtime, intake, webhook)
        await stop.wait()
        log.info("stopping: finishing the updates under way")
        if poll_task is not None:
            poll_task.cancel()
        if web is not None:
            await web.stop()
        await app.stop()
        await worker.stop()
        worker_task.cancel()
        await asyncio.gather(worker_task, return_exceptions=True)
    finally:
        if app.running:
            await app.stop()
        if app._initialized:
            await app.shutdown()
        await runtime.engine.dispose()
        if runtime.read_engine is not None:
            await runtime.read_engine.dispose()


async def _initialize(app: Any, stop: asyncio.Event) -> bool:
    """Connect to Telegram (getMe), waiting out network trouble; False if stopped meanwhile."""
    delay = 1.0
    while not stop.is_set():
        try:
            await app.initialize()
            return True
        except InvalidToken:
            raise
        except (NetworkError, TelegramError) as exc:
            log.warning(
                "cannot reach Telegram at start-up (%s: %s); trying again in %.0f s "
                "(behind a proxy? set HTTPS_PROXY)",
                type(exc).__name__,
                exc.message,
                delay,
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass
        delay = min(START_BACKOFF_MAX, delay * 2)
    return False


async def _open_intake(
    app: Any, runtime: Runtime, intake: Intake, webhook: bool
) -> tuple[WebServer | None, asyncio.Task[None] | None]:
    settings = runtime.config.settings
    if webhook:
        url = settings.webhook_url.rstrip("/")
        await app.bot.set_webhook(
            url + WEBHOOK_PATH,
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        web = WebServer(
            runtime,
            host=settings.http_host,
            port=settings.http_port or DEFAULT_WEBHOOK_PORT,
            polling=False,
            intake=intake,
            webhook_path=WEBHOOK_PATH,
            secret=settings.webhook_secret,
        )
        await web.start()
        log.info("webhook mode: Telegram posts to %s%s", url, WEBHOOK_PATH)
        return web, None
    try:
        await app.bot.delete_webhook(drop_pending_updates=False)
    except TelegramError as exc:
        log.warning("could not remove a webhook (polling may conflict with it): %s", exc)
    health: WebServer | None = None
    if settings.http_port:
        health = WebServer(runtime, host=settings.http_host, port=settings.http_port, polling=True)
        await health.start()
    return health, asyncio.create_task(Poller(intake).run(), name="polling")
