"""/sector: each person picks their sector once, so tallies come out by sector."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.runtime import Runtime
from bot.team.members import people_without_sector, set_sector
from bot.transport import outbox
from handlers.kit import buttons
from handlers.kit.context import NEW_MESSAGES, Context, person_of
from handlers.kit.guards import allowed_here, parse_button
from handlers.kit.replies import answer_query, reply


def sector_markup(sectors: list[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[buttons.ChooseSector(i).key(name)] for i, name in enumerate(sectors)]
    )


async def sector_command(update: Update, context: Context) -> None:
    if not await allowed_here(update, context, private_ok=True) or update.effective_message is None:
        return
    await reply(update, texts.SECTOR_PROMPT, sector_markup(context.runtime.protocol.team.sectors))


async def sector_chosen(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.ChooseSector)
    if parsed is None:
        return
    query, pressed = parsed
    sectors = context.runtime.protocol.team.sectors
    if pressed.index >= len(sectors):
        await answer_query(query, texts.STALE_BUTTON, alert=True)
        return
    rt = context.runtime
    async with rt.session() as session:
        member = await set_sector(
            session,
            person=person_of(query.from_user),
            sector=sectors[pressed.index],
            now=rt.clock.now(),
        )
    await answer_query(query, texts.sector_set(member.sector or ""))


async def ask_sector_later(context: Context, chat_id: int, user_id: int) -> None:
    """The question goes out with the others of this group (see bot.transport.outbox.ask_sector)."""
    rt = context.runtime
    async with rt.session() as session:
        outbox.ask_sector(session, chat_id, user_id, now=rt.clock.now())


async def render_sector_question(
    rt: Runtime, user_ids: list[int]
) -> tuple[str, dict[str, Any] | None] | None:
    """The question for those of `user_ids` still without a sector; None if nobody is left."""
    async with rt.read_session() as session:
        people = await people_without_sector(session, user_ids)
    if not people:
        return None
    return texts.ask_sectors(people), sector_markup(rt.protocol.team.sectors).to_dict()


def register(app: Application) -> None:
    app.add_handler(CommandHandler("sector", sector_command, filters=NEW_MESSAGES))
    app.add_handler(CallbackQueryHandler(sector_chosen, pattern=buttons.ChooseSector.pattern()))
