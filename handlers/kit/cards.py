"""Rendering and sending what the team sees about an incident: the card, outcomes, the coordinator."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.protocol.allclear import Summary
from bot.protocol.coordination import CoordinatorContact, coordinator_contact, reporter_contact
from bot.protocol.drills import is_drill
from bot.protocol.incident_view import IncidentView, incident_view
from bot.protocol.questions import panels_shown
from bot.runtime import Runtime
from bot.transport import outbox
from handlers.kit import buttons
from handlers.kit.context import Context
from handlers.kit.replies import CRITICAL, NEWS, Markup, markup_json, send
from models.incident import GENERAL, IN_PROGRESS, PROBABLY_LOCAL, UNCONFIRMED, VALIDATING
from models.vocab import CHECKLIST_CAUSES, LocalCause, MessageKind, Priority


def vote_buttons(incident_id: int) -> list[InlineKeyboardButton]:
    return [
        buttons.Vote(incident_id, choice).key(label) for choice, label in texts.VOTE_BUTTONS.items()
    ]


def claim_row(incident_id: int) -> list[InlineKeyboardButton]:
    return [buttons.Claim(incident_id).key(texts.BUTTON_CLAIM)]


def claim_markup(incident_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([claim_row(incident_id)])


def panel_markup(incident_id: int, view: IncidentView | None = None) -> InlineKeyboardMarkup:
    """The coordinator's next steps, in protocol order, from where the incident is (`view`;
    without it, every step up to the validation)."""
    step = buttons
    hand_over = step.HandoverMenu(incident_id).key(texts.BUTTON_HANDOVER)
    # While FLEXUS is down the team waits for news: the button sits by the hand-over.
    handover = [step.TellNews(incident_id).key(texts.BUTTON_NEWS), hand_over]
    if view is not None and view.validation is not None and view.status == VALIDATING:
        if view.validation.validated:
            return InlineKeyboardMarkup(
                [[step.AllClear(incident_id).key(texts.BUTTON_ALL_CLEAR)], [hand_over]]
            )
        return InlineKeyboardMarkup(
            [
                [step.GoOnWithout(incident_id).key(texts.BUTTON_OVERRIDE)],
                [step.StartValidation(incident_id).key(texts.BUTTON_VALIDATE_AGAIN)],
                handover,
            ]
        )
    rows = []
    if view is None or view.support_contacted_at is None:
        rows.append([step.Contacted(incident_id).key(texts.BUTTON_CONTACTED)])
    if view is None or view.access_granted_at is None:
        rows.append([step.RequestAccess(incident_id).key(texts.BUTTON_ACCESS)])
    rows.append([step.StartValidation(incident_id).key(texts.BUTTON_VALIDATE)])
    return InlineKeyboardMarkup([*rows, handover])


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
    return next_opening(context.runtime)


def next_opening(rt: Runtime) -> str | None:
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
    return texts.card(view, rt.tz, rt.protocol.limits.description_max_chars, next_opening(rt))


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
    text = texts.card(view, rt.tz, rt.protocol.limits.description_max_chars, next_opening(rt))
    if view.drill:
        text = texts.drill_marked(text, rt.protocol.support.phone)
    return text, markup_json(card_markup(view)), view.is_open


async def broadcast(
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    priority: Priority = NEWS,
    record: tuple[int, str] | None = None,
) -> None:
    """The same message to every team chat."""
    for chat_id in context.runtime.team_chat_ids:
        await send(context, chat_id, text, markup, priority=priority, record=record)


async def _panel(
    rt: Runtime, session: AsyncSession, incident_id: int, news: str | None = None
) -> tuple[CoordinatorContact, str, InlineKeyboardMarkup | None] | None:
    """(who coordinates, the panel's text as their chat shows it, its buttons); None when
    nobody coordinates."""
    contact = await coordinator_contact(session, incident_id)
    if contact is None:
        return None
    view = await incident_view(session, incident_id, rt.protocol)
    status = rt.support_now()
    block = texts.support_block(status, rt.protocol.support.phone)
    text = texts.coordinator_panel(view, block, status.is_open, next_opening(rt), rt.tz, news)
    if not contact.private_chat:
        text = f"{texts.mention(contact.user_id, contact.name)}: {text}"
    return contact, text, panel_markup(incident_id, view) if view.is_open else None


async def render_panel(rt: Runtime, incident_id: int) -> tuple[str, dict[str, Any] | None, bool]:
    """The coordinator's panel as it is now, for the delivery worker (an edit stored earlier
    shows the state when it is sent, never an older one). Never "closed": it is not pinned."""
    async with rt.read_session() as session:
        panel = await _panel(rt, session, incident_id)
    if panel is None:
        return "", None, True
    _, text, markup = panel
    if await _is_drill(rt, incident_id):
        text = texts.drill_marked(text, rt.protocol.support.phone)
    return text, markup_json(markup), True


async def _is_drill(rt: Runtime, incident_id: int) -> bool:
    async with rt.read_session() as session:
        return await is_drill(session, incident_id)


async def show_panel(
    context: Context,
    incident_id: int,
    news: str | None = None,
    *,
    fresh: bool = False,
    priority: Priority = NEWS,
) -> bool:
    """The coordinator's panel: one message, privately when they pressed Start (else, with a
    mention, in the group where they took the case), edited in place at each step with the
    next step as a button. `fresh`: news the coordinator did not make themselves (an answer
    from Gerencia or a sector, a reminder, the case handed to them): the panel comes again as
    a new message, with the news on top, so it rings and is the last one in the chat; older
    panels lose their buttons. False when nobody coordinates."""
    rt = context.runtime
    now = rt.clock.now()
    async with rt.session(refusable=False) as session:
        panel = await _panel(rt, session, incident_id, news)
        if panel is None:
            return False
        contact, text, markup = panel
        chat_id = contact.user_id if contact.private_chat else contact.fallback_chat_id
        # A panel still going out counts as shown: its message id is stored once it went, in
        # the transaction that ends its row. Read first, so a panel that goes out between the
        # two reads is found by the second one.
        coming = await outbox.unsent(session, (incident_id, MessageKind.PANEL))
        shown = await panels_shown(session, incident_id)
        if not fresh and any(chat == chat_id for chat, _ in [*shown, *coming]):
            # Rendered when sent: the state at that moment.
            outbox.edit_card(
                session,
                incident_id=incident_id,
                kind=MessageKind.PANEL,
                chat_id=chat_id,
                now=now,
                repin=False,
            )
            return True
        for chat, message_id in shown:
            outbox.clear_markup(session, chat, message_id, now=now)
        for chat, row_id in coming:
            outbox.clear_markup(session, chat, now=now, of_row=row_id)
    record = (incident_id, MessageKind.PANEL)
    fallback: list[tuple[int, str, Markup]] | None = None
    if contact.private_chat:
        mentioned = f"{texts.mention(contact.user_id, contact.name)}: {text}"
        fallback = [(contact.fallback_chat_id, mentioned, markup)]
    await send(context, chat_id, text, markup, priority=priority, record=record, fallback=fallback)
    return True


async def announce_outcome(
    context: Context, view: IncidentView, *, escalated: bool = False
) -> None:
    """Tell the team what the classification means for them, with the next step."""
    rt = context.runtime
    if view.status == GENERAL:
        render = texts.escalated if escalated else texts.general
        status = rt.support_now()
        until = f"{status.current.end:%H:%M}" if status.current is not None else None
        text = render(view, rt.protocol.support.phone, until, opening_text(context))
        contingency = rt.protocol.contingency
        for chat_id in rt.team_chat_ids:
            # The chat's sector's instructions under the message; elsewhere, a button.
            sector = rt.chat_sector(chat_id)
            doing = contingency.for_sector(sector)
            rows = [] if view.coordinator_id is not None else [claim_row(view.id)]
            if doing is None and contingency.sectors:
                rows.append([buttons.Meanwhile(view.id).key(texts.BUTTON_MEANWHILE)])
            extra = texts.contingency_line(sector or "", doing) if doing else ""
            markup = InlineKeyboardMarkup(rows) if rows else None
            await send(context, chat_id, text + extra, markup, priority=CRITICAL)
    # The rest is for the reporter alone (the groups see the card say it): privately when they
    # pressed Start, else in the group where they reported.
    elif view.status == PROBABLY_LOCAL:
        await tell_reporter(context, view.id, texts.local_checklist(view), local_markup(view.id))
    elif view.status == UNCONFIRMED:
        text = texts.unconfirmed(view, rt.protocol.deadlines.confirmation_minutes)
        await tell_reporter(context, view.id, text, escalate_markup(view.id))


async def tell_reporter(
    context: Context, incident_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """A message for the person who reported: privately when they pressed Start (falling back
    to their group if Telegram refuses), else in the group where they reported."""
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        reporter = await reporter_contact(session, incident_id)
    if reporter.private_chat:
        fallback: list[tuple[int, str, Markup]] = [(reporter.origin_chat_id, text, markup)]
        await send(context, reporter.user_id, text, markup, fallback=fallback)
    else:
        await send(context, reporter.origin_chat_id, text, markup)


def summary_text(data: Summary, tz: ZoneInfo) -> str:
    """The closing summary, its timeline shortened until it fits in one Telegram message."""
    limit = texts.TIMELINE_LIMIT
    text = texts.summary(data, tz, limit)
    while len(text) > texts.MESSAGE_LIMIT and limit > 5:
        limit -= 5
        text = texts.summary(data, tz, limit)
    return text[: texts.MESSAGE_LIMIT]
