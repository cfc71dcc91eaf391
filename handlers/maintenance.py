"""/mantenimiento: planned maintenance of FLEXUS, from the chat (admins and Gerencia), its
announcements to every team chat, and a /caido held while one is under way."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CommandHandler

from bot import texts
from bot.protocol import maintenance
from bot.protocol.maintenance import (
    CancelWindow,
    EndNow,
    ListWindows,
    MaintenanceRefused,
    MoveEnd,
    Planned,
    PlanWindow,
)
from bot.runtime import Runtime
from bot.team import admin
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.kit import buttons
from handlers.kit.cards import broadcast
from handlers.kit.context import NEW_MESSAGES, Context, is_anonymous, is_private
from handlers.kit.guards import allowed_here
from handlers.kit.replies import reply
from models.vocab import AdminActionKind, MaintenanceSource, TimerKind

COMMAND_ARGS = re.compile(r"^/\w+(?:@\w+)?\s*", re.IGNORECASE)


def may_plan(rt: Runtime, user_id: int) -> bool:
    """Admins and Gerencia plan maintenance (Gerencia is who hears of it from the vendor)."""
    return rt.is_admin(user_id) or any(c.telegram_id == user_id for c in rt.protocol.gerencia)


async def mantenimiento(update: Update, context: Context) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    if not await allowed_here(update, context, private_ok=True):
        return
    rt = context.runtime
    if is_anonymous(update) or not may_plan(rt, user.id):
        await reply(update, texts.MAINTENANCE_ONLY_ADMINS)
        return
    now = rt.clock.now()
    try:
        command = maintenance.parse(COMMAND_ARGS.sub("", message.text or "", count=1), now, rt.tz)
        async with rt.session() as session:
            text = await _carry_out(rt, session, command, user.id, user.full_name)
    except MaintenanceRefused as refused:
        await reply(update, texts.maintenance_problem(refused.problem, refused.other, rt.tz))
        return
    if text is None:  # the list: for the person who asked
        async with rt.read_session() as session:
            coming = await maintenance.upcoming(session, now)
        await reply(update, texts.maintenance_list(coming, now, rt.tz))
        return
    await broadcast(context, text)
    if is_private(update):
        await reply(update, text)


async def _carry_out(
    rt: Runtime, session: AsyncSession, command: Any, user_id: int, name: str
) -> str | None:
    """Store what the command asks; the announcement for every team chat (None: a list)."""
    now, tz = rt.clock.now(), rt.tz
    if isinstance(command, ListWindows):
        return None
    if isinstance(command, PlanWindow):
        planned = await maintenance.plan_window(
            session,
            start=command.start,
            end=command.end,
            reason=command.reason,
            source=MaintenanceSource.CHAT,
            by=user_id,
            now=now,
            protocol=rt.protocol,
        )
        _record(session, rt, AdminActionKind.PLAN_MAINTENANCE, user_id, name, planned)
        return texts.maintenance_planned(planned, tz)
    if isinstance(command, CancelWindow):
        planned = await maintenance.cancel_window(
            session, window_id=command.window_id, reason=command.reason, by=user_id, now=now
        )
        _record(session, rt, AdminActionKind.CANCEL_MAINTENANCE, user_id, name, planned)
        return texts.maintenance_cancelled(planned, command.reason, tz)
    if isinstance(command, EndNow):
        await maintenance.end_now(session, now=now)
        return texts.MAINTENANCE_ENDED
    assert isinstance(command, MoveEnd)
    planned = await maintenance.move_end(session, end=command.end, now=now, protocol=rt.protocol)
    return texts.maintenance_moved(planned, tz)


def _record(
    session: AsyncSession,
    rt: Runtime,
    action: AdminActionKind,
    user_id: int,
    name: str,
    planned: Planned,
) -> None:
    admin.record(
        session,
        action=action,
        now=rt.clock.now(),
        actor_id=user_id,
        actor_name=name,
        detail=f"#{planned.id} {planned.starts_at.isoformat()} – {planned.ends_at.isoformat()}",
    )


# --- a /caido during a window ---------------------------------------------------------------------
async def hold_report(update: Update, context: Context, planned: Planned) -> None:
    """Maintenance is planned until HH:MM: the group is not alerted unless the person says it
    is something else."""
    markup = InlineKeyboardMarkup(
        [
            [
                buttons.MaintenanceReport(update.update_id, planned.id).key(
                    texts.MAINTENANCE_REPORT_ANYWAY
                )
            ]
        ]
    )
    await reply(update, texts.maintenance_held_report(planned, context.runtime.tz), markup)


# --- the announcements, one stored timer each --------------------------------------------------
async def window_still_planned(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> Planned | None:
    """A window's moment fell due: the window, unless it was cancelled meanwhile."""
    return await maintenance.moment_due(session, window_id=int(timer.payload["window"]))


async def announce_reminder(context: Context, planned: Planned) -> None:
    rt = context.runtime
    await broadcast(context, texts.maintenance_reminder(planned, rt.clock.now(), rt.tz))


async def announce_start(context: Context, planned: Planned) -> None:
    await broadcast(context, texts.maintenance_started(planned, context.runtime.tz))


async def announce_end(context: Context, planned: Planned) -> None:
    await broadcast(context, texts.MAINTENANCE_ENDED)


def register(app: Application) -> None:
    register_timer(
        app,
        TimerKind.MAINTENANCE_REMINDER,
        window_still_planned,
        announce_reminder,
    )
    register_timer(app, TimerKind.MAINTENANCE_START, window_still_planned, announce_start)
    register_timer(app, TimerKind.MAINTENANCE_END, window_still_planned, announce_end)
    app.add_handler(CommandHandler("mantenimiento", mantenimiento, filters=NEW_MESSAGES))
