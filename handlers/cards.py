"""Rendering and sending what the team sees about an incident: the card, outcomes, the coordinator."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import outbox, texts
from bot.allclear import Summary
from bot.coordination import coordinator_contact
from bot.runtime import Runtime
from bot.views import IncidentView, incident_view
from bot.vocab import CHECKLIST_CAUSES, LocalCause, MessageKind
from handlers import buttons
from handlers.common import CRITICAL, NEWS, Context, markup_json, send
from models.incident import GENERAL, IN_PROGRESS, PROBABLY_LOCAL, UNCONFIRMED, VALIDATING


def vote_buttons(incident_id: int) -> list[InlineKeyboardButton]:
    return [
        buttons.Vote(incident_id, choice).key(label) for choice, label in texts.VOTE_BUTTONS.items()
    ]


def claim_markup(incident_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[buttons.Claim(incident_id).key(texts.BUTTON_CLAIM)]])


def panel_markup(incident_id: int) -> InlineKeyboardMarkup:
    """The coordinator's next steps, in protocol order."""
    return InlineKeyboardMarkup(
        [
            [buttons.Contacted(incident_id).key(texts.BUTTON_CONTACTED)],
            [buttons.RequestAccess(incident_id).key(texts.BUTTON_ACCESS)],
            [buttons.StartValidation(incident_id).key(texts.BUTTON_VALIDATE)],
            [buttons.HandoverMenu(incident_id).key(texts.BUTTON_HANDOVER)],
        ]
    )


def local_markup(incident_id: int) -> InlineKeyboardMarkup:
    causes = [
        [buttons.FoundLocalCause(incident_id, cause).key(texts.CHECK_BUTTONS[cause])]
        for cause in CHECKLIST_CAUSES
    ]
    still_fails = buttons.Escalate(incident_id).key(texts.BUTTON_STILL_FAILS)
    return InlineKeyboardMarkup([*causes, [still_fails]])


def escalate_markup(incident_id: int) -> InlineKeyboardMarkup:
    works = buttons.FoundLocalCause(incident_id, LocalCause.WORKS)
    return InlineKeyboardMarkup(
        [
            [buttons.Escalate(incident_id).key(texts.BUTTON_ESCALATE)],
            [works.key(texts.CHECK_BUTTONS[LocalCause.WORKS])],
        ]
    )


def support_text(context: Context) -> str:
    rt = context.runtime
    return texts.support_block(rt.support_now(), rt.protocol.support.phone)


def opening_text(context: Context) -> str | None:
    """ "hoy a las 10:00" when support is closed, else None."""
    rt = context.runtime
    status = rt.support_now()
    if status.is_open or status.next_opening is None:
        return None
    return texts.when(status.next_opening.start, status.at, rt.tz)


async def view_of(context: Context, incident_id: int) -> IncidentView:
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        return await incident_view(session, incident_id, rt.protocol)


def card_text(context: Context, view: IncidentView) -> str:
    rt = context.runtime
    return texts.card(view, rt.tz, rt.protocol.limits.description_max_chars)


def card_markup(view: IncidentView) -> InlineKeyboardMarkup | None:
    if not view.is_open:
        return None
    # Once support works on it, the card shows the step the team is in: no more votes.
    rows = [vote_buttons(view.id)] if view.asks_for_votes else []
    if view.coordinator_id is None and view.status in (GENERAL, IN_PROGRESS, VALIDATING):
        rows.append([buttons.Claim(view.id).key(texts.BUTTON_CLAIM)])
    return InlineKeyboardMarkup(rows) if rows else None


async def post_alert(context: Context, incident_id: int) -> None:
    """The alert card to every team chat (critical): remembered and pinned as each one goes."""
    rt = context.runtime
    view = await view_of(context, incident_id)
    text, markup = card_text(context, view), card_markup(view)
    for chat_id in rt.team_chat_ids:
        await send(
            context,
            chat_id,
            text,
            markup,
            priority=CRITICAL,
            record=(incident_id, MessageKind.ALERT),
            # The first alert rings even for people who muted the group (a pin does).
            pin=outbox.PIN_NOTIFY,
        )


async def refresh_cards(context: Context, incident_id: int) -> None:
    """Have the card show the incident's state in every chat.

    Only a small row per chat is stored: the delivery worker renders the card when it sends the
    edit (so it shows the state at that moment), folds the rows of a busy moment into one, and
    skips the edit when the card already shows the same. No view is built here.
    """
    rt = context.runtime
    now = rt.clock.now()
    async with rt.session(refusable=False) as session:
        for chat_id in rt.team_chat_ids:
            outbox.edit_card(
                session, incident_id=incident_id, kind=MessageKind.ALERT, chat_id=chat_id, now=now
            )


async def render_alert_card(
    rt: Runtime, incident_id: int
) -> tuple[str, dict[str, Any] | None, bool]:
    """The card as it is now: (text, buttons, still open). Used by the delivery worker."""
    async with rt.read_session() as session:
        view = await incident_view(session, incident_id, rt.protocol)
    text = texts.card(view, rt.tz, rt.protocol.limits.description_max_chars)
    return text, markup_json(card_markup(view)), view.is_open


async def broadcast(
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    priority: int = NEWS,
    record: tuple[int, str] | None = None,
) -> None:
    """The same message to every team chat."""
    for chat_id in context.runtime.team_chat_ids:
        await send(context, chat_id, text, markup, priority=priority, record=record)


async def tell_coordinator(
    context: Context,
    incident_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    priority: int = NEWS,
) -> bool:
    """Privately when possible, else with a mention in the chat where they took the case."""
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        contact = await coordinator_contact(session, incident_id)
    if contact is None:
        return False
    mentioned = f"{texts.mention(contact.user_id, contact.name)}: {text}"
    if contact.private_chat:
        await send(
            context,
            contact.user_id,
            text,
            markup,
            priority=priority,
            fallback=[(contact.fallback_chat_id, mentioned, markup)],
        )
    else:
        await send(context, contact.fallback_chat_id, mentioned, markup, priority=priority)
    return True


async def announce_outcome(
    context: Context, view: IncidentView, *, escalated: bool = False
) -> None:
    """Tell the team what the classification means for them, with the next step."""
    rt = context.runtime
    if view.status == GENERAL:
        render = texts.escalated if escalated else texts.general
        text = render(view, support_text(context), rt.support_now().is_open)
        await broadcast(
            context,
            text,
            claim_markup(view.id) if view.coordinator_id is None else None,
            priority=CRITICAL,
        )
    elif view.status == PROBABLY_LOCAL:
        await broadcast(context, texts.local_checklist(view), local_markup(view.id))
    elif view.status == UNCONFIRMED:
        text = texts.unconfirmed(view, rt.protocol.deadlines.confirmation_minutes)
        await broadcast(context, text, escalate_markup(view.id))


def summary_text(data: Summary, tz: ZoneInfo) -> str:
    """The closing summary, its timeline shortened until it fits in one Telegram message."""
    limit = texts.TIMELINE_LIMIT
    text = texts.summary(data, tz, limit)
    while len(text) > texts.MESSAGE_LIMIT and limit > 5:
        limit -= 5
        text = texts.summary(data, tz, limit)
    return text[: texts.MESSAGE_LIMIT]
