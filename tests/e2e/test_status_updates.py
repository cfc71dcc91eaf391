"""Status updates and what to do meanwhile, through the real process: the coordinator's news
reaches every group with the next update's time and stays on the card; each sector reads what
to do while FLEXUS is down, and after the all-clear is reminded to load what it wrote on paper."""

from __future__ import annotations

from pathlib import Path

from tests.support.bot_process import (
    GROUP_ADMIN,
    GROUP_CAJA,
    BotProcess,
    bot_env,
    db_rows,
    sent_to,
)
from tests.support.fakebotapi import FakeBotAPI, command_update, press_update, reply_update
from tests.support.outage import ANA, CHATS, LUIS, MARTA, NOW, PROTOCOL, Outage

ONLY_CAJA = (
    PROTOCOL
    + """
[contingency.sectors]
Caja = "Cobrá en efectivo y anotá cada venta en la planilla de contingencia."
"""
)


def test_news_reach_every_group_with_the_next_time_and_stay_on_the_card(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    bot.env = bot_env(fake_api, tmp_path, PROTOCOL)
    bot.start(FLEXUS_NOW=NOW)
    outage = Outage(fake_api)
    mark = outage.luis_calls_support()

    # Only the coordinator (or an admin) tells the team.
    fake_api.push(command_update(GROUP_CAJA, ANA, "/novedad ya anda?"))
    refused = sent_to(fake_api, GROUP_CAJA, "Solo", after=mark)
    assert "Luis Pérez" in refused.text

    fake_api.push(
        command_update(
            GROUP_ADMIN,
            LUIS,
            "/novedad Soporte reinicia el servidor, calcula 20 minutos próxima 09:40",
        )
    )
    for chat in CHATS:
        news = sent_to(fake_api, chat, "Novedades de FLEXUS", after=mark)
        assert "“Soporte reinicia el servidor, calcula 20 minutos”" in news.text
        assert news.text.endswith("Próxima novedad: 09:40")
        assert not news.params.get("disable_notification")  # news: it rings
    fake_api.settled()
    [card] = [c for c in fake_api.sent(GROUP_CAJA) if "incidente #1" in c.text][:1]
    shown = fake_api.text_of(GROUP_CAJA, card.result["message_id"])
    assert "📣 " in shown and "· próxima 09:40" in shown
    # The "¿Novedades?" reminder now keeps the promise: due at 09:40.
    assert db_rows(
        bot, "select due_at from timers where kind = 'nudge' and status = 'pending'"
    ) == [("2026-11-24 12:40:00.000000",)]

    # A «Contar novedades» for an incident that is not the open one (forged, or an old card):
    # refused, no question asked.
    chat_id, message_id = outage.button("nw:1", (GROUP_ADMIN, LUIS["id"]))
    forged = fake_api.mark()
    fake_api.push(press_update(chat_id, message_id, LUIS, "nw:9"))
    refused = fake_api.wait_for(lambda c: c.method == "answerCallbackQuery", after=forged)
    assert refused.params.get("show_alert") in (True, "true")
    fake_api.settled()
    assert not [c for c in fake_api.calls[forged:] if "¿qué les cuento" in c.text]

    # From the panel: «📣 Contar novedades», then a reply; no time given: the reminder's.
    before = fake_api.mark()
    outage.press(LUIS, "nw:1", (GROUP_ADMIN, LUIS["id"]))
    prompt = sent_to(fake_api, GROUP_ADMIN, "¿qué les cuento a todos?", after=before)
    fake_api.push(
        reply_update(GROUP_ADMIN, LUIS, "Ya entraron al servidor", prompt.result["message_id"])
    )
    for chat in CHATS:
        news = sent_to(fake_api, chat, "Ya entraron al servidor", after=before)
        assert "Próxima novedad: " in news.text
    informe_mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, LUIS, "/informe 1"))
    informe = sent_to(fake_api, GROUP_ADMIN, "incidente #1", after=informe_mark)
    assert "contó novedades: “Soporte reinicia el servidor" in informe.text
    assert "contó novedades: “Ya entraron al servidor”" in informe.text


def test_each_sector_reads_what_to_do_meanwhile_and_is_reminded_after(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    bot.env = bot_env(fake_api, tmp_path, ONLY_CAJA)
    bot.start(FLEXUS_NOW=NOW)
    outage = Outage(fake_api)
    outage.play()
    # Caja's "falla general" says what Caja does; Administración has none: a button instead.
    caja = sent_to(fake_api, GROUP_CAJA, "<b>Falla general de FLEXUS")
    assert "📋 <b>Mientras tanto, Caja:</b> Cobrá en efectivo" in caja.text
    assert "qh:1" not in [d for _, d in caja.buttons]
    admin = sent_to(fake_api, GROUP_ADMIN, "<b>Falla general de FLEXUS")
    assert "Mientras tanto" not in admin.text
    # After the all-clear, Caja (which worked on paper) is reminded in the all-clear itself.
    caja_clear = sent_to(fake_api, GROUP_CAJA, "FLEXUS nuevamente operativo")
    assert "cargá en FLEXUS lo que anotaste en papel" in caja_clear.text
    admin_clear = sent_to(fake_api, GROUP_ADMIN, "FLEXUS nuevamente operativo")
    assert "anotaste en papel" not in admin_clear.text
    # The button answers with every sector's instructions (Marta's sector has none).
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, admin.result["message_id"], MARTA, "qh:1"))
    answer = sent_to(fake_api, GROUP_ADMIN, "Mientras FLEXUS no anda", after=mark)
    assert "<b>Caja:</b> Cobrá en efectivo" in answer.text
