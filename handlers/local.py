"""Probably local / unconfirmed: the reporter records a local cause, or escalates anyway."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from bot import texts
from bot.incidents import (
    dismiss_as_local,
    escalate,
)
from bot.lifecycle import (
    Refused,
)
from bot.vocab import LocalCause
from handlers.cards import announce_outcome, broadcast, refresh_cards, view_of
from handlers.common import Context, answer_query, answer_refusal, parse_button, runtime

CAUSE_DATA = re.compile(r"^l:(\d{1,9}):(pc|internet|power|works)$")
ESCALATE_DATA = re.compile(r"^e:(\d{1,9})$")


async def local_cause(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, CAUSE_DATA)
    if parsed is None:
        return
    query, match = parsed
    rt, user_id, incident_id = runtime(context), query.from_user.id, int(match[1])
    try:
        async with rt.session() as session:
            await dismiss_as_local(
                session,
                incident_id=incident_id,
                user_id=user_id,
                is_admin=rt.is_admin(user_id),
                cause=LocalCause(match[2]),
                now=rt.clock.now(),
            )
    except Refused as refused:
        await answer_refusal(update, refused)
        return
    await answer_query(query, texts.DISMISSED_OK)
    await refresh_cards(context, incident_id)
    await broadcast(context, texts.dismissed(await view_of(context, incident_id)))


async def escalate_anyway(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, ESCALATE_DATA)
    if parsed is None:
        return
    query, match = parsed
    rt, user_id, incident_id = runtime(context), query.from_user.id, int(match[1])
    try:
        async with rt.session() as session:
            moved = await escalate(
                session,
                incident_id=incident_id,
                user_id=user_id,
                is_admin=rt.is_admin(user_id),
                now=rt.clock.now(),
                protocol=rt.protocol,
            )
    except Refused as refused:
        await answer_refusal(update, refused)
        return
    await answer_query(query, texts.ESCALATED_OK)
    await refresh_cards(context, incident_id)
    if moved:
        await announce_outcome(context, await view_of(context, incident_id), escalated=True)


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(local_cause, pattern=r"^l:"))
    app.add_handler(CallbackQueryHandler(escalate_anyway, pattern=r"^e:"))
