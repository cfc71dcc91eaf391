"""Running the bot: start-up, the update intake (polling or webhook), delivery, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import signal
from datetime import timedelta
from typing import Any

from telegram.error import InvalidToken, NetworkError, TelegramError

from bot import texts
from bot.app import build_application, start_up
from bot.core.causes import cause_of
from bot.core.clock import Clock
from bot.core.config import Config
from bot.ops import heartbeat
from bot.ops.backup import schedule_daily_backup
from bot.ops.copies import Copies, uses_lease
from bot.ops.monitor import Monitor
from bot.protocol import maintenance
from bot.protocol.drills import next_drill_at
from bot.runtime import Runtime
from bot.support import holiday_dates
from bot.support.workday import next_morning_check
from bot.timers import store as timers
from bot.timers.jobs import RUNTIME_KEY, arm_pending
from bot.transport import inbox, outbox
from bot.transport.delivery import DeliveryWorker
from bot.transport.inbox import ALLOWED_UPDATES
from bot.transport.intake import Intake, Poller
from bot.transport.web import WebServer
from models.vocab import TimerKind

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
HOUSEKEEPING_SECONDS = 3600.0
KEEP_SETTLED = timedelta(days=7)  # handled updates and delivered messages, for inspection
DEFAULT_WEBHOOK_PORT = 8080
START_BACKOFF_MAX = 30.0


async def serve(config: Config, *, webhook: bool = False) -> None:
    """Run until SIGTERM/SIGINT. InvalidToken propagates (the caller prints one line).

    On PostgreSQL with a lease (LEASE_SECONDS, on by default) this copy first stands by until
    it holds the lease, and stands by again if it loses it (bot.ops.copies)."""
    stop = asyncio.Event()
    halts: list[asyncio.Event] = []

    def on_signal() -> None:
        stop.set()
        for halt in halts:
            halt.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    # One clock for the whole process (FLEXUS_NOW starts it once, not at each takeover).
    clock = Clock.from_setting(config.settings.flexus_now)
    if not uses_lease(config.settings):
        await _run_active(config, webhook, stop, clock, None)
        return
    copies = Copies(config, clock=clock)
    try:
        while not stop.is_set():
            standing = await _standby_server(config, copies)
            try:
                taken = await copies.wait_to_take_over(stop)
                if taken is not None:  # kept from now on, whatever comes next takes
                    halt = asyncio.Event()
                    halts[:] = [halt]
                    if stop.is_set():
                        halt.set()
                    keeper = asyncio.create_task(copies.keep(halt), name="lease")
            finally:
                if standing is not None:
                    await standing.stop()
            if taken is None:
                break
            try:
                await copies.end_replaced_sessions()
                await _run_active(config, webhook, halt, clock, copies)
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
            if not stop.is_set():
                log.warning("copy %s stands by again", copies.me.name)
    finally:
        await copies.close()


async def _standby_server(config: Config, copies: Copies) -> WebServer | None:
    """/healthz of a standing-by copy, on the port the active copy's would use."""
    settings = config.settings
    port = settings.http_port or 0
    if not port:
        return None
    server = WebServer(
        None,
        host=settings.http_host,
        port=port,
        polling=True,
        standby=copies.standby_health,
    )
    try:
        await server.start()
    except OSError as exc:
        log.warning("cannot serve /healthz while standing by (%s)", exc)
        return None
    return server


async def _run_active(
    config: Config, webhook: bool, stop: asyncio.Event, clock: Clock, copies: Copies | None
) -> None:
    """Everything the active copy does, until `stop` (a signal, or the lease lost)."""
    app = build_application(config, clock, fence=copies.fence if copies is not None else None)
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    started = False
    try:
        if not await _initialize(app, stop):
            return
        await start_up(app)
        await _keep_house(app, runtime)
        started = True
        words = dataclasses.replace(
            texts.DELIVERY_WORDS,
            drill=functools.partial(texts.drill_marked, phone=runtime.protocol.support.phone),
        )
        worker = DeliveryWorker(runtime, app.bot, words)
        runtime.delivery = worker
        worker_task = asyncio.create_task(worker.run(), name="delivery")
        await heartbeat.notice_downtime(runtime)  # after the worker: the notice goes out now
        await app.start()
        assert app.job_queue is not None  # python-telegram-bot[job-queue] is a dependency
        app.job_queue.run_repeating(
            _housekeeping, interval=HOUSEKEEPING_SECONDS, first=60, name="housekeeping"
        )
        # Admins added or removed from the command line count within a minute, no restart.
        every = runtime.config.settings.settings_reload_seconds
        app.job_queue.run_repeating(_reload, interval=every, first=every, name="reload")
        intake = Intake(app, runtime)
        await intake.replay()
        web, poll_task = await _open_intake(app, runtime, intake, webhook)
        beats = asyncio.create_task(
            heartbeat.Heartbeat(runtime, polling=not webhook).run(), name="heartbeat"
        )
        if runtime.protocol.check:  # the bot's own checks of FLEXUS and of the office
            runtime.monitor = Monitor(runtime, runtime.check_listener)
            await runtime.monitor.start()
        await stop.wait()
        log.info("stopping: finishing the updates under way")
        beats.cancel()
        if runtime.monitor is not None:
            await runtime.monitor.stop()
        if poll_task is not None:
            poll_task.cancel()
        if web is not None:
            await web.stop()
        await intake.stop()
        await app.stop()
        await worker.stop()
        worker_task.cancel()
        await asyncio.gather(worker_task, return_exceptions=True)
    finally:
        if started and runtime.fence.held:
            await _last_alive(runtime)
        if app.running:
            await app.stop()
        if app._initialized:
            await app.shutdown()
        runtime.direct.close()
        await runtime.engine.dispose()
        if runtime.read_engine is not None:
            await runtime.read_engine.dispose()


async def _keep_house(app: Any, runtime: Runtime) -> None:
    """The daily backup's stored timer (one pending while backups are on, none when off), and
    the protocol file's recurring maintenance of the coming week with its timers."""
    async with runtime.sessions() as session:
        now = runtime.clock.now()
        added = await schedule_daily_backup(session, config=runtime.config, now=now)
        windows = await maintenance.keep_recurring(session, now=now, protocol=runtime.protocol)
        protocol = runtime.protocol
        morning = await timers.keep_one(
            session,
            kind=TimerKind.MORNING_CHECK,
            wanted=bool(protocol.check),
            due_at=lambda: next_morning_check(now, protocol),
            now=now,
        )
        drill = await timers.keep_one(
            session,
            kind=TimerKind.DRILL,
            wanted=bool(protocol.drills.months),
            due_at=lambda: next_drill_at(now, protocol.drills, protocol) or now,
            now=now,
        )
        await session.commit()
    if added or windows or morning or drill:
        await arm_pending(app)


async def _last_alive(runtime: Runtime) -> None:
    """A clean stop records its time, so the next start measures the real downtime."""
    try:
        await heartbeat.mark_alive_now(runtime)
    except Exception as exc:
        log.warning("could not record the stop time (%s)", cause_of(exc))


async def _reload(context: Any) -> None:
    runtime: Runtime = context.application.bot_data[RUNTIME_KEY]
    await runtime.reload_stored_settings()
    await _tell_maintenance_from_the_command_line(context.application, runtime)


async def _tell_maintenance_from_the_command_line(app: Any, runtime: Runtime) -> None:
    """Windows planned or cancelled with `flexus-bot maintenance`: every team chat is told,
    once, and their moments go on the job queue."""
    now, tz = runtime.clock.now(), runtime.tz
    async with runtime.sessions() as session:
        untold = await maintenance.tell_untold(session, now=now)
        said = [texts.maintenance_planned(p, tz) for p in untold.planned]
        said += [texts.maintenance_cancelled(p, why, tz) for p, why in untold.cancelled]
        for text in said:
            for chat_id in runtime.team_chat_ids:
                outbox.send(session, chat_id, text, priority=outbox.NEWS, now=now)
        await session.commit()
    if said:
        runtime.wake_delivery()
    if untold.planned:
        await arm_pending(app)


async def _housekeeping(context: Any) -> None:
    """The inbox and the outbox keep a week of settled rows; older ones are deleted. The
    holidays of last year to next year stay loaded as the year turns."""
    runtime: Runtime = context.application.bot_data[RUNTIME_KEY]
    before = runtime.clock.now() - KEEP_SETTLED
    async with runtime.sessions() as session:
        updates = await inbox.prune(session, before)
        messages = await outbox.prune(session, before)
        await session.commit()
    if updates or messages:
        log.info("housekeeping: forgot %d old updates and %d sent messages", updates, messages)
    try:
        await holiday_dates.ensure(runtime, holiday_dates.years_around_today(runtime))
    except Exception as exc:  # tried again in an hour; the dates loaded so far still hold
        log.warning("could not load the holidays of the coming year: %s", exc)
    async with runtime.sessions() as session:
        windows = await maintenance.keep_recurring(
            session, now=runtime.clock.now(), protocol=runtime.protocol
        )
        await session.commit()
    if windows:
        await arm_pending(context.application)


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
                "cannot reach Telegram at start-up (%s); trying again in %.0f s "
                "(behind a proxy? set HTTPS_PROXY)",
                cause_of(exc, telegram=True),
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
        web = WebServer(
            runtime,
            host=settings.http_host,
            port=settings.http_port or DEFAULT_WEBHOOK_PORT,
            polling=False,
            intake=intake,
            webhook_path=WEBHOOK_PATH,
            secret=settings.webhook_secret,
        )
        await web.start()  # listening before Telegram is told where to post
        await app.bot.set_webhook(
            url + WEBHOOK_PATH,
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
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
    poller = Poller(intake, on_conflict=lambda: _tell_token_conflict(runtime))
    return health, asyncio.create_task(poller.run(), name="polling")


async def _tell_token_conflict(runtime: Runtime) -> None:
    """Another copy of the bot takes the updates: each admin hears it once, privately."""
    if not runtime.fence.held:  # this copy lost the lease: the other one is the active copy
        return
    now = runtime.clock.now()
    async with runtime.sessions() as session:
        for admin in runtime.admin_ids:
            text = texts.token_conflict(now, runtime.tz)
            outbox.send(session, admin, text, priority=outbox.NEWS, now=now)
        await session.commit()
    runtime.wake_delivery()
