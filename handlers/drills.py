"""/simulacro (admins): a drill of the whole protocol, in every team chat; `/simulacro fin`
ends it; scheduled drills ([drills] in the protocol file) start by themselves."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import texts
from bot.protocol.drills import (
    ENDED_BY_A_REAL_REPORT,
    ENDED_BY_HAND,
    drill_under_way,
    end_drill,
    next_drill_at,
    start_drill,
    team_times,
)
from bot.protocol.lifecycle import Refused, member_name, open_incident_id
from bot.runtime import Runtime
from bot.storage.unit_of_work import savepoint
from bot.team.members import Person
from bot.timers import store as timers
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.kit.cards import broadcast, post_alert
from handlers.kit.context import NEW_MESSAGES, Context, chat_sector_of, person_of
from handlers.kit.guards import allowed_here
from handlers.kit.replies import CRITICAL, reply, run_in_transaction
from models.vocab import Refusal, TimerKind

log = logging.getLogger(__name__)

COMMAND = re.compile(r"^/simulacros?(?:@\w+)?\s*", re.IGNORECASE)


async def simulacro(update: Update, context: Context) -> None:
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    if not await allowed_here(update, context, private_ok=False):
        return
    rt = context.runtime
    if not rt.is_admin(user.id):
        await reply(update, texts.DRILL_ADMINS_ONLY)
        return
    args = COMMAND.sub("", message.text or "", count=1).strip().lower()
    if args in ("fin", "terminar", "stop"):
        await _end_by_hand(update, context, user.id)
        return
    if args:
        await reply(update, texts.DRILL_HOW)
        return
    started = await run_in_transaction(
        update,
        context,
        start_drill,
        person=person_of(user),
        chat_id=chat.id,
        chat_sector=chat_sector_of(update, context),
        text=texts.DRILL_REPORT,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if started is not None:
        await post_alert(context, started.incident_id)


async def _end_by_hand(update: Update, context: Context, user_id: int) -> None:
    rt = context.runtime
    async with rt.session() as session:
        ended = await end_drill(session, now=rt.clock.now(), actor=user_id, reason=ENDED_BY_HAND)
    if ended is None:
        await reply(update, texts.refusal(Refused(Refusal.NO_DRILL)))
        return
    await broadcast(context, texts.DRILL_ENDED_BY_HAND)


async def end_for_a_real_report(context: Context, user_id: int) -> bool:
    """A real report during a drill: the drill ends at once, and every team chat reads that
    this one is real (critical: it goes before the real alert, which the same step writes)."""
    rt = context.runtime
    async with rt.session(refusable=False) as session:  # a read: no savepoint for every report
        if await drill_under_way(session) is None:
            return False
    async with rt.session() as session:
        ended = await end_drill(
            session, now=rt.clock.now(), actor=user_id, reason=ENDED_BY_A_REAL_REPORT
        )
    if ended is None:
        return False
    await broadcast(context, texts.DRILL_ENDED_REAL, priority=CRITICAL)
    return True


async def drill_summary(context: Context, incident_id: int) -> str:
    """The team's times in this drill against the last one's ("" for a real incident)."""
    async with context.runtime.session(refusable=False) as session:
        times = await team_times(session, incident_id)
    return "" if times is None else texts.drill_times(*times)


# --- scheduled drills ----------------------------------------------------------------------------


async def start_scheduled_drill(rt: Runtime, session: AsyncSession, timer: DueTimer) -> int | None:
    """A scheduled drill starts, reported by the first admin in the first team chat, unless a
    real incident (or another drill) is under way; the next one is scheduled either way."""
    now = rt.clock.now()
    following = next_drill_at(now + timedelta(minutes=1), rt.protocol.drills, rt.protocol)
    if following is not None:
        timers.schedule(session, kind=TimerKind.DRILL, incident_id=None, due_at=following, now=now)
    if not rt.admin_ids or not rt.team_chat_ids:
        log.warning("a scheduled drill needs an admin and a team chat: skipped")
        return None
    if await open_incident_id(session) is not None:
        log.warning("a scheduled drill was skipped: an incident is open")
        return None
    admin = rt.admin_ids[0]
    chat_id = rt.team_chat_ids[0]
    person = Person(user_id=admin, full_name=await member_name(session, admin) or "Admin")
    try:
        async with savepoint(session):
            started = await start_drill(
                session,
                person=person,
                chat_id=chat_id,
                chat_sector=rt.chat_sector(chat_id),
                text=texts.DRILL_REPORT,
                now=now,
                protocol=rt.protocol,
            )
    except Refused as refused:
        log.warning("a scheduled drill was skipped (%s)", refused.reason)
        return None
    return started.incident_id


async def announce_scheduled_drill(context: Context, incident_id: int) -> None:
    await post_alert(context, incident_id)


def register(app: Application) -> None:
    register_timer(app, TimerKind.DRILL, start_scheduled_drill, announce_scheduled_drill)
    app.add_handler(CommandHandler(["simulacro", "simulacros"], simulacro, filters=NEW_MESSAGES))
