"""Rendering and sending what the whole team sees about an incident: the alert card and outcomes."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import notify, texts
from bot.incidents import IncidentView, incident_view, messages_of, record_messages
from bot.jobs import arm_pending
from handlers.common import Context, runtime
from models.incident import GENERAL, PROBABLY_LOCAL, UNCONFIRMED

ALERT = "alert"


def vote_markup(incident_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts.BUTTON_FAILS, callback_data=f"v:{incident_id}:f"),
                InlineKeyboardButton(texts.BUTTON_WORKS, callback_data=f"v:{incident_id}:w"),
            ]
        ]
    )


def local_markup(incident_id: int) -> InlineKeyboardMarkup:
    causes = [
        [InlineKeyboardButton(label, callback_data=f"l:{incident_id}:{cause}")]
        for cause, label in texts.CHECK_BUTTONS.items()
    ]
    still = [InlineKeyboardButton(texts.BUTTON_STILL_FAILS, callback_data=f"e:{incident_id}")]
    return InlineKeyboardMarkup([*causes, still])


def escalate_markup(incident_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.BUTTON_ESCALATE, callback_data=f"e:{incident_id}")]]
    )


def support_text(context: Context) -> str:
    rt = runtime(context)
    return texts.support_block(rt.support_now(), rt.protocol.support.phone)


async def view_of(context: Context, incident_id: int) -> IncidentView:
    rt = runtime(context)
    async with rt.session() as session:
        return await incident_view(session, incident_id, rt.protocol)


def card_text(context: Context, view: IncidentView) -> str:
    rt = runtime(context)
    return texts.card(view, rt.tz, rt.protocol.limits.description_max_chars)


def card_markup(view: IncidentView) -> InlineKeyboardMarkup | None:
    return vote_markup(view.id) if view.is_open else None


async def post_alert(context: Context, incident_id: int) -> None:
    """Post the alert card to every team chat, remember it, pin it where the bot may."""
    rt = runtime(context)
    view = await view_of(context, incident_id)
    sent = await notify.broadcast(
        context.bot, rt.team_chat_ids, card_text(context, view), card_markup(view)
    )
    async with rt.session() as session:
        await record_messages(
            session, incident_id=incident_id, kind=ALERT, sent=sent, now=rt.clock.now()
        )
    for chat_id, message_id in sent:
        await notify.pin(context.bot, chat_id, message_id)
    await arm_pending(context.application)


async def refresh_cards(context: Context, incident_id: int) -> IncidentView:
    """Edit the alert card in every chat to the incident's current state."""
    rt = runtime(context)
    view = await view_of(context, incident_id)
    async with rt.session() as session:
        targets = await messages_of(session, incident_id=incident_id, kind=ALERT)
    await notify.edit(context.bot, targets, card_text(context, view), card_markup(view))
    if not view.is_open:
        for chat_id, message_id in targets:
            await notify.unpin(context.bot, chat_id, message_id)
    return view


async def announce_outcome(
    context: Context, view: IncidentView, *, escalated: bool = False
) -> None:
    """Tell the team what the classification means for them, with the next step."""
    rt = runtime(context)
    if view.status == GENERAL:
        render = texts.escalated if escalated else texts.general
        text = render(view, support_text(context), rt.support_now().is_open)
        await notify.broadcast(context.bot, rt.team_chat_ids, text)
    elif view.status == PROBABLY_LOCAL:
        await notify.broadcast(
            context.bot, rt.team_chat_ids, texts.local_checklist(view), local_markup(view.id)
        )
    elif view.status == UNCONFIRMED:
        text = texts.unconfirmed(view, rt.protocol.deadlines.confirmation_minutes)
        await notify.broadcast(context.bot, rt.team_chat_ids, text, escalate_markup(view.id))
