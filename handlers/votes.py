"""The confirmation poll: "A mí también me falla" / "A mí me funciona" on the alert card."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from bot.protocol.incidents import (
    cast_vote,
    confirmation_deadline,
)
from bot.runtime import Runtime
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.kit import buttons
from handlers.kit.cards import announce_outcome, refresh_cards, view_of
from handlers.kit.context import Context, chat_sector_of, person_of
from handlers.kit.guards import parse_button
from handlers.kit.replies import answer_query, run_in_transaction
from handlers.sector import ask_sector_later
from models.vocab import TimerKind


async def vote(update: Update, context: Context) -> None:
    # The vote stores the voter (with their chat's sector) itself: one write, not two.
    parsed = await parse_button(update, context, buttons.Vote, remember=False)
    if parsed is None:
        return
    query, pressed = parsed
    rt, choice = context.runtime, pressed.choice
    result = await run_in_transaction(
        update,
        context,
        cast_vote,
        incident_id=pressed.incident_id,
        person=person_of(query.from_user),
        chat_sector=chat_sector_of(update, context),
        choice=choice,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if result is None:
        return
    if not result.changed:
        await answer_query(query, texts.VOTE_SAME)
        return
    await answer_query(query, texts.VOTE_NOTED[choice])
    await refresh_cards(context, result.incident_id)
    if result.became_general:
        await announce_outcome(context, await view_of(context, result.incident_id))
    if result.needs_sector and result.first_vote and update.effective_chat is not None:
        await ask_sector_later(context, update.effective_chat.id, query.from_user.id)


# --- the deadline for votes ----------------------------------------------------------------


async def classify_when_votes_close(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> int | None:
    """Nobody can wait forever for votes: decide general, probably local or unconfirmed."""
    outcome = await confirmation_deadline(
        session, incident_id=timer.incident, now=rt.clock.now(), protocol=rt.protocol
    )
    return None if outcome is None else timer.incident


async def announce_classification(context: Context, incident_id: int) -> None:
    await refresh_cards(context, incident_id)
    await announce_outcome(context, await view_of(context, incident_id))


def register(app: Application) -> None:
    register_timer(app, TimerKind.CONFIRMATION, classify_when_votes_close, announce_classification)
    app.add_handler(CallbackQueryHandler(vote, pattern=buttons.Vote.pattern()))
