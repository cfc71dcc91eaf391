"""Timers on PTB's JobQueue: armed from stored rows at start and whenever a use case adds one.

Each timer kind is registered by its feature's handler module as a pair: a service call that
decides and writes (`decide`, returning what happened, or None when there is nothing to tell),
then an announcement that only renders and sends what was decided. A job claims its row and
runs the pair inside one step (one transaction); the claim is a conditional UPDATE, so a timer
fires once even if it was armed twice or overdue.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application, CallbackContext

from bot.core.fence import LeaseLost
from bot.runtime import Runtime
from bot.storage.unit_of_work import step_scope
from bot.timers import store as timers
from bot.timers.store import DueTimer
from models.vocab import TimerKind

log = logging.getLogger(__name__)

RUNTIME_KEY = "runtime"
HANDLERS_KEY = "timer_handlers"
R = TypeVar("R")


@dataclass(frozen=True)
class TimerHandler(Generic[R]):
    decide: Callable[[Runtime, AsyncSession, DueTimer], Awaitable[R | None]]
    announce: Callable[[Any, R], Awaitable[None]] | None


def register_timer(
    application: Application[Any, Any, Any, Any, Any, Any],
    kind: TimerKind,
    decide: Callable[[Runtime, AsyncSession, DueTimer], Awaitable[R | None]],
    announce: Callable[[Any, R], Awaitable[None]] | None = None,
) -> None:
    """What a timer of this kind does: `decide` (a service call), then `announce` its result."""
    handlers = application.bot_data.setdefault(HANDLERS_KEY, {})
    handlers[kind] = TimerHandler(decide, announce)


def _job_name(timer_id: int) -> str:
    return f"timer-{timer_id}"


async def arm_pending(
    application: Application[Any, Any, Any, Any, Any, Any], *, min_delay: float = 0.0
) -> int:
    """Put every pending timer not yet on the JobQueue on it; overdue ones run at once.

    At start-up `min_delay` holds overdue timers back a moment, so that updates Telegram kept
    while the bot was down (a vote, a report) are handled before the deadline decides.
    """
    runtime: Runtime = application.bot_data[RUNTIME_KEY]
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("the job queue is missing: install python-telegram-bot[job-queue]")
    async with runtime.read_session() as session:
        due = await timers.pending(session)
    armed = 0
    for timer in due:
        name = _job_name(timer.id)
        if job_queue.get_jobs_by_name(name):
            continue
        job_queue.run_once(
            _fire,
            when=max(min_delay, runtime.clock.seconds_until(timer.due_at)),
            data=timer.id,
            name=name,
            job_kwargs={"misfire_grace_time": None},
        )
        armed += 1
    return armed


async def _fire(context: CallbackContext[Any, Any, Any, Any]) -> None:
    runtime: Runtime = context.application.bot_data[RUNTIME_KEY]
    timer_id = context.job.data if context.job else None
    if not isinstance(timer_id, int) or not runtime.fence.held:
        return
    await fire_timer(context, runtime, timer_id)


async def fire_timer(context: Any, runtime: Runtime, timer_id: int) -> bool:
    """Claim the timer and run its handler as one step: the claim, the state change and the
    messages it causes commit together, so a crash re-fires it rather than losing a reminder."""
    session = runtime.step_session()
    try:
        async with step_scope(session, runtime) as step:
            timer = await timers.claim(session, timer_id=timer_id, now=runtime.clock.now())
            if timer is None:
                return False  # cancelled, or fired already
            handler = context.application.bot_data.get(HANDLERS_KEY, {}).get(timer.kind)
            if handler is None:
                log.error("no handler for timer kind %r (timer %s)", timer.kind, timer.id)
            else:
                decided = await handler.decide(runtime, session, timer)
                if decided is not None and handler.announce is not None:
                    await handler.announce(context, decided)
            await session.commit_step()
        await step.run_after_commit()
    except LeaseLost as exc:  # another copy is active now: the timer is its to fire
        await session.rollback_step()
        log.warning("timer %s left to the active copy (%s)", timer_id, exc)
        return False
    except Exception:
        await session.rollback_step()
        if not runtime.fence.held:  # a copy that lost the lease: the timer is the active one's
            log.warning("timer %s left to the active copy", timer_id)
            return False
        # Logged once and marked fired: a timer whose step fails must not fail forever.
        log.exception("timer %s failed; it will not fire again", timer_id)
        async with runtime.sessions() as own:
            await timers.claim(own, timer_id=timer_id, now=runtime.clock.now())
            await own.commit()
        return False
    finally:
        await session.close()
    runtime.wake_delivery()
    await arm_pending(context.application)  # reminders the handler scheduled
    return True
