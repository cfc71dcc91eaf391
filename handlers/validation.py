"""Validation before going back to work: "¿FLEXUS funciona en tu sector?" ✅ / ❌."""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot import outbox, texts
from bot.validation import (
    ValidationState,
    answer_validation,
    override_missing,
    sectors_to_override,
    start_validation,
)
from bot.vocab import MessageKind, validation_kind
from handlers import buttons
from handlers.cards import broadcast, panel_markup, refresh_cards, tell_coordinator, view_of
from handlers.common import (
    CHATTER,
    Context,
    answer_query,
    chat_sector_of,
    markup_json,
    parse_button,
    person_of,
    reply,
    run_step,
    send,
)
from handlers.prompts import register_prompt


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
            [buttons.GoOnWithout(incident_id).key(texts.BUTTON_OVERRIDE)],
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
    state = await run_step(
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
    await refresh_cards(context, incident_id)


async def answer_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.SectorAnswer)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id, round_number = context.runtime, pressed.incident_id, pressed.round
    result = await run_step(
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
    view = await view_of(context, incident_id)
    if not result.works:
        text = texts.validation_failed(incident_id, result.sector, query.from_user.full_name)
        await broadcast(context, text)
        await tell_coordinator(context, incident_id, text, panel_markup(incident_id))
    elif result.complete:
        await broadcast(
            context,
            texts.validation_complete(incident_id, view.coordinator_id, view.coordinator_name),
        )


async def override_pressed(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.GoOnWithout)
    if parsed is None or update.effective_chat is None:
        return
    query, pressed = parsed
    rt, incident_id, user_id = context.runtime, pressed.incident_id, query.from_user.id
    missing = await run_step(
        update,
        context,
        sectors_to_override,
        incident_id=incident_id,
        user_id=user_id,
        is_admin=rt.is_admin(user_id),
        protocol=rt.protocol,
    )
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
    user = update.effective_user
    if user is None:
        return
    rt = context.runtime
    result = await run_step(
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
    await _refresh_requests(context, result.state, still_open=False)
    await refresh_cards(context, incident_id)
    await reply(update, texts.override_done(result.missing, reason))


def register(app: Application) -> None:
    register_prompt(app, MessageKind.OVERRIDE_PROMPT, override_reason_replied)
    app.add_handler(CallbackQueryHandler(start_pressed, pattern=buttons.StartValidation.pattern()))
    app.add_handler(CallbackQueryHandler(answer_pressed, pattern=buttons.SectorAnswer.pattern()))
    app.add_handler(CallbackQueryHandler(override_pressed, pattern=buttons.GoOnWithout.pattern()))
