"""Housekeeping timers: the daily backup of the SQLite database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.backup import schedule_daily_backup, take_daily_backup
from bot.jobs import RUNTIME_KEY, register_timer_handler
from bot.runtime import Runtime
from bot.steps import current_step
from bot.timers import DueTimer
from bot.vocab import TimerKind


async def daily_backup(context: Any, session: AsyncSession, timer: DueTimer) -> None:
    """Schedule tomorrow's copy in this step; take today's once the step has committed (the
    copy reads the database, it must not hold the step's write lock meanwhile)."""
    runtime: Runtime = context.application.bot_data[RUNTIME_KEY]
    now = runtime.clock.now()
    await schedule_daily_backup(session, config=runtime.config, now=now)
    step = current_step()

    async def copy() -> None:
        await take_daily_backup(runtime.config, now=now)

    if step is not None:
        step.after_commit(copy)
    else:
        await copy()


def register(app: Any) -> None:
    register_timer_handler(app, TimerKind.DAILY_BACKUP, daily_backup)
