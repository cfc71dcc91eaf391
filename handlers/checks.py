"""The bot's own checks in the protocol: a FLEXUS check down with nobody reporting opens the
incident; one back up tells the coordinator; the card shows what they see; /chequeos lists
them; before the workday every check runs once and a problem is posted before people arrive.
During planned maintenance the checks raise nothing."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import texts
from bot.core.config import CheckSpec
from bot.ops.monitor import Seen
from bot.protocol import maintenance
from bot.protocol.incidents import open_or_join_incident
from bot.protocol.lifecycle import open_incident_id
from bot.runtime import Runtime
from bot.storage.unit_of_work import step_scope
from bot.support.workday import next_morning_check
from bot.team.members import Person
from bot.timers import store as timers
from bot.timers.jobs import RUNTIME_KEY, arm_pending, register_timer
from bot.timers.store import DueTimer
from handlers.kit.cards import broadcast, post_alert, refresh_cards, show_panel
from handlers.kit.context import NEW_MESSAGES, Context
from handlers.kit.guards import allowed_here
from handlers.kit.replies import reply
from models.vocab import CheckHealth, TimerKind

log = logging.getLogger(__name__)


async def on_transition(app: Application, spec: CheckSpec, before: Seen, after: Seen) -> None:
    """A check changed state: what it means for the protocol (nothing during maintenance)."""
    rt: Runtime = app.bot_data[RUNTIME_KEY]
    now = rt.clock.now()
    async with rt.read_session() as session:
        window = await maintenance.current_window(session, now)
        incident_id = await open_incident_id(session)
    if window is not None:
        return
    down = after.state is CheckHealth.DOWN
    if spec.role == "flexus" and down and incident_id is None:
        if rt.protocol.checks.open_incidents:
            wait = timedelta(minutes=rt.protocol.checks.open_after_minutes)
            async with rt.sessions() as session:
                timers.schedule(
                    session,
                    kind=TimerKind.CHECK_OPEN,
                    incident_id=None,
                    due_at=now + wait,
                    now=now,
                    payload={"check": spec.name},
                )
                await session.commit()
            await arm_pending(app)
        return
    if incident_id is None:
        return
    context = Context(app)
    back = spec.role == "flexus" and after.state is CheckHealth.UP
    back = back and before.state is CheckHealth.DOWN

    async def tell() -> None:
        await refresh_cards(context, incident_id)
        if back:
            news = texts.check_back_up(spec.name, after.since, rt.tz)
            await show_panel(context, incident_id, news, fresh=True)

    await as_step(rt, tell)


async def as_step(rt: Runtime, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` as a step of its own (one transaction), outside any update or timer."""
    session = rt.step_session()
    try:
        async with step_scope(session, rt) as step:
            await work()
            await session.commit_step()
        await step.run_after_commit()
    except Exception:
        log.exception("a check's step failed")
        await session.rollback_step()
    finally:
        await session.close()
    rt.wake_delivery()


# --- a FLEXUS check down and nobody reported --------------------------------------------------
async def open_if_still_down(rt: Runtime, session: AsyncSession, timer: DueTimer) -> int | None:
    """Still down, nobody reported, no maintenance: the bot opens the incident itself and asks
    the team to confirm, as for any report."""
    name = str(timer.payload.get("check", ""))
    seen = rt.monitor.seen.get(name) if rt.monitor is not None else None
    now = rt.clock.now()
    if seen is None or seen.state is not CheckHealth.DOWN or not rt.team_chat_ids:
        return None
    if await maintenance.current_window(session, now) is not None:
        return None
    if await open_incident_id(session) is not None:
        return None
    bot_id = rt.application.bot.id if rt.application is not None else 0
    result = await open_or_join_incident(
        session,
        person=Person(user_id=bot_id, full_name=texts.CHECK_REPORTER),
        chat_id=rt.team_chat_ids[0],
        chat_sector=None,
        message_id=-timer.id,  # no message: a number no message has
        text=texts.detected_by_check(name, seen.since, rt.tz),
        photo_file_id=None,
        now=now,
        protocol=rt.protocol,
    )
    return result.incident_id if result.opened else None


async def announce_opened(context: Context, incident_id: int) -> None:
    await post_alert(context, incident_id)


# --- before the workday -------------------------------------------------------------------------
async def schedule_next_morning(rt: Runtime, session: AsyncSession, timer: DueTimer) -> datetime:
    """Tomorrow's (or the next working day's) morning check, in this step."""
    now = rt.clock.now()
    timers.schedule(
        session,
        kind=TimerKind.MORNING_CHECK,
        incident_id=None,
        due_at=next_morning_check(now + timedelta(minutes=1), rt.protocol),
        now=now,
    )
    return now


async def run_morning_check(context: Context, now: datetime) -> None:
    """Every check once; a problem is posted to the team chats with the support window."""
    rt = context.runtime
    monitor = rt.monitor
    if monitor is None:
        return
    async with rt.session(refusable=False) as session:
        if await maintenance.current_window(session, now) is not None:
            return
    probes = await asyncio.gather(*(monitor.probe(spec) for spec in monitor.specs.values()))
    failing = [
        (spec, probe.reason)
        for spec, probe in zip(monitor.specs.values(), probes, strict=True)
        if not probe.ok
    ]
    if failing:
        text = texts.morning_problem(failing, now, rt.tz, rt.support_now())
        await broadcast(context, text)
    elif rt.protocol.checks.morning_all_good:
        await broadcast(context, texts.morning_all_good(now, rt.tz))


# --- /chequeos ----------------------------------------------------------------------------------
async def chequeos(update: Update, context: Context) -> None:
    if not await allowed_here(update, context, private_ok=True, needs_person=False):
        return
    rt = context.runtime
    monitor = rt.monitor
    states = monitor.states() if monitor is not None else [(c, None) for c in rt.protocol.check]
    await reply(update, texts.checks_list(states, rt.clock.now(), rt.tz))


def register(app: Application) -> None:
    runtime: Any = app.bot_data[RUNTIME_KEY]
    runtime.check_listener = functools.partial(on_transition, app)
    register_timer(app, TimerKind.CHECK_OPEN, open_if_still_down, announce_opened)
    register_timer(app, TimerKind.MORNING_CHECK, schedule_next_morning, run_morning_check)
    app.add_handler(CommandHandler("chequeos", chequeos, filters=NEW_MESSAGES))
