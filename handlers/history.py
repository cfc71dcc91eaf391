"""Memory: /historial, /informe, /metricas (with its chart), /proveedor, /exportar, and the
monthly report's timer.

Reads go through a read-only session before the step writes anything, and the chart is drawn
in a worker thread: a report never holds the database (or the event loop) while it computes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler

from bot import texts
from bot.protocol import maintenance
from bot.protocol.follow_ups import follow_ups_of
from bot.reports import export, records
from bot.reports.records import Metrics, Period
from bot.runtime import Runtime
from bot.timers.jobs import arm_pending, register_timer
from bot.timers.store import DueTimer
from bot.transport import outbox
from handlers.kit.cards import summary_text
from handlers.kit.context import NEW_MESSAGES, Context, is_anonymous
from handlers.kit.guards import allowed_here
from handlers.kit.replies import CHATTER, NEWS, reply, send
from models.vocab import TimerKind

if TYPE_CHECKING:
    from bot.reports.charts import Chart

log = logging.getLogger(__name__)
COMMAND_ARGS = re.compile(r"^/\w+(?:@\w+)?\s*", re.IGNORECASE)
INCIDENT_NUMBER = re.compile(r"^#?(\d{1,9})$")


def _args(update: Update) -> str:
    message = update.effective_message
    return COMMAND_ARGS.sub("", (message.text or "") if message else "", count=1).strip()


async def historial(update: Update, context: Context) -> None:
    """/historial [n]: the last n incidents, one line each."""
    if not await allowed_here(update, context, private_ok=True, needs_person=False):
        return
    wanted = _args(update)
    if DRILLS.fullmatch(wanted):
        await _drills(update, context)
        return
    count = records.HISTORY_DEFAULT
    if wanted:
        if not wanted.isdigit() or int(wanted) < 1:
            await reply(update, texts.HISTORY_HOW)
            return
        count = min(int(wanted), records.HISTORY_MAX)
    rt = context.runtime
    now = rt.clock.now()
    async with rt.read_session() as session:
        found = await records.incident_records(session, last=count)
        planned = await maintenance.windows_between(session, None, now)
    # The windows of the span the incidents cover (one under way when the first opened too).
    since = found[0].opened_at if found else now
    windows = [w for w in planned if w.ends_at > since]
    await reply(update, texts.history(found, now, rt.tz, windows))


DRILLS = re.compile(r"simulacros?", re.IGNORECASE)


async def _drills(update: Update, context: Context) -> None:
    """/historial simulacros: the drills, apart from the real incidents."""
    rt = context.runtime
    now = rt.clock.now()
    async with rt.read_session() as session:
        found = await records.incident_records(session, last=records.HISTORY_DEFAULT, drills=True)
    await reply(update, texts.drill_history(found, now, rt.tz))


async def informe(update: Update, context: Context) -> None:
    """/informe N: incident N in the closing summary's format, every step of its timeline."""
    if not await allowed_here(update, context, private_ok=True, needs_person=False):
        return
    number = INCIDENT_NUMBER.match(_args(update))
    if number is None:
        await reply(update, texts.INFORME_HOW)
        return
    rt, incident_id = context.runtime, int(number[1])
    async with rt.read_session() as session:
        found = await records.informe(session, incident_id, rt.protocol)
    if found is None:
        await reply(update, texts.informe_unknown(incident_id))
        return
    text = texts.informe(
        summary_text(found.summary, rt.tz),
        still_open=found.still_open,
        announced=found.announced,
    )
    async with rt.read_session() as session:
        promised = await follow_ups_of(session, incident_id)
    if promised:
        text += "\n\n" + texts.follow_ups_in_report(promised)
    await reply(update, text)


async def _period_metrics(update: Update, context: Context) -> Metrics | None:
    """The period asked for (this month by default) and its figures; None after a refusal."""
    if not await allowed_here(update, context, private_ok=True, needs_person=False):
        return None
    rt = context.runtime
    now = rt.clock.now()
    period = records.parse_period(_args(update), now.astimezone(rt.tz).date())
    if period is None:
        await reply(update, texts.PERIOD_HOW)
        return None
    async with rt.read_session() as session:
        return await records.metrics(session, period, now=now, protocol=rt.protocol)


def _chart_name(period: Period) -> str:
    return f"metricas-{period.start:%Y}{'' if period.unit == 'year' else f'-{period.start:%m}'}.png"


async def metricas(update: Update, context: Context) -> None:
    """/metricas [mes|AAAA-MM|año]: the figures, then the chart as a photo."""
    data = await _period_metrics(update, context)
    chat = update.effective_chat
    if data is None or chat is None:
        return
    await reply(update, texts.metricas(data))
    if not data.general:
        return  # the text says there was none: an empty chart adds nothing
    chart = await asyncio.to_thread(_chart, data)
    rt = context.runtime
    async with rt.session() as session:
        outbox.upload(
            session,
            chat.id,
            "photo",
            chart.png,
            _chart_name(data.period),
            texts.chart_caption(data.period),
            priority=CHATTER,
            now=rt.clock.now(),
        )


async def proveedor(update: Update, context: Context) -> None:
    """/proveedor [período]: each general failure with support's times, for the vendor."""
    data = await _period_metrics(update, context)
    if data is not None:
        await reply(update, texts.proveedor(data, context.runtime.tz))


async def exportar(update: Update, context: Context) -> None:
    """/exportar [desde] [hasta]: the incidents as a CSV for Excel, privately, admins only."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    rt = context.runtime
    if is_anonymous(update):
        await reply(update, texts.NOT_A_PERSON)
        return
    if not rt.is_admin(user.id):
        await reply(update, texts.EXPORT_ADMIN_ONLY)
        return
    words = _args(update).split()
    days = [records.parse_day(w) for w in words]
    if len(words) > 2 or any(d is None for d in days):
        await reply(update, texts.EXPORT_HOW)
        return
    since = days[0] if days else None
    until = days[1] if len(days) > 1 else None
    now, spec = rt.clock.now(), rt.protocol.support
    async with rt.read_session() as session:
        found = await export.export_records(session, since=since, until=until, spec=spec)
    data = export.to_csv(found, now=now, spec=spec)
    caption = texts.export_caption(len(found), since, until)
    private = chat.type == ChatType.PRIVATE
    if not private:
        # If the admin never opened the bot privately, Telegram refuses: the group hears why.
        press_start = texts.export_press_start(user.id, user.full_name)
        # A word first (not the caption, which the file carries): it finds out whether the
        # admin can be written to privately.
        await send(
            context,
            user.id,
            texts.EXPORT_COMING,
            priority=CHATTER,
            fallback=[(chat.id, press_start, None)],
        )
    async with rt.session() as session:
        outbox.upload(
            session,
            user.id,
            "document",
            data,
            export.file_name(now, spec),
            caption,
            priority=CHATTER,
            now=now,
        )
    if not private:
        await reply(update, texts.EXPORT_SENT_PRIVATELY)


# --- the monthly report --------------------------------------------------------------------------


async def monthly_report_if_due(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> Period | None:
    return await records.monthly_report_due(
        session, due_at=timer.due_at, now=rt.clock.now(), protocol=rt.protocol
    )


async def post_monthly_report(context: Context, period: Period) -> None:
    """The previous month's /metricas, with its chart, to every team chat."""
    rt = context.runtime
    now = rt.clock.now()
    async with rt.read_session() as reading:
        data = await records.metrics(reading, period, now=now, protocol=rt.protocol)
    # A month with no general failure says so in the text: no empty chart.
    chart = await asyncio.to_thread(_chart, data) if data.general else None
    text = texts.monthly_report(data)
    async with rt.session() as session:
        for chat_id in rt.team_chat_ids:
            outbox.send(session, chat_id, text, priority=NEWS, now=now)
            if chart is not None:
                outbox.upload(
                    session,
                    chat_id,
                    "photo",
                    chart.png,
                    _chart_name(period),
                    texts.chart_caption(period),
                    priority=NEWS,
                    now=now,
                )
    log.info("monthly report for %s posted to %d team chats", period.start, len(rt.team_chat_ids))


async def keep_monthly_report(context: Context) -> None:
    """At start: one pending monthly-report timer while `reports.monthly` is on, none when off."""
    rt = context.runtime
    async with rt.sessions() as session:
        added = await records.schedule_monthly_report(
            session, protocol=rt.protocol, now=rt.clock.now()
        )
        await session.commit()
    if added:
        await arm_pending(context.application)


def _chart(data: Metrics) -> Chart:
    """matplotlib (about 60 MB and half a second) is loaded the first time a chart is made,
    not at start-up: the bot's everyday work never needs it."""
    from bot.reports import charts

    return charts.metrics_chart(data)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("historial", historial, filters=NEW_MESSAGES))
    app.add_handler(CommandHandler("informe", informe, filters=NEW_MESSAGES))
    app.add_handler(CommandHandler("metricas", metricas, filters=NEW_MESSAGES))
    app.add_handler(CommandHandler("proveedor", proveedor, filters=NEW_MESSAGES))
    app.add_handler(CommandHandler("exportar", exportar, filters=NEW_MESSAGES))
    register_timer(app, TimerKind.MONTHLY_REPORT, monthly_report_if_due, post_monthly_report)
    if app.job_queue is not None:
        # Runs once the job queue starts (after the stored timers are re-armed).
        app.job_queue.run_once(
            keep_monthly_report,
            when=0,
            name="monthly-report-setup",
            job_kwargs={"misfire_grace_time": None},
        )
