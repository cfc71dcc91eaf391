"""A follow-up through the real process: written as a reply to Marta (she owns it), due today,
reminded to her privately at once (the workday is under way), closed from the reminder's
button, listed by /pendientes and shown in /informe."""

from __future__ import annotations

import time
from typing import Any

from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, BotProcess, sent_to
from tests.support.fakebotapi import FakeBotAPI, chat, command_update, press_update
from tests.support.outage import ANA, LUIS, MARTA, NOW


def replying_to(update: dict[str, Any], sender: dict[str, Any], message_id: int) -> dict[str, Any]:
    """`update` written as a reply to a message of `sender`'s in the same chat."""
    message = update["message"]
    message["reply_to_message"] = {
        "message_id": message_id,
        "date": int(time.time()) - 30,
        "chat": chat(message["chat"]["id"]),
        "from": sender,
        "text": "Yo hablo con el proveedor",
    }
    return update


def test_a_follow_up_is_owned_reminded_closed_and_reported(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start(FLEXUS_NOW=NOW)  # a Tuesday, 09:00: the workday is under way
    mark = fake_api.mark()
    fake_api.push(command_update(MARTA["id"], MARTA, "/start"))  # she pressed Start
    sent_to(fake_api, MARTA["id"], "", after=mark)
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido No factura"))
    sent_to(fake_api, GROUP_CAJA, "FLEXUS con problemas")

    mark = fake_api.mark()
    fake_api.push(
        replying_to(
            command_update(
                GROUP_ADMIN, LUIS, "/seguimiento 1 pedir el informe del corte para 24/11"
            ),
            MARTA,
            77,
        )
    )
    added = sent_to(fake_api, GROUP_ADMIN, "📌 Seguimiento 1 del incidente #1", after=mark)
    assert "a cargo de Marta Ríos, para el 24/11" in added.text
    reminder = sent_to(
        fake_api, MARTA["id"], "Hoy vence un seguimiento del incidente #1", after=mark
    )
    assert "“pedir el informe del corte”" in reminder.text
    assert reminder.buttons == [("✅ Hecho", "fd:1")]

    # Wrong input: a date that does not exist, an incident that does not, nothing at all.
    for typed, answer in (
        ("/seguimiento 1 revisar el UPS para 31/2", "Esa fecha no existe"),
        ("/seguimiento 99 revisar el UPS", "No encuentro ese incidente"),
        ("/seguimiento", "Para anotar algo que quedó pendiente"),
    ):
        mark = fake_api.mark()
        fake_api.push(command_update(GROUP_ADMIN, LUIS, typed))
        sent_to(fake_api, GROUP_ADMIN, answer, after=mark)

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/pendientes"))
    listed = sent_to(fake_api, GROUP_ADMIN, "Seguimientos pendientes (1)", after=mark)
    assert "1. #1 “pedir el informe del corte” — Marta Ríos, para el 24/11" in listed.text

    # Ana neither owns it nor wrote it: refused. Marta closes it from the reminder.
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, listed.message_id or 0, ANA, "fd:1"))
    refused = fake_api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
    assert "Solo quien lo tiene a cargo" in refused.params["text"]
    mark = fake_api.mark()
    fake_api.push(press_update(MARTA["id"], reminder.message_id or 0, MARTA, "fd:1"))
    done = fake_api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
    assert "Seguimiento 1 hecho" in done.params["text"]

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/pendientes"))
    sent_to(fake_api, GROUP_ADMIN, "No hay seguimientos pendientes", after=mark)
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/informe 1"))
    report = sent_to(fake_api, GROUP_ADMIN, "<b>Seguimientos</b>", after=mark)
    assert "1. “pedir el informe del corte” — Marta Ríos, para el 24/11 · ✅ hecho" in report.text
    fake_api.settled()
    assert len([c for c in fake_api.sent(MARTA["id"]) if "Hoy vence" in c.text]) == 1
