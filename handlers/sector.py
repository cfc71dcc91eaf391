"""/sector: each person picks their sector once, so tallies come out by sector."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.people import set_sector
from handlers.common import (
    NEW_MESSAGES,
    Context,
    allowed_here,
    answer_query,
    parse_button,
    person_of,
    reply,
    runtime,
)

SECTOR_DATA = re.compile(r"^s:(\d{1,2})$")


def sector_markup(sectors: list[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(name, callback_data=f"s:{i}")] for i, name in enumerate(sectors)]
    )


async def sector_command(update: Update, context: Context) -> None:
    if not await allowed_here(update, context, private_ok=True) or update.effective_message is None:
        return
    await reply(update, texts.SECTOR_PROMPT, sector_markup(runtime(context).protocol.team.sectors))


async def sector_chosen(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, SECTOR_DATA)
    if parsed is None:
        return
    query, match = parsed
    sectors = runtime(context).protocol.team.sectors
    if int(match[1]) >= len(sectors):
        await answer_query(query, texts.STALE_BUTTON, alert=True)
        return
    rt = runtime(context)
    async with rt.session() as session:
        member = await set_sector(
            session,
            person=person_of(query.from_user),
            sector=sectors[int(match[1])],
            now=rt.clock.now(),
        )
    await answer_query(query, texts.sector_set(member.sector or ""))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("sector", sector_command, filters=NEW_MESSAGES))
    app.add_handler(CallbackQueryHandler(sector_chosen, pattern=r"^s:"))
