"""Coordinator reminders, handing the case over, skipping a silent sector, and a refused pin."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    TOKEN,
    BotProcess,
    bot_env,
    write_protocol,
)
from tests.support.fakebotapi import (
    Call,
    FakeBotAPI,
    Mishap,
    command_update,
    press_update,
    reply_update,
    user,
)

ANA = user(101, "Ana", "Gómez")
LUIS = user(102, "Luis", "Pérez")
MARTA = user(103, "Marta", "Ríos")


def sent(api: FakeBotAPI, chat_id: int, fragment: str, after: int = 0) -> Call:
    return api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat_id
            and fragment in c.text
            and c.result is not None
        ),
        after=after,
    )


def press(api: FakeBotAPI, chat_id: int, message_id: int, who: dict[str, object], data: str) -> str:
    mark = api.mark()
    api.push(press_update(chat_id, message_id, who, data))
    return str(
        api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark).params.get("text", "")
    )


def general_incident(api: FakeBotAPI) -> int:
    """Ana (Caja) reports, Luis (Administración) confirms: a general failure. Returns the card id."""
    api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    card = sent(api, GROUP_ADMIN, "con problemas")
    api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "v:1:f"))
    sent(api, GROUP_CAJA, "Falla general de FLEXUS")
    return int(card.result["message_id"])


def test_coordinator_is_reminded_without_progress(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    protocol = write_protocol(
        tmp_path / "p.toml", "[deadlines]\ncoordinator_reminder_minutes = 0.03\n"
    )
    bot.start(FLEXUS_CONFIG=str(protocol), FLEXUS_NOW="2026-11-24T10:00:00-03:00")
    card_id = general_incident(fake_api)
    # Nobody took the case: the group is asked who calls support
    nobody = sent(fake_api, GROUP_CAJA, "nadie gestiona el reclamo")
    assert "FLEXUS sigue caído hace" in nobody.text
    assert nobody.buttons == [("🙋 Yo gestiono el reclamo", "y:1")]
    press(fake_api, GROUP_ADMIN, card_id, LUIS, "y:1")
    mark = fake_api.mark()
    # Luis never opened a private chat: his panel comes again, with the news on top, where he
    # took the case
    news = sent(fake_api, GROUP_ADMIN, "¿Novedades?", after=mark)
    assert news.text.startswith(
        '<a href="tg://user?id=102">Luis Pérez</a>: 🙋 <b>Gestionás el reclamo del incidente #1.'
        "</b>\n⏰ FLEXUS sigue caído"
    )
    assert [d for _, d in news.buttons] == ["sc:1", "ax:1", "va:1", "nw:1", "ho:1"]
    # ...and only there: the other team chat is not nagged about his case
    assert not [c for c in fake_api.sent(GROUP_CAJA) if "¿Novedades?" in c.text]


def test_hand_over_and_skip_a_silent_sector(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start(FLEXUS_NOW="2026-11-24T10:00:00-03:00")
    card_id = general_incident(fake_api)
    fake_api.push(press_update(GROUP_ADMIN, card_id, MARTA, "v:1:f"))  # Marta: Administración
    fake_api.settled()
    press(fake_api, GROUP_ADMIN, card_id, LUIS, "y:1")
    panel = sent(fake_api, GROUP_ADMIN, "Gestionás el reclamo")
    assert "Soporte disponible: horario comercial hasta las 18:30" in panel.text

    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, panel.result["message_id"], LUIS, "ho:1")
    menu = sent(fake_api, GROUP_ADMIN, "¿A quién le pasás la coordinación?", after=mark)
    assert ("Marta Ríos", "hu:1:103") in menu.buttons and ("Ana Gómez", "hu:1:101") in menu.buttons
    assert all(data != "hu:1:102" for _, data in menu.buttons)
    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, menu.result["message_id"], LUIS, "hu:1:103")
    # Marta gets the panel (in the group: she never pressed Start); Caja hears nothing new
    handed = sent(fake_api, GROUP_ADMIN, "Ahora Marta Ríos gestiona el reclamo", after=mark)
    assert handed.text.startswith('<a href="tg://user?id=103">Marta Ríos</a>: 🙋')
    assert "vo:1" not in [d for _, d in handed.buttons]
    fake_api.settled()
    assert fake_api.buttons_on(GROUP_ADMIN, panel.result["message_id"]) == []  # the old panel
    assert not [
        c for c in fake_api.calls[mark:] if c.chat_id == GROUP_CAJA and c.method == "sendMessage"
    ]
    assert press(fake_api, GROUP_ADMIN, menu.result["message_id"], LUIS, "hu:1:101") == (
        "Solo quien coordina el reclamo (Marta Ríos) o un admin puede hacer eso."
    )

    # Marta validates; Caja confirms, Administración stays silent; she goes on, giving a reason
    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, handed.result["message_id"], MARTA, "va:1")
    request = sent(fake_api, GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
    # «Seguir sin los que faltan» is on the coordinator's panel only, not on the question
    assert "vo:1" not in [d for _, d in request.buttons]
    press(fake_api, GROUP_CAJA, request.result["message_id"], ANA, "vq:1:1:y")
    fake_api.settled()
    _, shown = (
        fake_api.text_of(GROUP_ADMIN, handed.result["message_id"]),
        [d for _, d in fake_api.buttons_on(GROUP_ADMIN, handed.result["message_id"])],
    )
    assert shown == ["vo:1", "va:1", "nw:1", "ho:1"]
    assert press(fake_api, GROUP_ADMIN, handed.result["message_id"], ANA, "vo:1") == (
        "Solo quien coordina el reclamo (Marta Ríos) o un admin puede hacer eso."
    )
    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, handed.result["message_id"], MARTA, "vo:1")
    # The usual reasons are buttons; «Otro motivo» asks for a typed one
    reasons = sent(fake_api, GROUP_ADMIN, "¿Por qué seguimos sin Administración?", after=mark)
    assert reasons.buttons == [
        ("No abre hoy", "sk:1:0"),
        ("No usa FLEXUS", "sk:1:1"),
        ("No contesta", "sk:1:2"),
        ("✏️ Otro motivo", "sk:1:3"),
    ]
    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, reasons.result["message_id"], MARTA, "sk:1:3")
    prompt = sent(fake_api, GROUP_ADMIN, "¿por qué seguimos sin Administración?", after=mark)
    assert prompt.params["reply_markup"] == {"force_reply": True, "selective": True}
    fake_api.settled()  # the question is recorded once Marta's step is done
    # A reply from someone else is not taken as the reason
    mark = fake_api.mark()
    fake_api.push(reply_update(GROUP_ADMIN, LUIS, "porque sí", prompt.result["message_id"]))
    sent(fake_api, GROUP_ADMIN, "Solo quien coordina el reclamo (Marta Ríos)", after=mark)
    mark = fake_api.mark()
    fake_api.push(
        reply_update(
            GROUP_ADMIN, MARTA, "Administración <cerrada> hoy", prompt.result["message_id"]
        )
    )
    # The panel comes again below her reply: the reason on top, the all-clear button next
    done = sent(fake_api, GROUP_ADMIN, "Anotado: seguimos sin Administración", after=mark)
    assert "(Administración &lt;cerrada&gt; hoy)" in done.text
    assert [d for _, d in done.buttons] == ["ac:1", "ho:1"]
    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, done.result["message_id"], MARTA, "ac:1")
    sent(fake_api, GROUP_ADMIN, "¿Hay que reiniciar sesión", after=mark)


def test_a_skip_reason_by_button(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start(FLEXUS_NOW="2026-11-24T10:00:00-03:00")
    card_id = general_incident(fake_api)
    press(fake_api, GROUP_ADMIN, card_id, LUIS, "y:1")
    panel = sent(fake_api, GROUP_ADMIN, "Gestionás el reclamo")
    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, panel.result["message_id"], LUIS, "va:1")
    request = sent(fake_api, GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
    press(fake_api, GROUP_CAJA, request.result["message_id"], ANA, "vq:1:1:y")
    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, panel.result["message_id"], LUIS, "vo:1")
    reasons = sent(fake_api, GROUP_ADMIN, "¿Por qué seguimos sin Administración?", after=mark)
    assert press(fake_api, GROUP_ADMIN, reasons.result["message_id"], LUIS, "sk:1:0") == (
        "Anotado: seguimos sin Administración (No abre hoy)."
    )
    fake_api.settled()
    assert fake_api.buttons_on(GROUP_ADMIN, reasons.result["message_id"]) == []
    assert [d for _, d in fake_api.buttons_on(GROUP_ADMIN, panel.result["message_id"])] == [
        "ac:1",
        "ho:1",
    ]


def panel_going_out_slowly(fake_api: FakeBotAPI) -> Call:
    """A general failure whose coordinator's panel Telegram takes two seconds to confirm: the
    coordinator sees it (and may press it) before the bot has stored its message id."""
    card_id = general_incident(fake_api)
    sent(fake_api, GROUP_ADMIN, "Falla general de FLEXUS")
    fake_api.script(Mishap.SLOW, chat_id=GROUP_ADMIN)  # the next message there: the panel
    press(fake_api, GROUP_ADMIN, card_id, LUIS, "y:1")
    return sent(fake_api, GROUP_ADMIN, "Gestionás el reclamo")


def edits_of(fake_api: FakeBotAPI, chat_id: int, message_id: int) -> list[Call]:
    return [
        c
        for c in fake_api.calls_of("editMessageText", chat_id)
        if c.params.get("message_id") == message_id
    ]


def test_a_panel_pressed_before_its_id_is_stored_is_edited_not_sent_again(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start(FLEXUS_NOW="2026-11-24T10:00:00-03:00")
    panel = panel_going_out_slowly(fake_api)
    panel_id = panel.result["message_id"]
    press(fake_api, GROUP_ADMIN, panel_id, LUIS, "va:1")
    fake_api.wait_for(
        lambda c: c.method == "editMessageText" and c.params.get("message_id") == panel_id
    )
    request = sent(fake_api, GROUP_CAJA, "¿FLEXUS funciona en tu sector?")
    press(fake_api, GROUP_CAJA, request.result["message_id"], ANA, "vq:1:1:y")
    press(fake_api, GROUP_ADMIN, panel_id, LUIS, "vo:1")
    reasons = sent(fake_api, GROUP_ADMIN, "¿Por qué seguimos sin Administración?")
    press(fake_api, GROUP_ADMIN, reasons.result["message_id"], LUIS, "sk:1:0")
    fake_api.wait_for(lambda c: edits_of(fake_api, GROUP_ADMIN, panel_id)[-1:] == [c])
    fake_api.settled()
    # One panel, edited in place at each step: never a second one for the same case.
    assert [c.text for c in fake_api.sent(GROUP_ADMIN) if "Gestionás el reclamo" in c.text] == [
        panel.text
    ]
    assert [d for _, d in fake_api.buttons_on(GROUP_ADMIN, panel_id)] == ["ac:1", "ho:1"]


def test_news_while_the_panel_goes_out_takes_the_buttons_off_it(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start(FLEXUS_NOW="2026-11-24T10:00:00-03:00")
    fake_api.slow_for = 4.0
    panel = panel_going_out_slowly(fake_api)
    panel_id = panel.result["message_id"]
    press(fake_api, GROUP_ADMIN, panel_id, LUIS, "va:1")
    request = sent(fake_api, GROUP_CAJA, "¿FLEXUS funciona en tu sector?")
    press(fake_api, GROUP_CAJA, request.result["message_id"], ANA, "vq:1:1:n")
    # The news comes as a new panel, below the first one, which still had no stored id when
    # the news was decided: its buttons come off once it has one.
    news = sent(fake_api, GROUP_ADMIN, "En Caja FLEXUS sigue fallando")
    assert "Gestionás el reclamo" in news.text
    fake_api.wait_for(
        lambda c: c.method == "editMessageReplyMarkup" and c.params.get("message_id") == panel_id
    )
    fake_api.settled()
    assert fake_api.buttons_on(GROUP_ADMIN, panel_id) == []
    assert fake_api.buttons_on(GROUP_ADMIN, news.result["message_id"]) != []


def test_refused_pin_changes_nothing_else(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    fake_api.fail(
        "pinChatMessage",
        chat_id=GROUP_CAJA,
        code=400,
        description="Bad Request: not enough rights to manage pinned messages in the chat",
    )
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    cards = {chat: sent(fake_api, chat, "con problemas") for chat in (GROUP_CAJA, GROUP_ADMIN)}
    fake_api.wait_for(lambda c: c.method == "pinChatMessage" and c.chat_id == GROUP_ADMIN)
    fake_api.push(press_update(GROUP_CAJA, cards[GROUP_CAJA].result["message_id"], LUIS, "v:1:f"))
    sent(fake_api, GROUP_CAJA, "Falla general de FLEXUS")
    fake_api.settled()
    assert "Falla general confirmada" in fake_api.text_of(
        GROUP_CAJA, cards[GROUP_CAJA].result["message_id"]
    )


def test_summary_at_the_acknowledgement_deadline(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    protocol = write_protocol(
        tmp_path / "p.toml", "[deadlines]\nack_reminder_minutes = 30\nack_max_minutes = 0.05\n"
    )
    bot.start(FLEXUS_CONFIG=str(protocol), FLEXUS_NOW="2026-11-24T10:00:00-03:00")
    card_id = general_incident(fake_api)
    press(fake_api, GROUP_ADMIN, card_id, LUIS, "y:1")
    mark = fake_api.mark()
    press(fake_api, GROUP_ADMIN, card_id, LUIS, "va:1")
    request = sent(fake_api, GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
    press(fake_api, GROUP_CAJA, request.result["message_id"], ANA, "vq:1:1:y")
    press(fake_api, GROUP_ADMIN, request.result["message_id"], LUIS, "vq:1:1:y")
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/resuelto"))
    question = sent(fake_api, GROUP_ADMIN, "¿Hay que reiniciar sesión", after=mark)
    mark = fake_api.mark()
    assert press(fake_api, GROUP_ADMIN, question.result["message_id"], LUIS, "rs:1:y") == (
        "Listo: avisé a todos que FLEXUS funciona."
    )
    fake_api.wait_for(lambda c: c.method == "editMessageReplyMarkup", after=mark)
    # Nobody presses «Entendido»: the deadline posts the summary anyway, at once
    summary = sent(fake_api, GROUP_CAJA, "Resumen del incidente #1", after=mark)
    # Nobody is named in front of the group; the full summary (who read it) goes to Luis
    assert "Faltó confirmar el aviso: Caja, Administración." in summary.text
    full = sent(fake_api, ADMIN_ID, "Resumen del incidente #1", after=mark)  # privately
    assert "Caja: nadie" in full.text and "Administración: nadie" in full.text
    # Luis never pressed Start: the long one is not posted in his group instead
    fake_api.settled()
    assert len([c for c in fake_api.sent(GROUP_ADMIN) if "Resumen del incidente" in c.text]) == 1
    # ...and the database is free: the bot answers right away
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido otra vez"))
    fake_api.wait_for(
        lambda c: c.method == "sendMessage" and "incidente #2" in c.text, after=mark, timeout=5
    )
    assert press(fake_api, GROUP_ADMIN, question.result["message_id"], LUIS, "rs:1:y") == (
        "El aviso de FLEXUS operativo ya se mandó."
    )


class AnswersAtOnce(FakeBotAPI):
    """Luis answers the bot's ticket question the instant it reaches him, before Telegram has
    even told the bot it was delivered (so before the bot could record it)."""

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        response = super()._dispatch(method, params)
        if method == "sendMessage" and "¿te dieron número de reclamo?" in str(params.get("text")):
            with self._cond:
                question = next(c for c in reversed(self.calls) if "número de reclamo" in c.text)
            assert question.result is not None
            chat_id = int(params["chat_id"])
            self.push(reply_update(chat_id, LUIS, "R-9", question.result["message_id"]))
            time.sleep(0.5)  # the bot hears "sent" only now
        return response


def test_an_answer_faster_than_the_recording_of_its_question_counts(tmp_path: Path) -> None:
    api = AnswersAtOnce(TOKEN).start()
    api.default_member_status = "member"
    bot = BotProcess(api=api, workdir=tmp_path, env=bot_env(api, tmp_path))
    try:
        # Support open (the number question is asked only then), whatever the hour of the run.
        bot.start(FLEXUS_NOW="2026-11-24T10:00:00-03:00")
        card = general_incident(api)
        press(api, GROUP_ADMIN, card, LUIS, "y:1")
        press(api, GROUP_ADMIN, card, LUIS, "sc:1")
        saved = sent(api, GROUP_ADMIN, "Anotado el reclamo R-9")
        assert "R-9" in saved.text
    finally:
        if bot.process is not None:
            bot.kill()
        api.stop()
