"""/soporte, /estado, /ayuda (also /start, /help): answers anyone on the team may ask for."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import texts
from bot.protocol import maintenance
from bot.protocol.access import is_gerencia
from bot.protocol.lifecycle import (
    open_incident_id,
)
from bot.team.chats import unreachable_chats
from bot.team.members import mark_private_chat
from handlers.kit.cards import card_text, support_text, view_of
from handlers.kit.context import NEW_MESSAGES, Context, is_private, person_of
from handlers.kit.guards import allowed_here, is_member
from handlers.kit.replies import reply


async def soporte(update: Update, context: Context) -> None:
    if await allowed_here(update, context, private_ok=True, needs_person=False):
        await reply(update, texts.soporte(support_text(context)))


async def estado(update: Update, context: Context) -> None:
    if not await allowed_here(update, context, private_ok=True, needs_person=False):
        return
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        incident_id = await open_incident_id(session)
        unreachable = await unreachable_chats(session)
    user = update.effective_user
    # Admins also see the team chats the bot cannot write to (they were told when it began).
    extra = ""
    if unreachable and user is not None and rt.is_admin(user.id):
        extra = "\n\n" + texts.unreachable_list(
            [(c.chat_id, c.title, c.last_error) for c in unreachable]
        )
    if incident_id is None:
        async with rt.session(refusable=False) as session:
            planned = await maintenance.current_window(session, rt.clock.now())
        now_text = texts.maintenance_started(planned, rt.tz) if planned else texts.estado_ok()
        await reply(update, now_text + extra)
        return
    view = await view_of(context, incident_id)
    await reply(update, card_text(context, view) + "\n\n" + support_text(context) + extra)


async def ayuda(update: Update, context: Context) -> None:
    user = update.effective_user
    if is_private(update) and user is not None:
        # In private, /start also says who the person is for the bot (their id is what an admin
        # needs to add them), and it is what lets the bot write to them later.
        rt = context.runtime
        gerencia = is_gerencia(rt.protocol, user.id)
        who = texts.whoami(user.id, rt.is_admin(user.id), gerencia)
        if not await is_member(context, user.id):
            await reply(update, f"{texts.PRIVATE_NOT_MEMBER}\n{who}")
            return
        async with rt.session(refusable=False) as session:
            await mark_private_chat(session, person=person_of(user), now=rt.clock.now())
        await reply(update, f"{texts.AYUDA}\n\n{who}")
        return
    if not await allowed_here(update, context, private_ok=True, needs_person=False):
        return
    await reply(update, texts.AYUDA)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("soporte", soporte, filters=NEW_MESSAGES))
    app.add_handler(CommandHandler("estado", estado, filters=NEW_MESSAGES))
    app.add_handler(CommandHandler(["ayuda", "start", "help"], ayuda, filters=NEW_MESSAGES))
