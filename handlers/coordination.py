"""The coordinator: claims the case, records the call to support, hands the case over."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update, User
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.protocol.coordination import (
    EscalationStep,
    Nudge,
    SupportOpening,
    claim,
    contact_support,
    escalation_due,
    hand_over,
    handover_candidates,
    leave_message,
    may_drive,
    nudge_due,
    support_opens_due,
)
from bot.protocol.lifecycle import (
    member_name,
    open_incident_id,
)
from bot.runtime import Runtime
from bot.team.chats import take_reminder_slots
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.kit import buttons
from handlers.kit.cards import (
    broadcast,
    claim_markup,
    opening_text,
    refresh_cards,
    show_panel,
    support_text,
)
from handlers.kit.context import NEW_MESSAGES, STORED_TEXT_MAX, Context, chat_sector_of, person_of
from handlers.kit.guards import allowed_here, noted, parse_button
from handlers.kit.prompts import register_prompt
from handlers.kit.replies import (
    CHATTER,
    CRITICAL,
    Markup,
    answer_query,
    clear_pressed_buttons,
    reply,
    run_in_transaction,
    send,
)
from models.vocab import MessageKind, Refusal, TimerKind

COMMAND_PREFIX = re.compile(r"^/contactado(?:@\w+)?\s*", re.IGNORECASE)


async def claim_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.Claim)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    result = await run_in_transaction(
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
    # The panel goes to the coordinator alone (privately when they pressed Start, else in the
    # group where they took the case; again, at the bottom, if they press once more); the
    # groups see who coordinates on the card.
    await show_panel(context, incident_id, fresh=True)
    if not result.already_yours:
        await refresh_cards(context, incident_id)


async def _record_contact(
    update: Update, context: Context, incident_id: int, reference: str | None
) -> bool:
    """Record the call; the first one is told to the group. False (after answering) when refused."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return False
    rt = context.runtime
    result = await run_in_transaction(
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
    # The groups see it on the card, the coordinator on the panel; a typed /contactado gets
    # its answer in its chat (a press gets a toast and the ticket question).
    typed = update.callback_query is None
    if result.first and typed:
        at = texts.clock_time(result.contacted_at, rt.tz)
        await reply(
            update, texts.support_contacted(user.full_name, incident_id, result.reference, at)
        )
    elif result.reference:
        await reply(update, texts.reference_saved(result.reference))
    elif result.note:
        await reply(update, texts.support_note_saved(result.note))
    await show_panel(context, incident_id)
    await refresh_cards(context, incident_id)
    return True


async def contacted_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.Contacted)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    incident_id = pressed.incident_id
    rt, user_id = context.runtime, query.from_user.id
    if not rt.support_now().is_open:
        # Support does not answer now: "contacted" can only mean a message was left.
        allowed = await run_in_transaction(
            update,
            context,
            may_drive,
            incident_id=incident_id,
            user_id=user_id,
            is_admin=rt.is_admin(user_id),
        )
        if allowed is None:
            return
        await answer_query(query)
        markup = InlineKeyboardMarkup(
            [
                [buttons.SupportMessage(incident_id, left=True).key(texts.BUTTON_MESSAGE_LEFT)],
                [buttons.SupportMessage(incident_id, left=False).key(texts.BUTTON_NO_MESSAGE)],
            ]
        )
        await send(
            context, update.effective_chat.id, texts.MESSAGE_LEFT_QUESTION, markup, priority=CHATTER
        )
        return
    if not await _record_contact(update, context, incident_id, None):
        return
    await answer_query(query, texts.DONE)
    await ask_reference(context, update.effective_chat.id, incident_id, query.from_user)


async def ask_reference(context: Context, chat_id: int, incident_id: int, person: User) -> None:
    """ "¿te dieron número de reclamo?": a reply is read as the answer; «Sin número» settles it."""
    prompt = texts.reference_prompt(person.id, person.full_name)
    markup = InlineKeyboardMarkup(
        [[buttons.NoReference(incident_id).key(texts.BUTTON_NO_REFERENCE)]]
    )
    await send(
        context,
        chat_id,
        prompt,
        markup,
        priority=CHATTER,
        record=(incident_id, MessageKind.REFERENCE_PROMPT),
    )


async def message_left_answered(update: Update, context: Context) -> None:
    """ "¿Le dejaste un mensaje?": yes is noted (the card says so; the call counts once support
    really answers, asked again when it opens); no needs nothing: the opening reminder comes."""
    parsed = await parse_button(update, context, buttons.SupportMessage)
    if parsed is None or update.effective_user is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    if not pressed.left:
        await answer_query(query, texts.NO_MESSAGE_NOTED)
        await clear_pressed_buttons(context, query)
        return
    user = update.effective_user
    left = await run_in_transaction(
        update,
        context,
        leave_message,
        incident_id=incident_id,
        user_id=user.id,
        is_admin=rt.is_admin(user.id),
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if left is None:
        return
    await answer_query(query, texts.message_left_noted(opening_text(context)))
    await clear_pressed_buttons(context, query)
    await show_panel(context, incident_id)
    await refresh_cards(context, incident_id)


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
    people = await run_in_transaction(
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
    name = await run_in_transaction(
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
    # The new coordinator gets the panel (the old one loses its buttons); the card shows who.
    news = texts.handed_over(name, incident_id)
    await show_panel(context, incident_id, news, fresh=True)
    await refresh_cards(context, incident_id)


# --- reminders: "¿Novedades?" and "soporte ya abrió" --------------------------------------------


async def nudge_if_still_down(rt: Runtime, session: AsyncSession, timer: DueTimer) -> Nudge | None:
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
        # A reminder: at most one a group every 30 minutes.
        async with context.runtime.session(refusable=False) as session:
            chats = await take_reminder_slots(
                session, context.runtime.team_chat_ids, now=context.runtime.clock.now()
            )
        for chat_id in chats:
            await send(context, chat_id, text, claim_markup(incident_id))
    else:
        await show_panel(context, incident_id, text, fresh=True)
    await refresh_cards(context, incident_id)


async def call_when_support_opens(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> SupportOpening | None:
    return await support_opens_due(session, incident_id=timer.incident)


async def announce_support_opens(context: Context, opening: SupportOpening) -> None:
    """Support just opened: whoever manages the case must call now."""
    incident_id = opening.incident_id
    if not opening.coordinated:
        text = texts.support_opened(incident_id, support_text(context))
        await broadcast(context, text, claim_markup(incident_id), priority=CRITICAL)
    else:
        news = texts.support_opened_news(opening.message_left)
        await show_panel(context, incident_id, news, fresh=True, priority=CRITICAL)
    await refresh_cards(context, incident_id)


async def escalate_if_nobody_took_it(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> EscalationStep | None:
    """A general failure nobody took: the next escalation contact ([[escalation]], else the
    admins) is written; the next step is set until someone takes the case."""
    contacts = [(c.telegram_id, c.name) for c in rt.protocol.escalation]
    if not contacts:
        contacts = [
            (admin, await member_name(session, admin) or "admin") for admin in sorted(rt.admin_ids)
        ]
    return await escalation_due(
        session,
        incident_id=timer.incident,
        step=int(timer.payload.get("step", 0)),
        contacts=contacts,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )


async def write_escalation_contact(context: Context, step: EscalationStep) -> None:
    """Privately, with the button to take the case; in the first team chat, naming them, when
    they never pressed Start, but only the first round: the group is not reminded every 10
    minutes (its own reminders go through `take_reminder_slots`)."""
    rt = context.runtime
    markup = claim_markup(step.incident_id)
    private = texts.escalation(step.incident_id, step.waiting, support_text(context))
    named = texts.escalation_named(step.user_id, step.name, private)
    fallback: list[tuple[int, str, Markup]] = (
        [(rt.team_chat_ids[0], named, markup)] if rt.team_chat_ids and step.first_round else []
    )
    await send(context, step.user_id, private, markup, fallback=fallback or None)


def register(app: Application) -> None:
    register_prompt(app, MessageKind.REFERENCE_PROMPT, reference_replied)
    register_timer(app, TimerKind.NUDGE, nudge_if_still_down, announce_nudge)
    register_timer(app, TimerKind.ESCALATION, escalate_if_nobody_took_it, write_escalation_contact)
    register_timer(app, TimerKind.SUPPORT_OPENS, call_when_support_opens, announce_support_opens)
    app.add_handler(CallbackQueryHandler(claim_pressed, pattern=buttons.Claim.pattern()))
    app.add_handler(CallbackQueryHandler(contacted_pressed, pattern=buttons.Contacted.pattern()))
    app.add_handler(
        CallbackQueryHandler(message_left_answered, pattern=buttons.SupportMessage.pattern())
    )
    app.add_handler(
        CallbackQueryHandler(
            noted(buttons.NoReference, texts.NO_REFERENCE_NOTED),
            pattern=buttons.NoReference.pattern(),
        )
    )
    app.add_handler(CallbackQueryHandler(handover_menu, pattern=buttons.HandoverMenu.pattern()))
    app.add_handler(CallbackQueryHandler(handover_chosen, pattern=buttons.HandoverTo.pattern()))
    app.add_handler(CommandHandler("contactado", contactado_command, filters=NEW_MESSAGES))
