"""The core outage loop through the real `flexus-bot run` process and the fake Bot API."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    TOKEN,
    BotProcess,
    write_protocol,
)
from tests.support.fakebotapi import (
    Call,
    FakeBotAPI,
    command_update,
    photo_update,
    press_update,
    user,
)

ANA = user(101, "Ana", "Gómez")
LUIS = user(102, "Luis", "Pérez")
MARTA = user(103, "Marta")
ADMIN = user(ADMIN_ID, "Admin")


def alert_in(api: FakeBotAPI, chat_id: int, after: int = 0) -> Call:
    return api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat_id
            and "incidente #" in c.text
            and "con problemas" in c.text
        ),
        after=after,
    )


def sent_text(api: FakeBotAPI, chat_id: int, fragment: str, after: int = 0) -> Call:
    return api.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == chat_id and fragment in c.text,
        after=after,
    )


def answer(api: FakeBotAPI, after: int) -> Call:
    return api.wait_for(lambda c: c.method == "answerCallbackQuery", after=after)


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_report_votes_general_and_all_clear(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido Error <b>de</b> conexión al facturar"))
    alerts = {chat: alert_in(fake_api, chat) for chat in (GROUP_CAJA, GROUP_ADMIN)}
    card = alerts[GROUP_ADMIN]
    assert "incidente #1" in card.text
    assert "Reportó Ana Gómez (Caja)" in card.text
    # user text shown exactly as typed, never as markup
    assert "“Error &lt;b&gt;de&lt;/b&gt; conexión al facturar”" in card.text
    assert "Afectados: Caja 1" in card.text
    assert card.buttons == [("A mí también me falla", "v:1:f"), ("A mí me funciona", "v:1:w")]
    fake_api.wait_for(lambda c: c.method == "pinChatMessage" and c.chat_id == GROUP_ADMIN)

    # Marta says it works; Luis (other sector) says it fails too → general
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], MARTA, "v:1:w"))
    assert answer(fake_api, mark).params["text"] == "Anotado: a vos te funciona."
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "v:1:f"))
    general = sent_text(fake_api, GROUP_CAJA, "Falla general de FLEXUS", after=mark)
    sent_text(fake_api, GROUP_ADMIN, "Falla general de FLEXUS", after=mark)
    assert "0351-5685000" in general.text
    assert "Le pasa a 2 personas de 2 sectores." in general.text
    fake_api.settled()
    live = fake_api.text_of(GROUP_CAJA, alerts[GROUP_CAJA].result["message_id"])
    assert "Falla general confirmada" in live
    assert "Afectados: Caja 1, Administración 1 · Les funciona: Administración 1" in live

    # A later /caido by someone else joins the same incident: a reaction on the report and
    # the card's tally answer it; the group gets no new message.
    mark = fake_api.mark()
    pedro = command_update(GROUP_CAJA, user(104, "Pedro"), "/caido")
    fake_api.push(pedro)
    reaction = fake_api.wait_for(lambda c: c.method == "setMessageReaction", after=mark)
    assert reaction.params["message_id"] == pedro["message"]["message_id"]
    fake_api.settled()
    assert "Caja 2" in fake_api.text_of(GROUP_CAJA, alerts[GROUP_CAJA].result["message_id"])
    assert not [c for c in fake_api.sent(GROUP_CAJA)[-3:] if "Sumado" in c.text]

    # The all-clear needs a coordinator (or an admin) and a validation first
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, MARTA, "/resuelto"))
    sent_text(fake_api, GROUP_ADMIN, "Primero alguien tiene que tomar el reclamo", after=mark)
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "y:1"))
    sent_text(fake_api, GROUP_ADMIN, "Gestionás el reclamo del incidente #1", after=mark)
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, MARTA, "/resuelto"))
    refusal = sent_text(fake_api, GROUP_ADMIN, "Solo quien coordina el reclamo", after=mark)
    assert "(Luis Pérez)" in refusal.text
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, ADMIN, "/resuelto"))
    sent_text(fake_api, GROUP_ADMIN, "cada sector tiene que confirmar", after=mark)

    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], ADMIN, "va:1"))
    request = sent_text(fake_api, GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
    assert "Caja ⏳ · Administración ⏳" in request.text
    fake_api.push(press_update(GROUP_CAJA, request.result["message_id"], ANA, "vq:1:1:y"))
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, request.result["message_id"], LUIS, "vq:1:1:y"))
    # The coordinator's panel says so (with the all-clear button); the groups see the question
    done = sent_text(fake_api, GROUP_ADMIN, "Todos los sectores respondieron", after=mark)
    assert ("📣 Avisar que FLEXUS volvió", "ac:1") in done.buttons

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, ADMIN, "/resuelto Cerrá FLEXUS <y> volvé a abrirlo"))
    question = sent_text(fake_api, GROUP_ADMIN, "¿Hay que reiniciar sesión", after=mark)
    assert [d for _, d in question.buttons] == ["rs:1:y", "rs:1:n"]
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, question.result["message_id"], ADMIN, "rs:1:y"))
    for chat in (GROUP_CAJA, GROUP_ADMIN):
        clear = sent_text(fake_api, chat, "FLEXUS nuevamente operativo", after=mark)
        assert "incidente #1" in clear.text and "Reiniciá sesión en FLEXUS" in clear.text
        assert "👉 Cerrá FLEXUS &lt;y&gt; volvé a abrirlo" in clear.text
        assert clear.buttons == [("👍 Entendido", "ok:1")]
    fake_api.settled()
    closed = fake_api.text_of(GROUP_CAJA, alerts[GROUP_CAJA].result["message_id"])
    assert "✅ Resuelto a las" in closed
    assert fake_api.buttons_on(GROUP_CAJA, alerts[GROUP_CAJA].result["message_id"]) == []

    # Old buttons answer that the vote closed
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, alerts[GROUP_CAJA].result["message_id"], LUIS, "v:1:w"))
    assert "ya cerró" in answer(fake_api, mark).params["text"]

    # No duplicate alerts were ever sent
    assert len([c for c in fake_api.sent(GROUP_CAJA) if "con problemas" in c.text]) == 1
    assert bot.stop() == 0
    assert TOKEN not in bot.log()
    assert TOKEN.split(":")[1] not in bot.log()


def test_photo_report_and_forged_buttons(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start()
    fake_api.push(photo_update(GROUP_CAJA, ANA, "/caido así se ve", file_id="PHOTO-42"))
    card = alert_in(fake_api, GROUP_ADMIN)
    assert "“así se ve”" in card.text and "📷 Adjuntó una foto del error." in card.text
    photo = fake_api.wait_for(lambda c: c.method == "sendPhoto")
    assert photo.chat_id == GROUP_ADMIN and photo.params["photo"] == "PHOTO-42"
    assert not fake_api.calls_of("sendPhoto", GROUP_CAJA)  # the reporter's chat has it already

    for data in ("v:999:f", "v:1:x", "zz", "l:1:nuclear"):
        mark = fake_api.mark()
        fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, data))
        text = answer(fake_api, mark).params["text"]
        assert text in {
            "No encuentro ese incidente.",
            "Este botón ya no sirve. Usá /estado para ver cómo está.",
        }, (data, text)


def test_local_checklist_path(bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path) -> None:
    protocol = write_protocol(tmp_path / "fast.toml", "[deadlines]\nconfirmation_minutes = 0.03\n")
    bot.start(FLEXUS_CONFIG=str(protocol))
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido no abre"))
    card = alert_in(fake_api, GROUP_ADMIN)
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "v:1:w"))
    checklist = sent_text(fake_api, GROUP_CAJA, "a los demás FLEXUS les funciona")
    assert "Cables de la PC" in checklist.text and "Internet" in checklist.text
    assert 'href="tg://user?id=101"' in checklist.text
    assert [data for _, data in checklist.buttons] == [
        "l:1:pc",
        "l:1:internet",
        "l:1:power",
        "l:1:works",
        "e:1",
    ]
    message_id = checklist.result["message_id"]

    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, message_id, LUIS, "l:1:internet"))
    assert answer(fake_api, mark).params["text"] == (
        "Solo quien reportó (Ana Gómez) o un admin puede hacer eso."
    )

    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, message_id, ANA, "l:1:internet"))
    dismissed = sent_text(fake_api, GROUP_ADMIN, "era un problema local", after=mark)
    assert "conexión a internet" in dismissed.text
    fake_api.settled()
    assert "Descartado" in fake_api.text_of(
        GROUP_CAJA, alert_in(fake_api, GROUP_CAJA).result["message_id"]
    )

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/estado"))
    assert (
        "no hay incidentes abiertos" in sent_text(fake_api, GROUP_ADMIN, "FLEXUS", after=mark).text
    )


def test_unconfirmed_then_escalate_anyway(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    protocol = write_protocol(tmp_path / "fast.toml", "[deadlines]\nconfirmation_minutes = 0.03\n")
    bot.start(FLEXUS_CONFIG=str(protocol))
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    # For Ana alone (she never pressed Start: in her group); the others see it on the card
    reminder = sent_text(fake_api, GROUP_CAJA, "nadie más respondió")
    assert reminder.buttons == [
        ("🚨 Llamar a soporte igual", "e:1"),
        ("✅ Ya me funciona", "l:1:works"),
    ]
    fake_api.settled()
    assert not [c for c in fake_api.sent(GROUP_ADMIN) if "nadie más respondió" in c.text]
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, reminder.result["message_id"], ANA, "e:1"))
    escalated = sent_text(fake_api, GROUP_CAJA, "sigue fallando", after=mark)
    assert "0351-5685000" in escalated.text and "falla general" in escalated.text


def test_restart_during_confirmation_loses_nothing(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start(FLEXUS_NOW="2026-11-24T08:40:00-03:00")
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
    card = alert_in(fake_api, GROUP_ADMIN)
    assert "a las 08:40" in card.text and "hasta las 08:45" in card.text
    fake_api.settled()
    bot.kill()

    # While the bot is down, Luis says it works: the update waits in Telegram's queue.
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "v:1:w"))
    # Back ten minutes later: the overdue deadline fires at start-up, once, after the vote.
    mark = fake_api.mark()
    bot.start(FLEXUS_NOW="2026-11-24T08:50:00-03:00")
    sent_text(fake_api, GROUP_CAJA, "a los demás FLEXUS les funciona", after=mark)
    fake_api.settled()
    bot.stop()
    mark = fake_api.mark()
    bot.start(FLEXUS_NOW="2026-11-24T08:55:00-03:00")
    fake_api.wait_idle(quiet=1.0)
    assert [
        c for c in fake_api.sent() if "les funciona" in c.text and fake_api.calls.index(c) >= mark
    ] == []
    assert (
        len([c for c in fake_api.sent(GROUP_CAJA) if "a los demás FLEXUS les funciona" in c.text])
        == 1
    )
    assert len([c for c in fake_api.sent(GROUP_CAJA) if "con problemas" in c.text]) == 1


def test_disabled_group_is_refused_and_nothing_stored(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    stranger_group = -1009999
    fake_api.push(command_update(stranger_group, ANA, "/caido se cayó"))
    refusal = sent_text(fake_api, stranger_group, "no está habilitado")
    fake_api.settled()
    assert [c.chat_id for c in fake_api.sent()] == [stranger_group]
    assert refusal.text.count("\n") == 0
    bot.stop()
    db = Path(bot.env["DATABASE_URL"].split("///", 1)[1])
    assert rows(db, "select count(*) from incidents") == [(0,)]
    assert rows(db, "select count(*) from members") == [(0,)]


def test_private_chat_commands(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    fake_api.chat_member_status[(GROUP_CAJA, 201)] = "member"
    bot.start(FLEXUS_NOW="2026-11-23T09:00:00-03:00")  # national holiday, before guardia opens
    fake_api.push(command_update(201, user(201, "Caro"), "/soporte"))
    support = sent_text(fake_api, 201, "0351-5685000")
    assert "Fuera de horario" in support.text
    assert (
        "Abre hoy a las 10:00 (guardia de domingos y feriados — feriado: Día de la Soberanía Nacional)"
        in support.text
    )

    fake_api.chat_member_status[(GROUP_CAJA, 202)] = "left"
    fake_api.chat_member_status[(GROUP_ADMIN, 202)] = "kicked"
    fake_api.push(command_update(202, user(202, "Extraño"), "/soporte"))
    assert "solo para el equipo" in sent_text(fake_api, 202, "equipo").text

    fake_api.push(command_update(201, user(201, "Caro"), "/caido"))
    sent_text(fake_api, 201, "en el grupo del equipo")

    mark = fake_api.mark()
    fake_api.push(command_update(201, user(201, "Caro"), "/sector"))
    prompt = sent_text(fake_api, 201, "¿De qué sector sos?", after=mark)
    assert [label for label, _ in prompt.buttons][:2] == ["Caja", "Administración"]
    mark = fake_api.mark()
    fake_api.push(press_update(201, prompt.result["message_id"], user(201, "Caro"), "s:3"))
    assert answer(fake_api, mark).params["text"] == "Listo: quedaste en Presupuestos."

    mark = fake_api.mark()
    fake_api.push(command_update(201, user(201, "Caro"), "/ayuda"))
    help_text = sent_text(fake_api, 201, "Si FLEXUS no funciona", after=mark)
    assert "/caido" in help_text.text and "Gerencia" in help_text.text


def test_member_without_sector_is_asked(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    group_no_sector = -1001003
    bot.start(TEAM_CHAT_IDS=f"{GROUP_CAJA},{GROUP_ADMIN},{group_no_sector}")
    fake_api.push(command_update(group_no_sector, MARTA, "/caido"))
    ask = sent_text(fake_api, group_no_sector, "¿de qué sector sos?")
    assert ("Caja", "s:0") in ask.buttons
    card = alert_in(fake_api, GROUP_CAJA)
    assert "Reportó Marta a las" in card.text and "sin sector 1" in card.text
    mark = fake_api.mark()
    fake_api.push(press_update(group_no_sector, ask.result["message_id"], MARTA, "s:1"))
    answer(fake_api, mark)
    mark = fake_api.mark()
    fake_api.push(command_update(group_no_sector, MARTA, "/estado"))
    status = sent_text(fake_api, group_no_sector, "incidente #1", after=mark)
    assert "Reportó Marta (Administración)" in status.text


def test_set_my_commands_failure_does_not_stop_the_bot(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    fake_api.fail("setMyCommands", code=400, description="Bad Request: something")
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/soporte"))
    sent_text(fake_api, GROUP_CAJA, "0351-5685000")
    assert "could not set the command list" in bot.log()


def test_network_trouble_at_start_is_waited_out(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    fake_api.fail("getMe", code=502, description="Bad Gateway", times=2)
    bot.start()
    assert len(fake_api.calls_of("getMe")) >= 3
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    alert_in(fake_api, GROUP_ADMIN)


def test_rejected_token_is_one_clear_line(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    fake_api.fail("getMe", code=401, description="Unauthorized")
    bot.start_only()
    assert bot.wait_exit() == 2
    last = bot.log().strip().splitlines()[-1]
    assert last == "flexus-bot: Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather"
    assert TOKEN not in bot.log()


def test_an_edited_report_is_not_a_second_report(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start()
    report = command_update(GROUP_CAJA, ANA, "/caido no fnciona")
    fake_api.push(report)
    alert_in(fake_api, GROUP_ADMIN)
    edited = {"edited_message": {**report["message"], "text": "/caido no funciona"}}
    fake_api.push(edited)
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, LUIS, "/estado"))
    status = sent_text(fake_api, GROUP_CAJA, "incidente #1", after=mark)
    fake_api.settled()
    assert "Afectados: Caja 1 ·" in status.text
    assert not [c for c in fake_api.sent() if "Sumado" in c.text or "Ya estás anotado" in c.text]


def test_unconfirmed_reporter_says_it_works_again(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    protocol = write_protocol(tmp_path / "fast.toml", "[deadlines]\nconfirmation_minutes = 0.03\n")
    bot.start(FLEXUS_CONFIG=str(protocol))
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    reminder = sent_text(fake_api, GROUP_CAJA, "nadie más respondió")
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_CAJA, reminder.result["message_id"], ANA, "l:1:works"))
    closed = sent_text(fake_api, GROUP_ADMIN, "Incidente #1 cerrado", after=mark)
    assert "falsa alarma, ya funciona" in closed.text
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/caido ahora a mí"))
    assert "incidente #2" in alert_in(fake_api, GROUP_CAJA, after=mark).text


def test_an_old_button_press_still_counts(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    # Presses queued while the bot was busy or down are too old to answer: the step must happen.
    fake_api.fail(
        "answerCallbackQuery",
        code=400,
        description="Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    card = alert_in(fake_api, GROUP_ADMIN)
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "v:1:f"))
    general = sent_text(fake_api, GROUP_CAJA, "Falla general de FLEXUS")
    assert "Le pasa a 2 personas de 2 sectores." in general.text
    # The refused answer is logged after the step's messages went out: wait for the line.
    deadline = time.monotonic() + 10
    while "could not answer a button press" not in bot.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "could not answer a button press" in bot.log()
