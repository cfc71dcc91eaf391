"""/resuelto or the panel's 📣 button: the all-clear to every chat and person, "Entendido"
tracking, reminders only where a sector is missing, and the summary (short in the groups)."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.core.config import fold
from bot.protocol.allclear import (
    AckReminder,
    Summary,
    ack_reminder_due,
    acknowledge,
    close_with_summary,
    prepare_all_clear,
    private_recipients,
    record_cause,
    send_all_clear,
)
from bot.protocol.coordination import coordinator_contact
from bot.runtime import Runtime
from bot.team.chats import take_reminder_slots
from bot.timers.jobs import register_timer
from bot.timers.store import DueTimer
from handlers.drills import drill_summary
from handlers.kit import buttons
from handlers.kit.cards import broadcast, refresh_cards, show_panel, summary_text
from handlers.kit.context import NEW_MESSAGES, STORED_TEXT_MAX, Context, chat_sector_of, person_of
from handlers.kit.guards import allowed_here, is_member, noted, parse_button
from handlers.kit.prompts import register_prompt
from handlers.kit.replies import (
    CRITICAL,
    answer_query,
    clear_pressed_buttons,
    reply,
    run_in_transaction,
    send,
)
from models.vocab import MessageKind, TimerKind

COMMAND_PREFIX = re.compile(r"^/resuelto(?:@\w+)?\s*", re.IGNORECASE)


def restart_markup(incident_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                buttons.RestartAnswer(incident_id, restart=True).key(texts.BUTTON_RESTART_YES),
                buttons.RestartAnswer(incident_id, restart=False).key(texts.BUTTON_RESTART_NO),
            ]
        ]
    )


def ack_markup(incident_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[buttons.Acknowledge(incident_id).key(texts.BUTTON_ACK)]])


async def resuelto(update: Update, context: Context) -> None:
    """/resuelto [instrucción]: checks who and when, then asks about logging in again."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not await allowed_here(update, context, private_ok=True):
        return
    rt = context.runtime
    instruction = COMMAND_PREFIX.sub("", message.text or "", count=1).strip()[:STORED_TEXT_MAX]
    incident_id = await run_in_transaction(
        update,
        context,
        prepare_all_clear,
        user_id=user.id,
        is_admin=rt.is_admin(user.id),
        instruction=instruction,
        protocol=rt.protocol,
    )
    if incident_id is None:
        return
    await reply(update, texts.RESTART_QUESTION, reply_markup=restart_markup(incident_id))


async def all_clear_pressed(update: Update, context: Context) -> None:
    """ "📣 Avisar que FLEXUS volvió" on the coordinator's panel: as /resuelto with no
    instruction; the restart question follows, where the button was."""
    parsed = await parse_button(update, context, buttons.AllClear)
    if parsed is None or update.effective_chat is None:
        return
    query, _ = parsed
    rt = context.runtime
    incident_id = await run_in_transaction(
        update,
        context,
        prepare_all_clear,
        user_id=query.from_user.id,
        is_admin=rt.is_admin(query.from_user.id),
        instruction="",
        protocol=rt.protocol,
    )
    if incident_id is None:
        return
    await answer_query(query)
    await send(
        context, update.effective_chat.id, texts.RESTART_QUESTION, restart_markup(incident_id)
    )


async def restart_answered(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.RestartAnswer)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    # Privately only to current members: asked before the step takes the database (Telegram is
    # asked for anyone not seen lately), so the step never waits on the network.
    async with rt.read_session() as session:
        candidates = await private_recipients(session)
    members = {p for p in candidates if await is_member(context, p)}
    clear = await run_in_transaction(
        update,
        context,
        send_all_clear,
        incident_id=incident_id,
        user_id=query.from_user.id,
        is_admin=rt.is_admin(query.from_user.id),
        restart_session=pressed.restart,
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if clear is None:
        return
    await answer_query(query, texts.ALL_CLEAR_SENT)
    await clear_pressed_buttons(context, query)
    text = texts.all_clear(clear, rt.protocol.limits.description_max_chars)
    # Critical, to every team chat and privately to everyone who started the bot: committed
    # with the resolution itself, so a crash can delay the all-clear but never lose it.
    record = (incident_id, MessageKind.ALL_CLEAR)
    contingency = rt.protocol.contingency
    for chat_id in rt.team_chat_ids:
        # A sector that worked on paper is reminded, once, to load it into FLEXUS.
        on_paper = contingency.for_sector(rt.chat_sector(chat_id)) is not None
        after = texts.contingency_after(contingency.after) if on_paper else ""
        markup = ack_markup(incident_id)
        await send(context, chat_id, text + after, markup, priority=CRITICAL, record=record)
    for user_id in (p for p in clear.privately if p in members):
        await send(
            context, user_id, text, ack_markup(incident_id), priority=CRITICAL, record=record
        )
    await show_panel(context, incident_id)
    await refresh_cards(context, incident_id)
    await ask_cause(context, incident_id)


async def ask_cause(context: Context, incident_id: int) -> None:
    """Once, as the all-clear goes out: the coordinator is asked what support said caused it
    (privately when they pressed Start, else with a mention where they took the case)."""
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        contact = await coordinator_contact(session, incident_id)
    if contact is None:
        return
    private = contact.private_chat
    chat_id = contact.user_id if private else contact.fallback_chat_id
    text = texts.CAUSE_QUESTION
    if not private:
        text = f"{texts.mention(contact.user_id, contact.name)}: {text}"
    skip = InlineKeyboardMarkup([[buttons.SkipCause(incident_id).key(texts.BUTTON_SKIP_CAUSE)]])
    await send(context, chat_id, text, skip, record=(incident_id, MessageKind.CAUSE_PROMPT))


async def cause_replied(update: Update, context: Context, incident_id: int, text: str) -> None:
    user = update.effective_user
    if user is None:
        return
    rt = context.runtime
    told = await run_in_transaction(
        update,
        context,
        record_cause,
        incident_id=incident_id,
        user_id=user.id,
        is_admin=rt.is_admin(user.id),
        text=text,
        now=rt.clock.now(),
    )
    if told is not None:
        await reply(update, texts.CAUSE_SAVED)


async def acknowledged(update: Update, context: Context) -> None:
    parsed = await parse_button(update, context, buttons.Acknowledge)
    if parsed is None:
        return
    query, pressed = parsed
    rt, incident_id = context.runtime, pressed.incident_id
    result = await run_in_transaction(
        update,
        context,
        acknowledge,
        incident_id=incident_id,
        person=person_of(query.from_user),
        chat_sector=chat_sector_of(update, context),
        now=rt.clock.now(),
        protocol=rt.protocol,
    )
    if result is None:
        return
    await answer_query(query, texts.ACK_THANKS if result.new else texts.ACK_ALREADY)
    if result.new:
        await refresh_cards(context, incident_id)
    if result.complete:
        async with rt.session() as session:
            data = await close_with_summary(
                session, incident_id=incident_id, now=rt.clock.now(), protocol=rt.protocol
            )
        if data is not None:
            await publish_summary(context, data)


async def publish_summary(context: Context, data: Summary) -> None:
    """The summary that fits one phone screen to every team chat; the whole timeline privately
    to the coordinator and the admins (and in /informe); the card shows it closed."""
    rt = context.runtime
    short, full = texts.summary_short(data, rt.tz), summary_text(data, rt.tz)
    times = await drill_summary(context, data.incident_id)  # a drill: the team's own times
    if times:
        short, full = f"{short}\n\n{times}", f"{full}\n\n{times}"
    await broadcast(context, short, priority=CRITICAL)
    async with rt.session(refusable=False) as session:
        contact = await coordinator_contact(session, data.incident_id)
    # Privately only: in a group it would be the long message the groups are spared.
    private = {contact.user_id} if contact is not None and contact.private_chat else set()
    for user_id in sorted(private | set(rt.admin_ids)):
        await send(context, user_id, full)
    await refresh_cards(context, data.incident_id)


# --- sectors that did not read it; time up -------------------------------------------------------


async def remind_sectors_yet_to_confirm(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> AckReminder | None:
    return await ack_reminder_due(
        session, incident_id=timer.incident, now=rt.clock.now(), protocol=rt.protocol
    )


def reminder_chats(chats: dict[int, str | None], missing: list[str]) -> dict[int, list[str]]:
    """Where the sectors in `missing` are reminded: each in the groups tied to it; a sector
    with no group of its own in the groups tied to no sector (where its people are). Chat ->
    the missing sectors reminded there. Groups whose sectors all confirmed hear nothing."""
    wanted = {fold(s): s for s in missing}
    found: dict[int, list[str]] = {}
    for chat_id, sector in chats.items():
        if sector is not None and fold(sector) in wanted:
            found.setdefault(chat_id, []).append(wanted[fold(sector)])
    covered = {fold(s) for sectors in found.values() for s in sectors}
    homeless = [s for key, s in wanted.items() if key not in covered]
    if homeless:
        for chat_id, sector in chats.items():
            if sector is None:
                found.setdefault(chat_id, []).extend(homeless)
    return found


async def announce_ack_reminder(context: Context, reminder: AckReminder) -> None:
    """Sectors that have not confirmed the all-clear are reminded in their own groups (at most
    once a group every 30 minutes), their people mentioned, with the button on the reminder."""
    rt, incident_id = context.runtime, reminder.incident_id
    await refresh_cards(context, incident_id)
    targets = reminder_chats(rt.chats, reminder.missing)
    async with rt.session(refusable=False) as session:
        allowed = await take_reminder_slots(session, list(targets), now=rt.clock.now())
    for chat_id in allowed:
        sectors = targets[chat_id]
        people = [(uid, name) for uid, name, sector in reminder.people if sector in sectors]
        text = texts.ack_reminder(incident_id, sectors, people)
        await send(context, chat_id, text, ack_markup(incident_id))


async def close_when_time_is_up(
    rt: Runtime, session: AsyncSession, timer: DueTimer
) -> Summary | None:
    """Time is up for acknowledgements: close with whoever confirmed."""
    return await close_with_summary(
        session, incident_id=timer.incident, now=rt.clock.now(), protocol=rt.protocol
    )


def register(app: Application) -> None:
    register_timer(
        app, TimerKind.ACK_REMINDER, remind_sectors_yet_to_confirm, announce_ack_reminder
    )
    register_timer(app, TimerKind.ACK_DEADLINE, close_when_time_is_up, publish_summary)
    app.add_handler(CommandHandler("resuelto", resuelto, filters=NEW_MESSAGES))
    app.add_handler(CallbackQueryHandler(all_clear_pressed, pattern=buttons.AllClear.pattern()))
    app.add_handler(CallbackQueryHandler(restart_answered, pattern=buttons.RestartAnswer.pattern()))
    app.add_handler(CallbackQueryHandler(acknowledged, pattern=buttons.Acknowledge.pattern()))
    app.add_handler(
        CallbackQueryHandler(
            noted(buttons.SkipCause, texts.CAUSE_SKIPPED), pattern=buttons.SkipCause.pattern()
        )
    )
    register_prompt(app, MessageKind.CAUSE_PROMPT, cause_replied)
