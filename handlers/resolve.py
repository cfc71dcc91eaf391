"""/resuelto [instrucción]: FLEXUS works again; tell every team chat at once."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import notify, texts
from bot.incidents import Refused, resolve
from handlers.cards import refresh_cards
from handlers.common import Context, allowed_here, reply, runtime

COMMAND_PREFIX = re.compile(r"^/resuelto(?:@\w+)?\s*", re.IGNORECASE)


async def resuelto(update: Update, context: Context) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not await allowed_here(update, context, private_ok=True):
        return
    rt = runtime(context)
    instruction = COMMAND_PREFIX.sub("", message.text or "", count=1).strip()
    try:
        async with rt.session() as session:
            done = await resolve(
                session,
                user_id=user.id,
                is_admin=rt.is_admin(user.id),
                instruction=instruction or None,
                now=rt.clock.now(),
            )
    except Refused as refused:
        await reply(update, texts.REFUSALS[refused.reason])
        return
    text = texts.all_clear(
        done.incident_id,
        done.closed_at - done.opened_at,
        done.instruction,
        rt.protocol.limits.description_max_chars,
    )
    await notify.broadcast(context.bot, rt.team_chat_ids, text)
    await refresh_cards(context, done.incident_id)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("resuelto", resuelto))
