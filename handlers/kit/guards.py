"""Who may use the bot here: enabled team chats, members in private, a pressed button's data."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from telegram import CallbackQuery, Update, User
from telegram.constants import ChatType

from bot import texts
from bot.team import admin
from bot.team.members import note_member
from handlers.kit.buttons import Button
from handlers.kit.context import Context, is_anonymous, person_of
from handlers.kit.replies import answer_query, clear_pressed_buttons, reply

log = logging.getLogger(__name__)


async def is_member(context: Context, user_id: int, where: int | None = None) -> bool:
    """In at least one enabled team chat right now (see bot.team.membership)."""
    rt = context.runtime
    value: bool = await rt.membership.is_member(context.bot, user_id, where)
    return value


async def allowed_here(
    update: Update, context: Context, *, private_ok: bool, needs_person: bool = True
) -> bool:
    """An enabled team chat, or a private chat with a team member (where `private_ok`).

    A step that records someone's action (`needs_person`) refuses anonymous admins.
    Anything else gets one short refusal and nothing is stored.
    """
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    anonymous = is_anonymous(update)
    if chat.type == ChatType.PRIVATE:
        if not private_ok:
            await reply(update, texts.REPORT_IN_GROUP)
            return False
        if not await is_member(context, user.id):
            await reply(update, texts.PRIVATE_NOT_MEMBER)
            return False
        if needs_person:
            await remember_name(context, user)
        return True
    rt = context.runtime
    if rt.is_team_chat(chat.id) and anonymous:
        if needs_person:
            await reply(update, texts.NOT_A_PERSON)
            return False
        return True
    if not rt.is_team_chat(chat.id):
        # The group is listed (`flexus-bot chats`); the refusal says how to enable it.
        log.info("refused group %s (%r): not a team chat", chat.id, chat.title)
        async with rt.session(refusable=False) as session:
            await admin.seen_chat(session, chat_id=chat.id, title=chat.title, now=rt.clock.now())
        await reply(update, texts.not_enabled(chat.id))
        return False
    rt.membership.note(user.id, chat.id, True)  # writing in the group: they are in it
    if needs_person:
        await remember_name(context, user)
    return True


async def allowed_button(update: Update, context: Context, *, remember: bool = True) -> bool:
    """Buttons work in team chats and private chats, for team members only; anything else is
    answered with a refusal (pressing a button never makes anyone a member). `remember`: the
    presser's name is stored here (False: the service the press leads to stores it)."""
    query, chat = update.callback_query, update.effective_chat
    if query is None:
        return False
    if chat is None or not (chat.type == ChatType.PRIVATE or context.runtime.is_team_chat(chat.id)):
        where = chat.id if chat is not None else 0
        await answer_query(query, texts.alert(texts.not_enabled(where)), alert=True)
        return False
    if not await is_member(context, query.from_user.id, chat.id):
        await answer_query(query, texts.PRIVATE_NOT_MEMBER, alert=True)
        return False
    if remember:
        await remember_name(context, query.from_user)
    return True


async def remember_name(context: Context, user: User) -> None:
    """Every actor in a timeline has a name, also an admin who never reported or voted."""
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        await note_member(session, person=person_of(user), now=rt.clock.now())


B = TypeVar("B", bound=Button)


def noted(
    button: type[Button], text: str
) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """The handler of a button that changes nothing: the press is answered with `text` and
    the pressed message loses its buttons (e.g. «Sin número», «Saltar»)."""

    async def pressed(update: Update, context: Context) -> None:
        parsed = await parse_button(update, context, button)
        if parsed is None:
            return
        await answer_query(parsed[0], text)
        await clear_pressed_buttons(context, parsed[0])

    return pressed


async def parse_button(
    update: Update, context: Context, button: type[B], *, remember: bool = True
) -> tuple[CallbackQuery, B] | None:
    """The pressed button and its validated data; anything else is answered and dropped.
    `remember`: see `allowed_button`."""
    query = update.callback_query
    if query is None or not await allowed_button(update, context, remember=remember):
        return None
    pressed = button.parse(query.data)
    if pressed is None:
        await answer_query(query, texts.STALE_BUTTON, alert=True)
        return None
    return query, pressed
