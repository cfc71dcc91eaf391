"""What real team groups do every week, through the real `flexus-bot run` process, against a
fake Bot API that answers the way Telegram does (see tests/support/fakebotapi.py): groups with topics,
closed and deleted topics, groups where the bot may not write, the bot removed and added back,
groups without reactions, cards Telegram will not edit, forwarded and late reports, and how
loud each message is. One test per situation; the README's "Grupos reales de Telegram" lists
them with what the bot does.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.support import forkserver
from tests.support.bot_process import ADMIN_ID, GROUP_ADMIN, GROUP_CAJA, BotProcess, sent_to
from tests.support.fakebotapi import (
    CHAT_WRITE_FORBIDDEN,
    Call,
    FakeBotAPI,
    command_update,
    photo_update,
    press_update,
    user,
)

ADMIN = user(ADMIN_ID, "Sofía", "Admin")
ANA = user(101, "Ana", "Gómez")  # Caja
LUIS = user(102, "Luis", "Pérez")  # Administración
PEDRO = user(104, "Pedro", "Sosa")  # Caja
ALERTAS, VENTAS = 12, 7  # topics of the Caja group


def rows(bot: BotProcess, sql: str) -> list[tuple[Any, ...]]:
    path = Path(bot.env["DATABASE_URL"].split("///", 1)[1])
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def alert_in(api: FakeBotAPI, chat_id: int, after: int = 0, timeout: float = 15.0) -> Call:
    return api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat_id
            and "con problemas" in c.text
            and c.result is not None
        ),
        timeout=timeout,
        after=after,
    )


def to_admin(api: FakeBotAPI, fragment: str, after: int = 0, timeout: float = 15.0) -> Call:
    return api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == ADMIN_ID
            and fragment in c.text
            and c.result is not None
        ),
        timeout=timeout,
        after=after,
    )


def in_topic(bot: BotProcess, api: FakeBotAPI, text: str, who: dict[str, Any] = ADMIN) -> None:
    """Someone writes `text` in the Caja group's "Alertas" topic."""
    api.push(command_update(GROUP_CAJA, who, text, topic=ALERTAS, topic_name="Alertas"))


# --- 2. topics ---------------------------------------------------------------------------------


def test_alerts_go_to_the_topic_where_habilitar_was_written(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    fake_api.make_forum(GROUP_CAJA, {ALERTAS: "Alertas", VENTAS: "Ventas"})
    bot.start()
    in_topic(bot, fake_api, "/habilitar Caja")
    answer = sent_to(fake_api, GROUP_CAJA, "habilitado")
    assert answer.params.get("message_thread_id") == ALERTAS  # the answer where it was asked
    assert "las alertas de FLEXUS llegan a este tema (“Alertas”)" in answer.text
    assert rows(bot, f"select alert_topic_id, alert_topic_name from team_chats "
                     f"where chat_id = {GROUP_CAJA}") == [(ALERTAS, "Alertas")]  # fmt: skip

    # Ana reports in the "Ventas" topic: the alert goes to the alert topic, the answers to
    # her go where she wrote.
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido no factura", topic=VENTAS))
    alert = alert_in(fake_api, GROUP_CAJA, after=mark)
    assert alert.params.get("message_thread_id") == ALERTAS
    assert alert_in(fake_api, GROUP_ADMIN, after=mark).params.get("message_thread_id") is None
    pin = fake_api.wait_for(
        lambda c: c.method == "pinChatMessage" and c.chat_id == GROUP_CAJA, after=mark
    )
    assert pin.params["message_id"] == alert.result["message_id"]
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/soporte", topic=VENTAS))
    soporte = sent_to(fake_api, GROUP_CAJA, "0351-5685000", after=mark)
    assert soporte.params.get("message_thread_id") == VENTAS

    # The card is edited in place in its topic.
    mark = fake_api.mark()
    card = alert.result["message_id"]
    fake_api.push(press_update(GROUP_CAJA, card, PEDRO, "v:1:f", topic=ALERTAS))
    fake_api.wait_for(
        lambda c: c.method == "editMessageText" and c.chat_id == GROUP_CAJA, after=mark
    )
    fake_api.settled()
    assert "Caja 2" in fake_api.text_of(GROUP_CAJA, card)

    # `flexus-bot chats` shows where the alerts go.
    listed = forkserver.run(["chats"], cwd=bot.workdir, env=bot.env, timeout=60)
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(str(GROUP_CAJA)))
    assert f"topic {ALERTAS} «Alertas»" in line


def test_a_closed_alert_topic_falls_back_to_general_once_and_tells_the_admins(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    fake_api.make_forum(GROUP_CAJA, {ALERTAS: "Alertas"})
    bot.start()
    in_topic(bot, fake_api, "/habilitar")
    sent_to(fake_api, GROUP_CAJA, "habilitado")
    fake_api.close_topic(GROUP_CAJA, ALERTAS)

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    alert = alert_in(fake_api, GROUP_CAJA, after=mark)
    assert alert.params.get("message_thread_id") is None  # General: nothing lost
    refused = fake_api.calls_of("sendMessage", GROUP_CAJA)
    assert [c.params.get("message_thread_id") for c in refused if c.result is None] == [ALERTAS]
    told = to_admin(fake_api, "tema de alertas", after=mark)
    assert "tema General" in told.text and "/habilitar" in told.text
    assert rows(bot, f"select alert_topic_id from team_chats where chat_id = {GROUP_CAJA}") == [
        (None,)
    ]
    # Once: the next message goes to General at the first try, and the admins hear nothing more.
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/caido"))
    general = sent_to(fake_api, GROUP_CAJA, "Falla general", after=mark)
    assert general.params.get("message_thread_id") is None
    fake_api.settled()
    later = [c for c in fake_api.calls_of("sendMessage", GROUP_CAJA)[len(refused) :]]
    assert all(c.result is not None for c in later)
    assert len([c for c in fake_api.sent(ADMIN_ID) if "tema de alertas" in c.text]) == 1


def test_a_deleted_topic_a_reply_goes_to_the_alert_topic_instead(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    fake_api.make_forum(GROUP_CAJA, {ALERTAS: "Alertas", VENTAS: "Ventas"})
    bot.start()
    in_topic(bot, fake_api, "/habilitar")
    sent_to(fake_api, GROUP_CAJA, "habilitado")
    fake_api.delete_topic(GROUP_CAJA, VENTAS)
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/soporte", topic=VENTAS))
    answer = sent_to(fake_api, GROUP_CAJA, "0351-5685000", after=mark)
    assert answer.params.get("message_thread_id") == ALERTAS
    fake_api.settled()
    assert not [c for c in fake_api.sent(ADMIN_ID) if "tema de alertas" in c.text]


def test_general_closed_in_a_group_without_alert_topic_is_a_group_the_bot_cannot_write_to(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    fake_api.make_forum(GROUP_CAJA, {ALERTAS: "Alertas"})
    fake_api.close_topic(GROUP_CAJA, None)
    bot.start()
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/caido"))
    alert_in(fake_api, GROUP_ADMIN, after=mark)
    told = to_admin(fake_api, "No puedo escribir", after=mark)
    assert "topic_closed" in told.text.lower()
    fake_api.settled()
    held = rows(
        bot,
        f"select count(*) from outbox where chat_id = {GROUP_CAJA} and status = 'pending' "
        "and priority = 0",
    )
    assert held == [(1,)]  # the alert waits for the group; it is not dropped


def test_gerencia_in_a_topic_without_answering_anyone_registers_nobody(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    """In a topic every message "answers" the topic's first message: that is nobody."""
    fake_api.make_forum(GROUP_CAJA, {ALERTAS: "Alertas"})
    bot.start()
    in_topic(bot, fake_api, "/gerencia")
    sent_to(fake_api, GROUP_CAJA, "Respondé al mensaje de la persona")
    fake_api.settled()
    assert rows(bot, "select count(*) from gerencia_contacts") == [(0,)]


# --- 3. a refusal never silences a sector ------------------------------------------------------


def test_a_group_that_refuses_writes_holds_the_alert_and_sends_it_when_the_bot_is_back(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    group = fake_api.group(GROUP_CAJA)
    group.write_refusal = CHAT_WRITE_FORBIDDEN  # someone took away the bot's right to write
    group.bot_status = "restricted"
    bot.start()
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/caido"))
    alert_in(fake_api, GROUP_ADMIN, after=mark)
    told = to_admin(fake_api, "No puedo escribir", after=mark)
    assert "chat_write_forbidden" in told.text.lower()
    fake_api.settled()
    # /estado tells the admin which group does not get the messages.
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, ADMIN, "/estado"))
    estado = sent_to(fake_api, GROUP_ADMIN, "no reciben mensajes", after=mark)
    assert str(GROUP_CAJA) in estado.text

    # Someone gives the bot back its rights (an admin again): Telegram says so, and what
    # waited goes out at once, not at the end of the back-off.
    group.write_refusal = None
    mark = fake_api.mark()
    back = fake_api.add_bot(GROUP_CAJA, "administrator")
    started = time.monotonic()
    fake_api.push(back)
    alert = alert_in(fake_api, GROUP_CAJA, after=mark, timeout=10)
    assert time.monotonic() - started < 10  # the back-off would have been 30 s or more
    note = to_admin(fake_api, "Volví al grupo", after=mark)
    assert "envié el aviso pendiente" in note.text
    assert note.at >= alert.at  # "envié": said once it was sent
    assert rows(bot, f"select reachable from team_chats where chat_id = {GROUP_CAJA}") == [(1,)]


def test_the_bot_removed_from_a_group_is_told_at_once_and_catches_up_when_added_back(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    mark = fake_api.mark()
    fake_api.push(fake_api.remove_bot(GROUP_CAJA, "kicked"))
    told = to_admin(fake_api, "No puedo escribir", after=mark)
    assert "me sacaron del grupo" in told.text
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/caido"))
    alert_in(fake_api, GROUP_ADMIN, after=mark)
    fake_api.settled()
    assert not fake_api.sent(GROUP_CAJA)

    mark = fake_api.mark()
    fake_api.push(fake_api.add_bot(GROUP_CAJA, "administrator"))
    alert_in(fake_api, GROUP_CAJA, after=mark, timeout=10)
    assert "envié el aviso pendiente" in to_admin(fake_api, "Volví al grupo", after=mark).text


# --- 4. every reporter hears back -------------------------------------------------------------


def test_where_reactions_are_off_a_joiner_gets_a_short_reply_and_the_next_one_at_once(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    fake_api.group(GROUP_CAJA).reactions = frozenset()  # reactions turned off in the group
    bot.start()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/caido"))
    alert_in(fake_api, GROUP_CAJA)
    mark = fake_api.mark()
    first = command_update(GROUP_CAJA, ANA, "/caido")
    fake_api.push(first)
    answer = sent_to(fake_api, GROUP_CAJA, "Anotado, Ana Gómez", after=mark)
    assert answer.params["reply_parameters"]["message_id"] == first["message"]["message_id"]
    assert answer.params.get("disable_notification") is True
    refused = fake_api.calls_of("setMessageReaction", GROUP_CAJA)
    assert len(refused) == 1 and refused[0].result is None

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, PEDRO, "/caido"))
    sent_to(fake_api, GROUP_CAJA, "Anotado, Pedro Sosa", after=mark)
    assert len(fake_api.calls_of("setMessageReaction", GROUP_CAJA)) == 1  # no refused try again
    assert rows(bot, f"select reactions_ok from team_chats where chat_id = {GROUP_CAJA}") == [(0,)]


def test_a_card_telegram_will_not_edit_is_posted_again_and_pinned_once(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    card = alert_in(fake_api, GROUP_CAJA)
    fake_api.settled()
    fake_api.make_uneditable(GROUP_CAJA, card.result["message_id"])
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, card.result["message_id"], PEDRO, "v:1:f"))
    again = alert_in(fake_api, GROUP_CAJA, after=mark)
    assert again.params.get("disable_notification") is True  # the same card, not news
    fake_api.settled()
    new_id = again.result["message_id"]
    assert "Caja 2" in fake_api.text_of(GROUP_CAJA, new_id)
    assert fake_api.pinned[GROUP_CAJA] == {new_id}  # the stale one is unpinned
    # The next change edits the new card; the old one is left alone.
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, new_id, LUIS, "v:1:w"))
    edit = fake_api.wait_for(
        lambda c: c.method == "editMessageText" and c.chat_id == GROUP_CAJA, after=mark
    )
    assert edit.params["message_id"] == new_id
    fake_api.settled()
    reposts = [c for c in fake_api.sent(GROUP_CAJA) if "con problemas" in c.text]
    assert len(reposts) == 2


# --- 5. reports that are not what they seem ---------------------------------------------------


def test_a_forwarded_caido_is_not_a_report(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, PEDRO, "/caido no anda", forwarded_from=ANA))
    answer = sent_to(fake_api, GROUP_CAJA, "reenviado")
    assert "escribí /caido vos" in answer.text
    fake_api.settled()
    assert rows(bot, "select count(*) from incidents") == [(0,)]


def test_a_photo_for_another_bot_is_not_a_report(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start()
    fake_api.push(photo_update(GROUP_CAJA, ANA, "/caido@otro_bot pantalla"))
    fake_api.push(command_update(GROUP_CAJA, ANA, "/soporte"))
    sent_to(fake_api, GROUP_CAJA, "0351-5685000")
    fake_api.settled()
    assert rows(bot, "select count(*) from incidents") == [(0,)]
    # Addressed to this bot it is one.
    fake_api.push(photo_update(GROUP_CAJA, ANA, "/caido@flexus_guardia_bot pantalla"))
    alert_in(fake_api, GROUP_ADMIN)


def test_a_report_read_late_keeps_the_time_it_was_written(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    written = int(time.time()) - 10 * 60  # Telegram kept it 10 minutes while the bot was down
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido", date=written))
    alert = alert_in(fake_api, GROUP_CAJA)
    assert "Recibido a las" in alert.text and "el bot estuvo fuera de servicio" in alert.text
    fake_api.settled()
    ((opened, received),) = rows(bot, "select opened_at, received_at from incidents")
    from datetime import datetime

    gap = datetime.fromisoformat(received) - datetime.fromisoformat(opened)
    assert 9 * 60 < gap.total_seconds() < 11 * 60
    # The others still get the usual five minutes to answer, from when the bot read it.
    ((due,),) = rows(bot, "select due_at from timers where kind = 'confirmation'")
    answer_time = datetime.fromisoformat(due) - datetime.fromisoformat(received)
    assert 4.9 * 60 < answer_time.total_seconds() <= 5 * 60 + 1


def test_a_report_hours_old_asks_whether_flexus_still_fails_before_alerting_anyone(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    written = int(time.time()) - 3 * 3600
    report = command_update(GROUP_CAJA, ANA, "/caido no factura", date=written)
    fake_api.push(report)
    question = sent_to(fake_api, GROUP_CAJA, "¿FLEXUS sigue fallando?")
    assert "Ana Gómez avisó con /caido a las" in question.text
    fake_api.settled()
    assert not [c for c in fake_api.sent(GROUP_ADMIN)]  # nobody else alerted yet
    assert rows(bot, "select count(*) from incidents") == [(0,)]

    # Pedro says it still fails: every sector hears it, and both count as affected.
    yes = next(d for label, d in question.buttons if label.startswith("Sí"))
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, question.result["message_id"], PEDRO, yes))
    alert = alert_in(fake_api, GROUP_ADMIN, after=mark)
    assert "Reportó Ana Gómez" in alert.text and "“no factura”" in alert.text
    fake_api.settled()
    assert "Caja 2" in fake_api.text_of(GROUP_ADMIN, alert.result["message_id"])
    # The question's buttons are gone; pressing an old one again adds nothing.
    assert fake_api.buttons_on(GROUP_CAJA, question.result["message_id"]) == []
    fake_api.push(press_update(GROUP_CAJA, question.result["message_id"], LUIS, yes))
    fake_api.settled()
    assert rows(bot, "select count(*) from reports") == [(1,)]


def test_a_report_hours_old_that_works_again_alerts_nobody(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido", date=int(time.time()) - 5 * 3600))
    question = sent_to(fake_api, GROUP_CAJA, "¿FLEXUS sigue fallando?")
    works = next(d for label, d in question.buttons if label == "Ya funciona")
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, question.result["message_id"], PEDRO, works))
    sent_to(fake_api, GROUP_CAJA, "no aviso a nadie", after=mark)
    fake_api.settled()
    assert rows(bot, "select count(*) from incidents") == [(0,)]
    assert not fake_api.sent(GROUP_ADMIN)


# --- 6. sound and length ----------------------------------------------------------------------


def test_the_first_alert_rings_the_pin_and_chatter_is_silent(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    alert = alert_in(fake_api, GROUP_ADMIN)
    assert not alert.params.get("disable_notification")
    pin = fake_api.wait_for(lambda c: c.method == "pinChatMessage" and c.chat_id == GROUP_ADMIN)
    assert pin.params.get("disable_notification") is False  # muted groups still hear it
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/soporte"))
    answer = sent_to(fake_api, GROUP_CAJA, "0351-5685000", after=mark)
    assert answer.params.get("disable_notification") is True
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, alert.result["message_id"], LUIS, "v:1:f"))
    general = sent_to(fake_api, GROUP_ADMIN, "Falla general", after=mark)
    assert not general.params.get("disable_notification")  # news rings
    edit = fake_api.wait_for(lambda c: c.method == "editMessageText", after=mark)
    assert "disable_notification" not in edit.params  # an edit never notifies
