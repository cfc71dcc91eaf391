"""The coordinator: claims the case, records the call to support, hands the case over."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import ForceReply, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.coordination import (
    Nudge,
    SupportOpening,
    claim,
    contact_support,
    hand_over,
    handover_candidates,
    nudge_due,
    support_opens_due,
)
from bot.jobs import register_timer
from bot.lifecycle import (
    open_incident_id,
)
from bot.runtime import Runtime
from bot.timers import DueTimer
from bot.vocab import MessageKind, Refusal, TimerKind
from handlers import buttons
from handlers.cards import (
    broadcast,
    claim_markup,
    opening_text,
    panel_markup,
    refresh_cards,
    support_text,
    tell_coordinator,
)
from handlers.common import (
    CHATTER,
    CRITICAL,
    NEW_MESSAGES,
    STORED_TEXT_MAX,
    Context,
    allowed_here,
    answer_query,
    chat_sector_of,
    parse_button,
    person_of,
    reply,
    run_step,
    send,
)
from handlers.prompts import register_prompt

COMMAND_PREFIX = re.compile(r"^/contactado(?:@\w+)?\s*", re.IGNORECASE)


async def claim_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.Claim)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    result = await run_step(
        update,
        context,
        claim,
        incident_id=incident_id,
        person=person_of(query.from_user),
        chat_id=update.effective_chat.id,
        chat_sector=chat_sector_of(update, context),
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if result is None:
        return
    await answer_query(
        query, texts.already_yours(incident_id) if result.already_yours else texts.DONE
    )
    panel = texts.coordinator_panel(
        incident_id, support_text(context), rt.support_now().is_open, opening_text(context)
    )
    await send(
        context,
        update.effective_chat.id,
        f"{texts.mention(query.from_user.id, query.from_user.full_name)}: {panel}",
        panel_markup(incident_id),
    )
    if not result.already_yours:
        await broadcast(context, texts.claimed(query.from_user.full_name, incident_id))
        await refresh_cards(context, incident_id)


async def _record_contact(
    update: Update, context: Context, incident_id: int, reference: str | None
) -> bool:
    """Record the call; the first one is told to the group. False (after answering) when refused."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return False
    rt = context.runtime
    result = await run_step(
        update,
        context,
        contact_support,
        incident_id=incident_id,
        person=person_of(user),
        is_admin=rt.is_admin(user.id),
        chat_id=chat.id,
        reference=reference,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if result is None:
        return False
    if result.first:
        at = texts.clock_time(result.contacted_at, rt.tz)
        await broadcast(
            context, texts.support_contacted(user.full_name, incident_id, result.reference, at)
        )
    elif result.reference:
        await reply(update, texts.reference_saved(result.reference))
    await refresh_cards(context, incident_id)
    return True


async def contacted_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.Contacted)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    incident_id = pressed.incident_id
    if not await _record_contact(update, context, incident_id, None):
        return
    await answer_query(query, texts.DONE)
    # Ask for the ticket number: a reply to this message is read as the reference.
    prompt = texts.reference_prompt(query.from_user.id, query.from_user.full_name)
    await send(
        context,
        update.effective_chat.id,
        prompt,
        ForceReply(selective=True),
        priority=CHATTER,
        record=(incident_id, MessageKind.REFERENCE_PROMPT),
    )


async def contactado_command(update: Update, context: Context) -> None:
    """/contactado [número de reclamo]"""
    message = update.effective_message
    if message is None or not await allowed_here(update, context, private_ok=True):
        return
    rt = context.runtime
    async with rt.session() as session:
        incident_id = await open_incident_id(session)
    if incident_id is None:
        await reply(update, texts.REFUSALS[Refusal.NO_OPEN_INCIDENT])
        return
    reference = (
        COMMAND_PREFIX.sub("", message.text or "", count=1).strip()[:STORED_TEXT_MAX] or None
    )
    await _record_contact(update, context, incident_id, reference)


async def reference_replied(update: Update, context: Context, incident_id: int, text: str) -> None:
    await _record_contact(update, context, incident_id, text)


async def handover_menu(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.HandoverMenu)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    rt, incident_id, user_id = context.runtime, pressed.incident_id, query.from_user.id
    people = await run_step(
        update,
        context,
        handover_candidates,
        incident_id=incident_id,
        user_id=user_id,
        is_admin=rt.is_admin(user_id),
    )
    if people is None:
        return
    if not people:
        await answer_query(query, texts.NOBODY_TO_HAND_OVER, alert=True)
        return
    await answer_query(query)
    rows = [[buttons.HandoverTo(incident_id, user_id).key(name[:40])] for user_id, name in people]
    await send(
        context,
        update.effective_chat.id,
        texts.HANDOVER_PROMPT,
        InlineKeyboardMarkup(rows),
        priority=CHATTER,
    )


async def handover_chosen(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.HandoverTo)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    # From a private chat, keep the group where the case was claimed for the new coordinator.
    chat = update.effective_chat
    chat_id = None if chat is None or chat.type == ChatType.PRIVATE else chat.id
    name = await run_step(
        update,
        context,
        hand_over,
        incident_id=incident_id,
        user_id=query.from_user.id,
        is_admin=rt.is_admin(query.from_user.id),
        to_user_id=pressed.user_id,
        chat_id=chat_id,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if name is None:
        return
    await answer_query(query, texts.DONE)
    await broadcast(context, texts.handed_over(name, incident_id))
    panel = texts.coordinator_panel(
        incident_id, support_text(context), rt.support_now().is_open, opening_text(context)
    )
    await tell_coordinator(context, incident_id, panel, panel_markup(incident_id))
    await refresh_cards(context, incident_id)


# --- reminders: "¿Novedades?" and "soporte ya abrió" --------------------------------------------


async def nudge(rt: Runtime, session: AsyncSession, timer: DueTimer) -> Nudge | None:
    return await nudge_due(
        session, incident_id=timer.incident, now=rt.clock.now(), protocol=rt.protocol
    )


async def announce_nudge(context: Context, due: Nudge) -> None:
    """ "FLEXUS sigue caído hace 35 min. ¿Novedades?" to the coordinator, or to the group."""
    incident_id = due.incident_id
    text = texts.nudge(
        incident_id, due.down_for, coordinated=due.coordinated, validated=due.validated
    )
    if not due.coordinated:
        await broadcast(context, text, claim_markup(incident_id))
    else:
        await tell_coordinator(context, incident_id, text, panel_markup(incident_id))
    await refresh_cards(context, incident_id)


async def support_opens(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> SupportOpening | None:
    return await support_opens_due(session, incident_id=timer.incident)


async def announce_support_opens(context: Context, opening: SupportOpening) -> None:
    """Support just opened: whoever manages the case must call now."""
    incident_id = opening.incident_id
    text = texts.support_opened(incident_id, support_text(context))
    if not opening.coordinated:
        await broadcast(context, text, claim_markup(incident_id), priority=CRITICAL)
    else:
        await tell_coordinator(
            context, incident_id, text, panel_markup(incident_id), priority=CRITICAL
        )


def register(app: Application) -> None:
    register_prompt(app, MessageKind.REFERENCE_PROMPT, reference_replied)
    register_timer(app, TimerKind.NUDGE, nudge, announce_nudge)
    register_timer(app, TimerKind.SUPPORT_OPENS, support_opens, announce_support_opens)
    app.add_handler(CallbackQueryHandler(claim_pressed, pattern=buttons.Claim.pattern()))
    app.add_handler(CallbackQueryHandler(contacted_pressed, pattern=buttons.Contacted.pattern()))
    app.add_handler(CallbackQueryHandler(handover_menu, pattern=buttons.HandoverMenu.pattern()))
    app.add_handler(CallbackQueryHandler(handover_chosen, pattern=buttons.HandoverTo.pattern()))
    app.add_handler(CommandHandler("contactado", contactado_command, filters=NEW_MESSAGES))
