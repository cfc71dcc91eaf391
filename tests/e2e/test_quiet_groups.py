"""Each group hears only news: a typical general failure, played as people play it, puts at
most six new messages in each group; what is meant for one person goes to that person."""

from __future__ import annotations

from pathlib import Path

from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, BotProcess, bot_env
from tests.support.fakebotapi import FakeBotAPI, command_update, press_update, reply_update
from tests.support.outage import ANA, CHATS, LUIS, MARTA, NOW, PROTOCOL, Outage, noise

NEWS_PER_GROUP = 6


def start(bot: BotProcess, api: FakeBotAPI, tmp_path: Path, protocol: str, now: str) -> None:
    bot.env = bot_env(api, tmp_path, protocol)
    bot.start(FLEXUS_NOW=now)


def test_a_general_failure_puts_at_most_six_new_messages_in_each_group(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    start(bot, fake_api, tmp_path, PROTOCOL, NOW)
    outage = Outage(fake_api)
    outage.play()
    for chat in CHATS:
        heard = noise(fake_api, chat)
        assert heard.new <= NEWS_PER_GROUP, (chat, heard.messages, heard.pins)
        # What each group got is news: the alert (pinned), the general failure, the
        # validation question, the all-clear and the summary.
        assert [m.split(" ")[0] for m in heard.messages] == [
            "<b>🔴",
            "🚨",
            "🔎",
            "✅",
            "📋",
        ], heard.messages
    # Every step was a button on the coordinator's panel, the all-clear included: the only
    # thing typed is the ticket number.
    assert (outage.taps, outage.typed) == (7, 1)
    # What support said is asked of Luis alone; «Saltar» only answers and takes its button off.
    ask = outage.sent(LUIS["id"], "¿Qué dijo soporte que pasó?")
    assert ask.buttons == [("Saltar", "cz:1")]
    assert outage.press(LUIS, "cz:1", (LUIS["id"],)).params["text"] == "Listo, sin causa."
    fake_api.settled()
    assert fake_api.buttons_on(LUIS["id"], ask.result["message_id"]) == []
    assert all(noise(fake_api, chat).new <= NEWS_PER_GROUP for chat in CHATS)
    # The panel went to Luis privately, and the old ones lost their buttons.
    panels = [c for c in fake_api.sent(LUIS["id"]) if "Gestionás el reclamo" in c.text]
    for older in panels[:-1]:
        assert fake_api.buttons_on(LUIS["id"], older.result["message_id"]) == []


def test_the_local_checklist_goes_to_the_reporter_alone(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    protocol = PROTOCOL + "\n[deadlines]\nconfirmation_minutes = 0.05\n"
    start(bot, fake_api, tmp_path, protocol, NOW)
    mark = fake_api.mark()
    fake_api.push(command_update(ANA["id"], ANA, "/start"))
    fake_api.wait_for(lambda c: c.chat_id == ANA["id"] and c.method == "sendMessage", after=mark)
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    card = fake_api.wait_for(
        lambda c: (
            c.method == "sendMessage" and c.chat_id == GROUP_ADMIN and "con problemas" in c.text
        )
    )
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], MARTA, "v:1:w"))
    checklist = fake_api.wait_for(
        lambda c: c.method == "sendMessage" and "puede ser algo de tu puesto" in c.text
    )
    assert checklist.chat_id == ANA["id"]
    fake_api.settled()
    for chat in CHATS:
        assert not [c for c in fake_api.sent(chat) if "puede ser algo de tu puesto" in c.text]
    # The groups see it on the card.
    assert "parece un problema local" in fake_api.text_of(GROUP_ADMIN, card.result["message_id"])


def test_the_ticket_question_takes_a_number_or_keeps_a_note(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    start(bot, fake_api, tmp_path, PROTOCOL, NOW)
    outage = Outage(fake_api)
    mark = outage.luis_calls_support()
    prompt = outage.sent(GROUP_ADMIN, "número de reclamo", after=mark)
    assert prompt.buttons == [("Sin número", "nr:1")]
    mark = fake_api.mark()
    words = "no me dieron número, dicen que llaman"
    fake_api.push(reply_update(GROUP_ADMIN, LUIS, words, prompt.result["message_id"]))
    noted = outage.sent(GROUP_ADMIN, "la guardé como nota", after=mark)
    assert "El reclamo queda sin número" in noted.text
    fake_api.settled()
    alert = next(c for c in fake_api.sent(GROUP_CAJA) if "con problemas" in c.text)
    card = fake_api.text_of(GROUP_CAJA, alert.result["message_id"])
    assert "Soporte contactado" in card and "reclamo" not in card.split("Soporte contactado")[1]
    # «Sin número» settles the question: its button goes.
    answered = outage.press(LUIS, "nr:1", (GROUP_ADMIN,))
    assert answered.params["text"] == "Anotado: sin número de reclamo."
    fake_api.settled()
    assert fake_api.buttons_on(GROUP_ADMIN, prompt.result["message_id"]) == []


def test_a_message_left_while_support_is_closed_is_not_a_call(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    # Tuesday 07:59:40: support opens at 08:00.
    start(bot, fake_api, tmp_path, PROTOCOL, "2026-11-24T07:59:40-03:00")
    outage = Outage(fake_api)
    mark = outage.luis_calls_support()
    question = outage.sent(GROUP_ADMIN, "¿Le dejaste un mensaje", after=mark)
    assert [d for _, d in question.buttons] == ["sm:1:y", "sm:1:n"]
    # Only the coordinator is asked: anyone else pressing the panel's button is refused
    refused = outage.press(MARTA, "sc:1", (GROUP_ADMIN,))
    assert "Solo quien coordina el reclamo (Luis Pérez)" in refused.params["text"]
    assert len([c for c in fake_api.sent(GROUP_ADMIN) if "¿Le dejaste" in c.text]) == 1
    noted = outage.press(LUIS, "sm:1:y", (GROUP_ADMIN,))
    assert noted.params["text"].startswith(
        "Anotado: dejaste mensaje a soporte. Abre hoy a las 08:00"
    )
    fake_api.settled()
    alert = next(c for c in fake_api.sent(GROUP_CAJA) if "con problemas" in c.text)
    card = fake_api.text_of(GROUP_CAJA, alert.result["message_id"])
    assert "📨 Se dejó mensaje a soporte a las 07:59; abre hoy a las 08:00." in card
    assert "Soporte está trabajando" not in card and "Soporte contactado" not in card
    assert fake_api.buttons_on(GROUP_ADMIN, question.result["message_id"]) == []
    # At 08:00 the coordinator is asked again, with the panel; the call counts only now
    opened = outage.sent(GROUP_ADMIN, "Si no te llamaron por tu mensaje, llamá ahora.", timeout=30)
    assert "sc:1" in [d for _, d in opened.buttons]
    mark = fake_api.mark()
    outage.press(LUIS, "sc:1", (GROUP_ADMIN,))
    outage.sent(GROUP_ADMIN, "número de reclamo", after=mark)
    fake_api.settled()
    card = fake_api.text_of(GROUP_CAJA, alert.result["message_id"])
    assert "📞 Soporte contactado a las 08:00" in card and "Se dejó mensaje" not in card
