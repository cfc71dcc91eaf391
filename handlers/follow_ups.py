"""/seguimiento and /pendientes: what was promised after an incident, and its reminder."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.protocol.follow_ups import (
    FollowUpView,
    add_follow_up,
    close_follow_up,
    due_follow_up,
    open_follow_ups,
    split_due,
)
from bot.protocol.lifecycle import get_incident
from bot.runtime import Runtime
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.kit import buttons
from handlers.kit.context import NEW_MESSAGES, Context, is_anonymous, replied_to
from handlers.kit.guards import allowed_here, parse_button
from handlers.kit.replies import Markup, answer_query, reply, run_in_transaction, send
from models.vocab import TimerKind

COMMAND = re.compile(r"^/seguimientos?(?:@\w+)?\s*", re.IGNORECASE)
DONE = re.compile(r"^hecho\s+#?(\d{1,9})\s*$", re.IGNORECASE)
ADD = re.compile(r"^#?(\d{1,9})\s+(\S.*)$", re.DOTALL)
LISTED_BUTTONS = 8  # /pendientes: a "✅ N" button for the first ones


async def seguimiento(update: Update, context: Context) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    if not await allowed_here(update, context, private_ok=True):
        return
    args = COMMAND.sub("", message.text or "", count=1).strip()
    rt = context.runtime
    done = DONE.match(args)
    if done is not None:
        closed = await run_in_transaction(
            update,
            context,
            close_follow_up,
            follow_up_id=int(done[1]),
            user_id=user.id,
            is_admin=rt.is_admin(user.id),
            now=rt.clock.now(),
        )
        if closed is not None:
            await reply(update, texts.follow_up_closed(closed.follow_up, closed.already))
        return
    added = ADD.match(args)
    if added is None:
        await reply(update, texts.FOLLOW_UP_HOW)
        return
    split = split_due(added[2], rt.clock.now().astimezone(rt.tz).date())
    if split is None:
        await reply(update, texts.FOLLOW_UP_BAD_DATE)
        return
    text, due_on = split
    if not text:
        await reply(update, texts.FOLLOW_UP_HOW)
        return
    # Written as a reply to someone's message: that person owns it; else whoever wrote it.
    answered = replied_to(message)
    owner = answered.from_user if answered is not None else None
    if owner is None or owner.is_bot or is_anonymous(update):
        owner = user
    view = await run_in_transaction(
        update,
        context,
        add_follow_up,
        incident_id=int(added[1]),
        text=text,
        owner_id=owner.id,
        owner_name=owner.full_name,
        author_id=user.id,
        due_on=due_on,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if view is not None:
        await reply(update, texts.follow_up_added(view))


async def pendientes(update: Update, context: Context) -> None:
    if not await allowed_here(update, context, private_ok=True, needs_person=False):
        return
    rt = context.runtime
    async with rt.read_session() as session:
        views = await open_follow_ups(session)
    if not views:
        await reply(update, texts.NO_FOLLOW_UPS)
        return
    keys = [
        buttons.FollowUpDone(v.id).key(f"{texts.BUTTON_FOLLOW_UP_DONE} {v.id}")
        for v in views[:LISTED_BUTTONS]
    ]
    markup = InlineKeyboardMarkup([keys[i : i + 4] for i in range(0, len(keys), 4)])
    today = rt.clock.now().astimezone(rt.tz).date()
    await reply(update, texts.pending_follow_ups(views, today), markup)


async def done_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.FollowUpDone)
    if parsed is None:
        return
    query, pressed = parsed
    rt = context.runtime
    closed = await run_in_transaction(
        update,
        context,
        close_follow_up,
        follow_up_id=pressed.follow_up_id,
        user_id=query.from_user.id,
        is_admin=rt.is_admin(query.from_user.id),
        now=rt.clock.now(),
    )
    if closed is not None:
        await answer_query(
            query, texts.alert(texts.follow_up_closed(closed.follow_up, closed.already))
        )


@dataclass(frozen=True)
class Reminder:
    follow_up: FollowUpView
    origin_chat_id: int  # where the incident was reported: if the owner never pressed Start


async def remind_owner_if_still_open(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> Reminder | None:
    view = await due_follow_up(session, timer)
    if view is None:
        return None  # done meanwhile
    incident = await get_incident(session, view.incident_id, open_only=False)
    return Reminder(view, incident.origin_chat_id)


async def write_reminder(context: Context, reminder: Reminder) -> None:
    """Privately to its owner, with the button to close it; in the group the incident was
    reported in, naming them, if they never pressed Start."""
    view = reminder.follow_up
    markup = InlineKeyboardMarkup(
        [[buttons.FollowUpDone(view.id).key(texts.BUTTON_FOLLOW_UP_DONE)]]
    )
    text = texts.follow_up_reminder(view)
    named = f"{texts.mention(view.owner_id, view.owner_name)}: {text}"
    fallback: list[tuple[int, str, Markup]] = [(reminder.origin_chat_id, named, markup)]
    await send(context, view.owner_id, text, markup, fallback=fallback)


def register(app: Application) -> None:
    register_timer(app, TimerKind.FOLLOW_UP_DUE, remind_owner_if_still_open, write_reminder)
    app.add_handler(
        CommandHandler(["seguimiento", "seguimientos"], seguimiento, filters=NEW_MESSAGES)
    )
    app.add_handler(CommandHandler("pendientes", pendientes, filters=NEW_MESSAGES))
    app.add_handler(CallbackQueryHandler(done_pressed, pattern=buttons.FollowUpDone.pattern()))
