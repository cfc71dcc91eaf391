"""Server access through Gerencia: ask privately (or in the group), repeat, escalate, record."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from bot.access import AccessRound, access_repeat_due, grant_access, request_access
from bot.jobs import register_timer
from bot.runtime import Runtime
from bot.timers import DueTimer
from bot.vocab import TimerKind
from handlers import buttons
from handlers.cards import broadcast, refresh_cards, tell_coordinator
from handlers.common import (
    CRITICAL,
    Context,
    answer_query,
    parse_button,
    person_of,
    run_step,
    send,
)


def grant_markup(incident_id: int, tools: list[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [buttons.GrantAccess(incident_id, i).key(texts.granted_button(tool))]
            for i, tool in enumerate(tools)
        ]
    )


async def ask_gerencia(context: Context, access: AccessRound) -> None:
    """Each contact privately; those the bot cannot reach are mentioned in the team chats.

    A contact with no Telegram id is mentioned at once; one who never started the bot is
    found out when the private message is refused, and then mentioned in every team chat.
    """
    rt = context.runtime
    tools = rt.protocol.access.remote_tools
    markup = grant_markup(access.incident_id, tools)
    username = context.bot.username
    unknown: list[tuple[int, str]] = []
    for contact in access.contacts:
        if not contact.telegram_id:
            unknown.append((0, contact.name))
            continue
        text = texts.access_request(
            access.incident_id, contact.name, access.coordinator, tools, access.round
        )
        in_group = texts.access_in_group(
            access.incident_id, [(contact.telegram_id, contact.name)], tools, username, access.round
        )
        await send(
            context,
            contact.telegram_id,
            text,
            markup,
            priority=CRITICAL,
            fallback=[(chat_id, in_group, markup) for chat_id in rt.team_chat_ids],
        )
    if unknown:
        await broadcast(
            context,
            texts.access_in_group(access.incident_id, unknown, tools, username, access.round),
            markup,
            priority=CRITICAL,
        )


async def request_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.RequestAccess)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    access = await run_step(
        update,
        context,
        request_access,
        incident_id=incident_id,
        user_id=query.from_user.id,
        is_admin=rt.is_admin(query.from_user.id),
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if access is None:
        return
    names = [c.name for c in access.contacts]
    await answer_query(query, texts.alert(texts.access_requested(names)), alert=True)
    await ask_gerencia(context, access)
    await refresh_cards(context, incident_id)


async def granted_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.GrantAccess)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    tools = rt.protocol.access.remote_tools
    if pressed.tool >= len(tools):
        await answer_query(query, texts.STALE_BUTTON, alert=True)
        return
    tool = tools[pressed.tool]
    name = await run_step(
        update,
        context,
        grant_access,
        incident_id=incident_id,
        person=person_of(query.from_user),
        is_admin=rt.is_admin(query.from_user.id),
        tool=tool,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if name is None:
        return
    await answer_query(query, texts.ACCESS_THANKS)
    at = texts.clock_time(rt.clock.now(), rt.tz)
    await broadcast(context, texts.access_granted(name, tool, incident_id, at))
    await refresh_cards(context, incident_id)


# --- nobody in Gerencia answered yet -----------------------------------------------------------


async def access_repeat(rt: Runtime, session: AsyncSession, timer: DueTimer) -> AccessRound | None:
    return await access_repeat_due(
        session,
        incident_id=timer.incident,
        round_number=int(timer.payload.get("round", 1)),
        now=rt.clock.now(),
        protocol=rt.protocol,
    )


async def announce_repeat(context: Context, access: AccessRound) -> None:
    """Ask again; tell the coordinator when backups join or when it gives up."""
    await _repeat_request(context, access)
    await refresh_cards(context, access.incident_id)


async def _repeat_request(context: Context, access: AccessRound) -> None:
    if access.gave_up:
        await tell_coordinator(
            context, access.incident_id, texts.ACCESS_NO_ANSWER, priority=CRITICAL
        )
        return
    await ask_gerencia(context, access)
    if access.round == context.runtime.protocol.deadlines.access_escalate_after + 1:
        backups = [c.name for c in access.contacts if c.backup]
        if backups:
            await tell_coordinator(
                context, access.incident_id, texts.access_escalated(backups), priority=CRITICAL
            )


def register(app: Application) -> None:
    register_timer(app, TimerKind.ACCESS_REPEAT, access_repeat, announce_repeat)
    app.add_handler(CallbackQueryHandler(request_pressed, pattern=buttons.RequestAccess.pattern()))
    app.add_handler(CallbackQueryHandler(granted_pressed, pattern=buttons.GrantAccess.pattern()))
