"""Validation before going back to work: "¿FLEXUS funciona en tu sector?" ✅ / ❌."""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from bot.protocol.validation import (
    ValidationState,
    answer_validation,
    override_missing,
    sectors_to_override,
    start_validation,
)
from bot.transport import outbox
from handlers.kit import buttons
from handlers.kit.cards import broadcast, refresh_cards, show_panel
from handlers.kit.context import Context, chat_sector_of, person_of
from handlers.kit.guards import parse_button
from handlers.kit.prompts import register_prompt
from handlers.kit.replies import (
    CHATTER,
    answer_query,
    clear_pressed_buttons,
    markup_json,
    run_in_transaction,
    send,
)
from models.vocab import MessageKind, validation_kind


def validation_markup(state: ValidationState) -> InlineKeyboardMarkup:
    incident_id, round_number = state.incident_id, state.round
    return InlineKeyboardMarkup(
        [
            [
                buttons.SectorAnswer(incident_id, round_number, works=True).key(
                    texts.BUTTON_WORKS_HERE
                ),
                buttons.SectorAnswer(incident_id, round_number, works=False).key(
                    texts.BUTTON_FAILS_HERE
                ),
            ],
        ]
    )


async def _refresh_requests(context: Context, state: ValidationState, still_open: bool) -> None:
    rt = context.runtime
    markup = markup_json(validation_markup(state)) if still_open else None
    text = texts.validation_request(state.incident_id, state)
    async with rt.session() as session:
        for chat_id in rt.team_chat_ids:
            outbox.edit_card(
                session,
                incident_id=state.incident_id,
                kind=validation_kind(state.round),
                chat_id=chat_id,
                text=text,
                markup=markup,
                now=rt.clock.now(),
                repin=False,
            )


async def start_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.StartValidation)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    state = await run_in_transaction(
        update,
        context,
        start_validation,
        incident_id=incident_id,
        user_id=query.from_user.id,
        is_admin=rt.is_admin(query.from_user.id),
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if state is None:
        return
    await answer_query(query, texts.DONE)
    await broadcast(
        context,
        texts.validation_request(incident_id, state),
        validation_markup(state),
        record=(incident_id, validation_kind(state.round)),
    )
    await show_panel(context, incident_id)
    await refresh_cards(context, incident_id)


async def answer_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.SectorAnswer)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id, round_number = context.runtime, pressed.incident_id, pressed.round
    result = await run_in_transaction(
        update,
        context,
        answer_validation,
        incident_id=incident_id,
        round_number=round_number,
        person=person_of(query.from_user),
        chat_sector=chat_sector_of(update, context),
        works=pressed.works,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if result is None:
        return
    await answer_query(query, texts.validation_noted(result.sector))
    still_open = result.works and not result.complete
    await _refresh_requests(context, result.state, still_open=still_open)
    await refresh_cards(context, incident_id)
    # Each group sees the answers on its own question (edited above) and on the card; only
    # the coordinator, who decides what comes next, gets a message.
    if not result.works:
        news = texts.validation_failed(incident_id, result.sector, query.from_user.full_name)
        await show_panel(context, incident_id, news, fresh=True)
    elif result.complete:
        await show_panel(context, incident_id, texts.validation_complete(incident_id), fresh=True)


async def override_pressed(update: Update, context: Context) -> None:
    """ "Seguir sin los que faltan": why? The usual reasons are buttons; "Otro motivo" asks
    for a typed one."""
    parsed = await parse_button(update, context, buttons.GoOnWithout)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    incident_id = pressed.incident_id
    missing = await _silent_sectors(update, context, incident_id)
    if missing is None:
        return
    await answer_query(query)
    reasons = [*texts.SKIP_REASONS, texts.BUTTON_OTHER_REASON]
    rows = [[buttons.SkipReason(incident_id, i).key(label)] for i, label in enumerate(reasons)]
    await send(
        context,
        update.effective_chat.id,
        texts.override_question(missing),
        InlineKeyboardMarkup(rows),
        priority=CHATTER,
    )


async def _silent_sectors(update: Update, context: Context, incident_id: int) -> list[str] | None:
    """The sectors the presser may go on without (None once refused, after answering)."""
    rt, user = context.runtime, update.effective_user
    assert user is not None
    missing: list[str] | None = await run_in_transaction(
        update,
        context,
        sectors_to_override,
        incident_id=incident_id,
        user_id=user.id,
        is_admin=rt.is_admin(user.id),
        protocol=rt.protocol,
    )
    return missing


async def skip_reason_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.SkipReason)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    incident_id = pressed.incident_id
    if pressed.reason < len(texts.SKIP_REASONS):
        await _go_on_without(update, context, incident_id, texts.SKIP_REASONS[pressed.reason])
        return
    missing = await _silent_sectors(update, context, incident_id)
    if missing is None:
        return
    await answer_query(query)
    await send(
        context,
        update.effective_chat.id,
        texts.override_prompt(query.from_user.id, query.from_user.full_name, missing),
        ForceReply(selective=True),
        priority=CHATTER,
        record=(incident_id, MessageKind.OVERRIDE_PROMPT),
    )


async def override_reason_replied(
    update: Update, context: Context, incident_id: int, reason: str
) -> None:
    await _go_on_without(update, context, incident_id, reason)


async def _go_on_without(update: Update, context: Context, incident_id: int, reason: str) -> None:
    """Go on without the silent sectors, for `reason`: a press gets a toast (its buttons go),
    a typed reason the panel's news; the panel shows the all-clear button next."""
    user, query = update.effective_user, update.callback_query
    if user is None:
        return
    rt = context.runtime
    result = await run_in_transaction(
        update,
        context,
        override_missing,
        incident_id=incident_id,
        user_id=user.id,
        is_admin=rt.is_admin(user.id),
        reason=reason,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if result is None:
        return
    done = texts.override_done(result.missing, reason)
    if query is not None:
        await answer_query(query, done)
        await clear_pressed_buttons(context, query)
    await _refresh_requests(context, result.state, still_open=False)
    await refresh_cards(context, incident_id)
    if query is None:  # typed: the panel comes again below the reply, with the reason on top
        await show_panel(context, incident_id, texts.esc(done), fresh=True)
    else:
        await show_panel(context, incident_id)


def register(app: Application) -> None:
    register_prompt(app, MessageKind.OVERRIDE_PROMPT, override_reason_replied)
    app.add_handler(CallbackQueryHandler(start_pressed, pattern=buttons.StartValidation.pattern()))
    app.add_handler(CallbackQueryHandler(answer_pressed, pattern=buttons.SectorAnswer.pattern()))
    app.add_handler(CallbackQueryHandler(override_pressed, pattern=buttons.GoOnWithout.pattern()))
    app.add_handler(CallbackQueryHandler(skip_reason_pressed, pattern=buttons.SkipReason.pattern()))
