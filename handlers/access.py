"""Server access through Gerencia: ask privately (or in the group), repeat, escalate, record."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from bot.core.config import GERENCIA_SECTOR, fold
from bot.protocol.access import AccessRound, access_repeat_due, grant_access, request_access
from bot.protocol.coordination import coordinator_contact
from bot.runtime import Runtime
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.kit import buttons
from handlers.kit.cards import refresh_cards, show_panel
from handlers.kit.context import Context, person_of
from handlers.kit.guards import parse_button
from handlers.kit.replies import CRITICAL, answer_query, run_in_transaction, send
from models.vocab import TimerKind


def grant_markup(incident_id: int, tools: list[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [buttons.GrantAccess(incident_id, i).key(texts.granted_button(tool))]
            for i, tool in enumerate(tools)
        ]
    )


async def gerencia_chats(context: Context, incident_id: int) -> list[int]:
    """Where Gerencia is asked when it cannot be written to privately: the team chat of the
    Gerencia sector if there is one, else the group where the coordinator took the case
    (never every group: one person's request is no news for the rest of the team)."""
    rt = context.runtime
    for chat_id, sector in rt.chats.items():
        if sector is not None and fold(sector) == fold(GERENCIA_SECTOR):
            return [chat_id]
    async with rt.session(refusable=False) as session:
        contact = await coordinator_contact(session, incident_id)
    if contact is not None and rt.is_team_chat(contact.fallback_chat_id):
        return [contact.fallback_chat_id]
    return rt.team_chat_ids[:1]


async def ask_gerencia(context: Context, access: AccessRound) -> None:
    """Each contact privately; those the bot cannot reach are mentioned in Gerencia's group.

    A contact with no Telegram id is mentioned at once; one who never started the bot is
    found out when the private message is refused, and then mentioned there.
    """
    rt = context.runtime
    tools = rt.protocol.access.remote_tools
    markup = grant_markup(access.incident_id, tools)
    username = context.bot.username
    chats = await gerencia_chats(context, access.incident_id)
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
            fallback=[(chat_id, in_group, markup) for chat_id in chats],
        )
    if unknown:
        text = texts.access_in_group(access.incident_id, unknown, tools, username, access.round)
        for chat_id in chats:
            await send(context, chat_id, text, markup, priority=CRITICAL)


async def request_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.RequestAccess)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    access = await run_in_transaction(
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
    await show_panel(context, incident_id)
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
    name = await run_in_transaction(
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
    # The card shows it to the groups; the coordinator's panel comes again with the news.
    news = texts.access_granted(name, tool, incident_id, at)
    await show_panel(context, incident_id, news, fresh=True)
    await refresh_cards(context, incident_id)


# --- nobody in Gerencia answered yet -----------------------------------------------------------


async def ask_for_access_again(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> AccessRound | None:
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
        asked = access.contacts or context.runtime.protocol.gerencia
        news = texts.access_no_answer([(c.name, c.phone) for c in asked])
        await show_panel(context, access.incident_id, news, fresh=True, priority=CRITICAL)
        return
    await ask_gerencia(context, access)
    if access.round == context.runtime.protocol.deadlines.access_escalate_after + 1:
        backups = [c.name for c in access.contacts if c.backup]
        if backups:
            news = texts.access_escalated(backups)
            await show_panel(context, access.incident_id, news, fresh=True, priority=CRITICAL)


def register(app: Application) -> None:
    register_timer(app, TimerKind.ACCESS_REPEAT, ask_for_access_again, announce_repeat)
    app.add_handler(CallbackQueryHandler(request_pressed, pattern=buttons.RequestAccess.pattern()))
    app.add_handler(CallbackQueryHandler(granted_pressed, pattern=buttons.GrantAccess.pattern()))
