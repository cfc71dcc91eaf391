"""build_application: the one place that wires handlers, jobs and shared resources together."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.exc import DBAPIError
from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseUpdateProcessor,
    Defaults,
)
from telegram.request import HTTPXRequest

from bot import texts
from bot.core.clock import Clock
from bot.core.config import Config
from bot.core.fence import Fence, LeaseLost
from bot.runtime import Runtime
from bot.storage import lease
from bot.storage.db import is_sqlite, leased_engine_options, make_engine, make_session_factory
from bot.storage.unit_of_work import step_scope
from bot.support import holiday_dates
from bot.team.members import sync_team_chats
from bot.timers.jobs import RUNTIME_KEY, arm_pending
from bot.transport import inbox, outbox
from bot.transport.http_pool import keep_sockets
from handlers import (
    access,
    allclear,
    backups,
    checks,
    coordination,
    drills,
    follow_ups,
    history,
    info,
    local,
    maintenance,
    report,
    sector,
    status,
    validation,
    votes,
)
from handlers import (
    admin as admin_handlers,
)
from handlers import (
    chats as chat_handlers,
)
from handlers.kit import cards, errors, prompts
from handlers.kit.context import CONTEXT_TYPES
from models.vocab import MessageKind

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]
# Overdue timers wait this long after start-up so the backlog of updates is handled first.
STARTUP_GRACE_SECONDS = 3.0
CONCURRENT_UPDATES = 16
STEP_TRIES = 3  # a step that fails on a database error (locked, connection lost) is run again


class PerPersonOrder(BaseUpdateProcessor):
    """Different people's updates run side by side; one person's run in the order they sent them.

    Side by side, one slow step does not delay everyone else's button answers (the database
    decides every race). In order per person, a reply to the bot's question is never read
    before the question was recorded. Each update runs as one step (see `bot.storage.unit_of_work`).
    """

    def __init__(
        self,
        max_concurrent_updates: int,
        handle: Callable[[object, Awaitable[Any]], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._handle = handle or _just_run
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # person -> (lock, updates in line)
        # chat -> done when its /habilitar or /deshabilitar is: what came after it in that chat
        # (a backlog after a restart) waits, so it is handled as the chat is then.
        self._settings_changes: dict[int, asyncio.Event] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        earlier = self._settings_changes.get(chat.id) if chat is not None else None
        change = None
        if chat is not None and _changes_chat_settings(update):
            change = self._settings_changes[chat.id] = asyncio.Event()
        try:
            if earlier is not None:
                await earlier.wait()
            await self._in_person_order(update, coroutine)
        finally:
            if change is not None and chat is not None:
                change.set()
                if self._settings_changes.get(chat.id) is change:
                    del self._settings_changes[chat.id]

    async def _in_person_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await self._handle(update, coroutine)
            return
        lock, waiting = self._locks.get(user.id, (asyncio.Lock(), 0))
        self._locks[user.id] = (lock, waiting + 1)
        try:
            async with lock:
                await self._handle(update, coroutine)
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


CHAT_SETTINGS = re.compile(r"^/(?:des)?habilitar(?:@\w+)?(?:\s|$)", re.IGNORECASE)


def _changes_chat_settings(update: object) -> bool:
    """/habilitar or /deshabilitar: whether the chat is a team chat changes with it."""
    message = update.effective_message if isinstance(update, Update) else None
    return bool(message is not None and CHAT_SETTINGS.match(message.text or ""))


async def _just_run(_update: object, coroutine: Awaitable[Any]) -> None:
    await coroutine


async def handle_update(runtime: Runtime, update: object, coroutine: Any) -> None:
    """Handle one update as one step: its effects, its messages and its inbox mark commit
    together. An update already handled (stored twice, replayed) is not handled again."""
    try:
        await _handle_update(runtime, update, coroutine)
    finally:
        runtime.in_flight.finished()


async def _handle_update(runtime: Runtime, update: object, coroutine: Any) -> None:
    update_id = update.update_id if isinstance(update, Update) else None
    if not runtime.fence.held:  # this copy stopped being the active one: not its update
        coroutine.close()
        return
    if update_id is not None and update_id in runtime.fresh_updates:
        runtime.fresh_updates.discard(update_id)  # stored just now: not handled yet
    elif update_id is not None:
        async with runtime.read_session() as session:
            if await inbox.status_of(session, update_id) in (inbox.HANDLED, inbox.SKIPPED):
                coroutine.close()
                return
    failure: BaseException | None = None
    for attempt in range(STEP_TRIES):
        if attempt:
            coroutine = runtime.application.process_update(update)
            await asyncio.sleep(0.2 * attempt)
        failure = await _run_step(runtime, update_id, coroutine)
        if failure is None:
            runtime.stats.updates_handled += 1
            return
        if isinstance(failure, LeaseLost) or not runtime.fence.held:
            # Another copy is active now (this one was paused, or cut off): it handles the
            # update, and this one neither skips it nor tells anyone.
            log.warning("update %s left to the active copy (%s)", update_id, failure)
            return
        if not isinstance(failure, DBAPIError):
            break
    runtime.stats.updates_skipped += 1
    kind = _kind(update)
    log.error(
        "skipped update %s (%s): its handler failed (%s: %s)",
        update_id,
        kind,
        type(failure).__name__,
        str(failure).splitlines()[0][:200] if str(failure) else "",
    )
    log.debug("the failure in detail", exc_info=failure)
    # The step is gone: the skip and the notice to the person are a transaction of their own
    # (a message goes through the outbox like any other; a button is answered directly).
    query = update.callback_query if isinstance(update, Update) else None
    message = update.effective_message if isinstance(update, Update) else None
    async with runtime.sessions() as session:
        if update_id is not None:
            await inbox.mark(session, update_id, inbox.SKIPPED, runtime.clock.now())
        if query is None and message is not None:
            outbox.send(
                session,
                message.chat_id,
                texts.SOMETHING_FAILED,
                priority=outbox.CHATTER,
                now=runtime.clock.now(),
                reply_to=message.message_id,
            )
        await session.commit()
    runtime.wake_delivery()
    if query is not None:
        try:
            await query.answer(texts.alert(texts.SOMETHING_FAILED), show_alert=True)
        except TelegramError as exc:
            log.info("could not tell the person about the failure: %s", exc)


async def _run_step(
    runtime: Runtime, update_id: int | None, coroutine: Any
) -> BaseException | None:
    session = runtime.step_session()
    try:
        async with step_scope(session, runtime, update_id) as step:
            try:
                await coroutine
            except Exception as exc:  # PTB routes handler errors to on_error; this is a safety net
                step.failed = exc
            if step.failed is not None:
                await session.rollback_step()
                return step.failed
            if update_id is not None:
                await _mark_handled(runtime, session, update_id)
            await session.commit_step()
    except (DBAPIError, LeaseLost) as exc:
        await session.rollback_step()
        return exc
    finally:
        await session.close()
    await step.run_after_commit()
    if step.wrote_outbox:
        runtime.wake_delivery()
    if step.added_timers:
        await arm_pending(runtime.application)
    return None


async def _mark_handled(runtime: Runtime, session: Any, update_id: int) -> None:
    """With several copies, only an update still waiting is marked: if another copy handled it
    meanwhile (this one was paused), this step is undone."""
    fence = runtime.fence
    if not fence.leased:
        await inbox.mark(session, update_id, inbox.HANDLED, runtime.clock.now())
        return
    assert fence.copy_id is not None and fence.epoch is not None
    fence.check()
    marked = await inbox.mark(
        session,
        update_id,
        inbox.HANDLED,
        runtime.clock.now(),
        only_waiting=True,
        holding=lease.holds(me=fence.copy_id, epoch=fence.epoch),
    )
    if not marked:
        raise LeaseLost(f"update {update_id}: handled by another copy, or the lease is gone")
    session.info["lease_checked"] = True  # this transaction saw the lease: no second look


def _kind(update: object) -> str:
    if isinstance(update, Update):
        return inbox.kind_of(update.to_dict())
    return type(update).__name__


class GatedRequest(HTTPXRequest):
    """At most `connection_pool_size` Bot API calls handed to httpx at once; the others wait
    here, first come, first served. httpx's pool scans every waiting call against every
    connection each time one frees up: with 500 votes in flight that scan was a quarter of
    the process's time.

    With several copies, nothing leaves a copy that may no longer act (bot.core.fence): a
    handler of a copy that was paused cannot answer a press after another copy took over."""

    def __init__(
        self, *, connection_pool_size: int, fence: Fence | None = None, **kwargs: Any
    ) -> None:
        self._fence = fence or Fence()  # before the library builds its client
        super().__init__(connection_pool_size=connection_pool_size, **kwargs)
        self._gate = asyncio.Semaphore(connection_pool_size)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        async with self._gate:
            self._fence.check()
            return await super().do_request(*args, **kwargs)

    def _build_client(self) -> httpx.AsyncClient:
        """The library's client (timeouts, limits, proxies from the environment, all as it
        sets them), its own pool on connections that keep their socket at hand (see
        bot.transport.http_pool: the pool asks every idle connection before each call whether the
        server closed it)."""
        client = super()._build_client()
        keep_sockets(client, self._fence.check)
        return client


def build_application(
    config: Config, clock: Clock | None = None, fence: Fence | None = None
) -> App:
    settings = config.settings
    root = settings.telegram_api_url.rstrip("/")
    fence = fence or Fence()
    engine = make_engine(
        settings.database_url,
        **(leased_engine_options(fence.copy_id) if fence.leased else {}),
    )
    read_engine = (
        make_engine(settings.database_url, reads_only=True)
        if is_sqlite(settings.database_url)
        else None
    )
    runtime = Runtime(
        config=config,
        engine=engine,
        read_engine=read_engine,
        sessions=make_session_factory(engine),
        clock=clock or Clock.from_setting(settings.flexus_now),
        fence=fence,
    )
    timeout = settings.telegram_timeout_seconds
    # One TLS context for both clients, made as httpx makes its own (certifi, or SSL_CERT_FILE /
    # SSL_CERT_DIR): loading the certificates is some 30 ms of CPU at each start, per client.
    tls = {"verify": httpx.create_ssl_context()}
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=runtime.tz))
        .updater(None)  # updates come through the inbox (bot.transport.intake), not PTB's Updater
        .context_types(CONTEXT_TYPES)  # handlers get `context.runtime`, typed
        .concurrent_updates(
            PerPersonOrder(CONCURRENT_UPDATES, functools.partial(handle_update, runtime))
        )
        .request(
            GatedRequest(
                connection_pool_size=16,
                fence=fence,
                httpx_kwargs=tls,
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
                pool_timeout=timeout,
            )
        )
        .get_updates_request(
            GatedRequest(  # fenced too: a copy that lost the lease polls no more
                connection_pool_size=2,
                fence=fence,
                httpx_kwargs=tls,
                read_timeout=timeout,
                connect_timeout=timeout,
            )
        )
    )
    app = builder.build()
    runtime.card_renderers[MessageKind.ALERT] = cards.render_alert_card
    runtime.card_renderers[MessageKind.PANEL] = cards.render_panel
    runtime.card_renderers[MessageKind.SECTOR_QUESTION] = sector.render_sector_question
    runtime.application = app
    app.bot_data[RUNTIME_KEY] = runtime

    # Commands and buttons, in protocol order. `errors` goes last: it answers leftover buttons.
    report.register(app)  # 1–2: /caido opens or joins the incident, alert to every chat
    votes.register(app)  # 3: confirmation poll on the alert card
    local.register(app)  # 4: local checklist, escalate anyway
    coordination.register(app)  # 5: claim, /contactado, hand over
    status.register(app)  # 5–7: /novedad, news to every team chat with the next one's time
    access.register(app)  # 6: server access through Gerencia
    validation.register(app)  # 7: each sector confirms FLEXUS works
    allclear.register(app)  # 8: /resuelto, "Entendido", summary
    prompts.register(app)  # replies to the bot's questions (ticket number, reasons)
    backups.register(app)  # housekeeping timers: the daily backup
    maintenance.register(app)  # planned maintenance: /mantenimiento and its announcements
    checks.register(app)  # the bot's own checks: /chequeos, incidents they open, the morning
    info.register(app)  # /soporte, /estado, /ayuda, /start, /help
    sector.register(app)  # /sector
    chat_handlers.register(app)  # members joining and leaving; a group becoming a supergroup
    admin_handlers.register(app)  # /habilitar, /deshabilitar, /gerencia (admins)
    history.register(app)  # memory: /historial, /informe, /metricas, /proveedor, /exportar
    follow_ups.register(app)  # after: /seguimiento, /pendientes, reminders on the due date
    drills.register(app)  # /simulacro, and the drills the protocol file schedules
    errors.register(app)
    return app


async def start_up(app: App) -> None:
    """Before updates flow: team chats from the database, the command list, stored timers."""
    runtime: Runtime = app.bot_data[RUNTIME_KEY]
    # The holidays (a child process on a first start) load while the rest starts up.
    holidays = asyncio.create_task(
        holiday_dates.ensure(runtime, holiday_dates.years_around_today(runtime))
    )
    try:
        async with runtime.sessions() as session:
            await sync_team_chats(
                session,
                chat_ids=runtime.config.settings.team_chat_ids,
                chat_sectors=runtime.protocol.team.chat_sectors,
                now=runtime.clock.now(),
            )
            await session.commit()
        await runtime.reload_stored_settings()
        try:
            await app.bot.set_my_commands([BotCommand(c, d) for c, d in texts.COMMANDS])
        except TelegramError as exc:
            log.warning("could not set the command list (the bot works without it): %s", exc)
    except BaseException:
        holidays.cancel()
        raise
    await holidays  # before any timer or update may ask whether support is open
    armed = await arm_pending(app, min_delay=STARTUP_GRACE_SECONDS)
    if not runtime.team_chat_ids:
        log.warning(
            "no team chat is enabled yet: an admin of the bot writes /habilitar in each group "
            "(or list the groups in TEAM_CHAT_IDS); until then every group is refused"
        )
    log.info(
        "FLEXUS Guardia started: %d team chats, %d timers re-armed",
        len(runtime.team_chat_ids),
        armed,
    )
