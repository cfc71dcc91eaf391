"""Housekeeping timers: the daily backup of the SQLite database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ops.backup import schedule_daily_backup, take_daily_backup
from bot.runtime import Runtime
from bot.storage.unit_of_work import current_step
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.kit.context import Context
from models.vocab import TimerKind


async def schedule_next_backup(rt: Runtime, session: AsyncSession, timer: DueTimer) -> datetime:
    """Schedule tomorrow's copy in this step; today's is taken once the step has committed."""
    now = rt.clock.now()
    await schedule_daily_backup(session, config=rt.config, now=now)
    return now


async def copy_after_commit(context: Context, now: datetime) -> None:
    """The copy reads the database: it must not hold the step's write lock meanwhile."""
    config = context.runtime.config

    async def copy() -> None:
        await take_daily_backup(config, now=now)

    step = current_step()
    if step is not None:
        step.after_commit(copy)
    else:
        await copy()


def register(app: Any) -> None:
    register_timer(app, TimerKind.DAILY_BACKUP, schedule_next_backup, copy_after_commit)
