"""/caido [lo que ves] (or a photo with /caido as caption): open the incident or join it.

A report is the time the person wrote it, not the time the bot read it: updates Telegram kept
while the bot was down keep their own time. One read long after it was written first asks the
group whether FLEXUS still fails (see `late_pressed`). A forwarded /caido is nobody's report.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update, User
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import texts
from bot.protocol import maintenance
from bot.protocol.incidents import already_reported, cast_vote, open_or_join_incident
from bot.protocol.lifecycle import open_incident_id
from bot.transport import inbox, outbox
from handlers.drills import end_for_a_real_report
from handlers.kit import buttons
from handlers.kit.cards import announce_outcome, post_alert, refresh_cards, view_of
from handlers.kit.context import NEW_MESSAGES, STORED_TEXT_MAX, Context, person_of, topic_of
from handlers.kit.guards import allowed_here, parse_button
from handlers.kit.replies import answer_query, reply, send
from handlers.maintenance import hold_report
from handlers.sector import ask_sector_later
from models.vocab import CheckHealth, VoteChoice

COMMAND_PREFIX = re.compile(r"^/caido(?:@\w+)?\s*", re.IGNORECASE)
PHOTO_CAPTION = r"(?i)^/caido(?:@\w+)?(?:\s|$)"
ADDRESSED = re.compile(r"^/caido@(\w+)", re.IGNORECASE)
# A message this much older than the moment it is read was kept by Telegram while the bot was
# down (below it: clocks and the network).
LATE_SECONDS = 60.0


def written_at(message: Message, context: Context) -> tuple[datetime, bool]:
    """When the person wrote the message, on the bot's clock, and whether it is read late."""
    now = context.runtime.clock.now()
    delay = time.time() - message.date.timestamp()
    if delay <= LATE_SECONDS:
        return now, False
    return now - timedelta(seconds=delay), True


async def caido(update: Update, context: Context) -> None:
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    raw = message.text or message.caption or ""
    addressed = ADDRESSED.match(raw)
    if addressed and addressed.group(1).lower() != (context.bot.username or "").lower():
        return  # a photo captioned /caido@otherbot is for that bot, as a typed command is
    if not await allowed_here(update, context, private_ok=False):
        return
    if message.forward_origin is not None:
        await reply(update, texts.FORWARDED_REPORT)
        return
    rt = context.runtime
    at, late = written_at(message, context)
    received = rt.clock.now()
    async with rt.session(refusable=False) as session:
        planned = await maintenance.current_window(session, received)
        held = planned is not None and await open_incident_id(session) is None
    if planned is not None and held:
        await hold_report(update, context, planned)
        return
    if late and received - at > timedelta(minutes=rt.protocol.deadlines.stale_report_minutes):
        async with rt.session(refusable=False) as session:
            open_now = await open_incident_id(session)
        if open_now is None:
            await _ask_if_still_failing(update, context, user, at)
            return
    await report(
        context,
        user=user,
        message=message,
        text=raw,
        written=at,
        received=received if late else None,
    )


async def report(
    context: Context,
    *,
    user: User,
    message: Message,
    text: str,
    written: datetime,
    received: datetime | None,
    maintenance_id: int | None = None,
) -> None:
    """Record the report (opening or joining the incident) and send what it causes.
    `maintenance_id`: reported during that planned window ("es otra cosa")."""
    rt, chat_id = context.runtime, message.chat_id
    # A real report during a drill: the drill ends at once, and everyone reads this one is real.
    await end_for_a_real_report(context, user.id)
    photo = message.photo[-1].file_id if message.photo else None
    # A FLEXUS check down confirms what the person says (not during planned maintenance).
    check_down = None
    if rt.monitor is not None and maintenance_id is None:
        check_down = next(
            (
                spec.name
                for spec, seen in rt.monitor.states()
                if spec.role == "flexus" and seen is not None and seen.state is CheckHealth.DOWN
            ),
            None,
        )
    for _ in range(2):
        async with rt.session() as session:
            result = await open_or_join_incident(
                session,
                person=person_of(user),
                chat_id=chat_id,
                chat_sector=rt.chat_sector(chat_id),
                message_id=message.message_id,
                text=COMMAND_PREFIX.sub("", text, count=1).strip()[:STORED_TEXT_MAX],
                photo_file_id=photo,
                now=written,
                protocol=rt.protocol,
                received_at=received,
                maintenance_id=maintenance_id,
                check_down=check_down,
            )
        # A drill that started in between took the slot: it ends now, and this opens the real one.
        if result.opened or not await end_for_a_real_report(context, user.id):
            break
    if result.opened:
        await post_alert(context, result.incident_id)
        if photo is not None:
            caption = texts.photo_caption(result.incident_id)
            async with rt.session() as session:
                for other in rt.team_chat_ids:
                    if other != chat_id:
                        outbox.photo(
                            session, other, photo, caption, priority=outbox.NEWS, now=rt.clock.now()
                        )
    else:
        # Quiet groups: the card's tally shows who joined; the person gets a reaction, and the
        # group's flood budget stays for the news.
        async with rt.session(refusable=False) as session:
            outbox.reaction(
                session,
                chat_id,
                message.message_id,
                texts.JOINED_REACTION,
                now=rt.clock.now(),
                name=user.full_name,
                topic=topic_of(message),
            )
        await refresh_cards(context, result.incident_id)
    if result.became_general:
        await announce_outcome(context, await view_of(context, result.incident_id))
    if result.needs_sector:
        await ask_sector_later(context, chat_id, user.id)


async def report_anyway(update: Update, context: Context) -> None:
    """ "Es otra cosa: reportar igual" under a /caido held for planned maintenance: the held
    report opens (or joins) the incident as usual, marked as reported during the window."""
    parsed = await parse_button(update, context, buttons.MaintenanceReport)
    if parsed is None:
        return
    query, pressed = parsed
    held = await _held_report(context, query, pressed.update_id)
    if held is None:
        return
    message, done = held
    await answer_query(query, texts.LATE_ALREADY if done else texts.DONE)
    if done:
        return
    written, late = written_at(message, context)
    assert message.from_user is not None
    await report(
        context,
        user=message.from_user,
        message=message,
        text=message.text or message.caption or "",
        written=written,
        received=context.runtime.clock.now() if late else None,
        maintenance_id=pressed.window_id,
    )


async def _held_report(
    context: Context, query: CallbackQuery, update_id: int
) -> tuple[Message, bool] | None:
    """The /caido a question was asked about, read back from the inbox, and whether it is a
    report already; the question's buttons come off. None (answered) if it is gone."""
    rt = context.runtime
    async with rt.session(refusable=False) as session:
        data = await inbox.stored(session, update_id)
    original = Update.de_json(data, context.bot) if data is not None else None
    message = original.effective_message if original is not None else None
    if message is None or message.from_user is None:
        await answer_query(query, texts.STALE_BUTTON, alert=True)
        return None
    async with rt.session(refusable=False) as session:
        done = await already_reported(
            session, chat_id=message.chat_id, message_id=message.message_id
        )
        if query.message is not None:
            outbox.clear_markup(
                session, query.message.chat.id, query.message.message_id, now=rt.clock.now()
            )
    return message, done


async def _ask_if_still_failing(
    update: Update, context: Context, user: User, written: datetime
) -> None:
    """Hours later FLEXUS may work again: the group is asked before every sector is alerted."""
    rt = context.runtime
    text = texts.late_report_question(user.full_name, written, rt.clock.now(), rt.tz)
    markup = InlineKeyboardMarkup(
        [
            [
                buttons.LateReport(update.update_id, still_fails=True).key(texts.LATE_STILL_FAILS),
                buttons.LateReport(update.update_id, still_fails=False).key(texts.LATE_WORKS),
            ]
        ]
    )
    await reply(update, text, markup, priority=outbox.NEWS)


async def late_pressed(update: Update, context: Context) -> None:
    """The answer to "¿FLEXUS sigue fallando?": the late report becomes a report (and whoever
    pressed counts as affected too), or nobody is alerted."""
    parsed = await parse_button(update, context, buttons.LateReport)
    if parsed is None:
        return
    query, pressed = parsed
    rt = context.runtime
    held = await _held_report(context, query, pressed.update_id)
    if held is None:
        return
    message, done = held
    assert message.from_user is not None
    if done:
        await answer_query(query, texts.LATE_ALREADY)
        return
    if not pressed.still_fails:
        await answer_query(query, texts.DONE)
        if query.message is not None:
            await send(
                context,
                query.message.chat.id,
                texts.late_works(query.from_user.full_name),
                priority=outbox.CHATTER,
                reply_to=query.message.message_id,
                topic=topic_of(query.message),  # type: ignore[arg-type]
            )
        return
    await answer_query(query, texts.DONE)
    written, _ = written_at(message, context)
    await report(
        context,
        user=message.from_user,
        message=message,
        text=message.text or message.caption or "",
        written=written,
        received=rt.clock.now(),
    )
    if query.from_user.id == message.from_user.id:
        return
    async with rt.session() as session:
        incident_id = await open_incident_id(session)
        if incident_id is None:
            return
        vote = await cast_vote(
            session,
            incident_id=incident_id,
            person=person_of(query.from_user),
            chat_sector=rt.chat_sector(query.message.chat.id if query.message else message.chat_id),
            choice=VoteChoice.FAILS,
            now=rt.clock.now(),
            protocol=rt.protocol,
        )
    await refresh_cards(context, incident_id)
    if vote.became_general:
        await announce_outcome(context, await view_of(context, incident_id))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("caido", caido, filters=NEW_MESSAGES))
    app.add_handler(
        MessageHandler(NEW_MESSAGES & filters.PHOTO & filters.CaptionRegex(PHOTO_CAPTION), caido)
    )
    app.add_handler(CallbackQueryHandler(late_pressed, pattern=buttons.LateReport.pattern()))
    app.add_handler(
        CallbackQueryHandler(report_anyway, pattern=buttons.MaintenanceReport.pattern())
    )
