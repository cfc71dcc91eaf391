"""Rendering and sending what the team sees about an incident: the card, outcomes, the coordinator."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import notify, texts
from bot.coordination import coordinator_contact
from bot.lifecycle import (
    messages_of,
    record_messages,
)
from bot.views import IncidentView, incident_view
from handlers.common import Context, runtime
from models.incident import GENERAL, IN_PROGRESS, PROBABLY_LOCAL, UNCONFIRMED, VALIDATING

ALERT = "alert"
_REFRESHING = "cards_refreshing"  # bot_data: incident id -> another edit wanted


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def vote_buttons(incident_id: int) -> list[InlineKeyboardButton]:
    return [
        _button(texts.BUTTON_FAILS, f"v:{incident_id}:f"),
        _button(texts.BUTTON_WORKS, f"v:{incident_id}:w"),
    ]


def claim_markup(incident_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(texts.BUTTON_CLAIM, f"y:{incident_id}")]])


def panel_markup(incident_id: int) -> InlineKeyboardMarkup:
    """The coordinator's next steps, in protocol order."""
    return InlineKeyboardMarkup(
        [
            [_button(texts.BUTTON_CONTACTED, f"sc:{incident_id}")],
            [_button(texts.BUTTON_ACCESS, f"ax:{incident_id}")],
            [_button(texts.BUTTON_VALIDATE, f"va:{incident_id}")],
            [_button(texts.BUTTON_HANDOVER, f"ho:{incident_id}")],
        ]
    )


def local_markup(incident_id: int) -> InlineKeyboardMarkup:
    causes = [
        [_button(label, f"l:{incident_id}:{cause}")] for cause, label in texts.CHECK_BUTTONS.items()
    ]
    return InlineKeyboardMarkup([*causes, [_button(texts.BUTTON_STILL_FAILS, f"e:{incident_id}")]])


def escalate_markup(incident_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(texts.BUTTON_ESCALATE, f"e:{incident_id}")],
            [_button(texts.CHECK_BUTTONS["works"], f"l:{incident_id}:works")],
        ]
    )


def support_text(context: Context) -> str:
    rt = runtime(context)
    return texts.support_block(rt.support_now(), rt.protocol.support.phone)


def opening_text(context: Context) -> str | None:
    """ "hoy a las 10:00" when support is closed, else None."""
    rt = runtime(context)
    status = rt.support_now()
    if status.is_open or status.next_opening is None:
        return None
    return texts.when(status.next_opening.start, status.at, rt.tz)


async def view_of(context: Context, incident_id: int) -> IncidentView:
    rt = runtime(context)
    async with rt.session() as session:
        return await incident_view(session, incident_id, rt.protocol)


def card_text(context: Context, view: IncidentView) -> str:
    rt = runtime(context)
    return texts.card(view, rt.tz, rt.protocol.limits.description_max_chars)


def card_markup(view: IncidentView) -> InlineKeyboardMarkup | None:
    if not view.is_open:
        return None
    rows = [vote_buttons(view.id)]
    if view.coordinator_id is None and view.status in (GENERAL, IN_PROGRESS, VALIDATING):
        rows.append([_button(texts.BUTTON_CLAIM, f"y:{view.id}")])
    return InlineKeyboardMarkup(rows)


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


async def refresh_cards(context: Context, incident_id: int) -> IncidentView:
    """Edit the card in every chat to the incident's current state.

    Telegram's flood limits make edits slow when many people press at once: changes that
    arrive while an edit is under way are folded into one more edit, not one edit each.
    """
    wanted: dict[int, bool] = context.application.bot_data.setdefault(_REFRESHING, {})
    if incident_id in wanted:
        wanted[incident_id] = True  # the running refresh will edit once more
        return await view_of(context, incident_id)
    wanted[incident_id] = False
    try:
        while True:
            view = await view_of(context, incident_id)
            await _edit_cards(context, view)
            if not wanted[incident_id]:
                return view
            wanted[incident_id] = False
    finally:
        del wanted[incident_id]


async def _edit_cards(context: Context, view: IncidentView) -> None:
    rt = runtime(context)
    async with rt.session() as session:
        targets = await messages_of(session, incident_id=view.id, kind=ALERT)
    await notify.edit(context.bot, targets, card_text(context, view), card_markup(view))
    if not view.is_open:
        for chat_id, message_id in targets:
            await notify.unpin(context.bot, chat_id, message_id)


async def broadcast(
    context: Context, text: str, markup: InlineKeyboardMarkup | None = None
) -> list[tuple[int, int]]:
    return await notify.broadcast(context.bot, runtime(context).team_chat_ids, text, markup)


async def tell_coordinator(
    context: Context, incident_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Privately when possible, else with a mention in the chat where they took the case."""
    rt = runtime(context)
    async with rt.session() as session:
        contact = await coordinator_contact(session, incident_id)
    if contact is None:
        return False
    if contact.private_chat and await notify.send_private(
        context.bot, contact.user_id, text, markup
    ):
        return True
    mentioned = f"{texts.mention(contact.user_id, contact.name)}: {text}"
    return await notify.send(context.bot, contact.fallback_chat_id, mentioned, markup) is not None


async def announce_outcome(
    context: Context, view: IncidentView, *, escalated: bool = False
) -> None:
    """Tell the team what the classification means for them, with the next step."""
    rt = runtime(context)
    if view.status == GENERAL:
        render = texts.escalated if escalated else texts.general
        text = render(view, support_text(context), rt.support_now().is_open)
        await broadcast(
            context, text, claim_markup(view.id) if view.coordinator_id is None else None
        )
    elif view.status == PROBABLY_LOCAL:
        await broadcast(context, texts.local_checklist(view), local_markup(view.id))
    elif view.status == UNCONFIRMED:
        text = texts.unconfirmed(view, rt.protocol.deadlines.confirmation_minutes)
        await broadcast(context, text, escalate_markup(view.id))
