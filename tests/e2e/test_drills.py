"""Drills through the real process: the whole protocol as a drill, every message marked and
the support phone with a warning, its summary with the team's times, never in a figure; a real
report during a drill ends it at once and is announced as real."""

from __future__ import annotations

from pathlib import Path

from bot import texts
from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, BotProcess, bot_env, sent_to
from tests.support.fakebotapi import FakeBotAPI, command_update, press_update
from tests.support.outage import ANA, CHATS, DIEGO, LUIS, MARTA, NOW, PROTOCOL, Outage

MARK = texts.DRILL_MARK


def test_a_whole_drill_is_marked_everywhere_timed_and_never_counted(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    bot.env = bot_env(fake_api, tmp_path, PROTOCOL, ADMIN_USER_IDS=str(ANA["id"]))
    bot.start(FLEXUS_NOW=NOW)
    start = fake_api.mark()
    Outage(fake_api).play(opener="/simulacro")
    fake_api.settled()
    # From the drill's alert on (Luis and Diego pressed Start before it), everything the team
    # and Gerencia read is marked.
    first = next(
        i for i, c in enumerate(fake_api.calls) if i >= start and "FLEXUS con problemas" in c.text
    )
    people = {*CHATS, LUIS["id"], DIEGO["id"]}
    about = [
        c
        for c in fake_api.calls[first:]
        if c.method in ("sendMessage", "editMessageText") and c.carried_out and c.chat_id in people
    ]
    assert len(about) > 10
    assert [c.text[:60] for c in about if not c.text.startswith(MARK)] == []
    alert = sent_to(fake_api, GROUP_CAJA, "FLEXUS con problemas", after=start)
    assert alert.text.startswith(MARK)
    assert "0351-5685000 (no llames: es un simulacro)" in " ".join(c.text for c in about)
    access = sent_to(fake_api, DIEGO["id"], "necesita entrar al servidor", after=first)
    assert access.text.startswith(MARK)  # Gerencia is asked as in a drill
    summary = sent_to(fake_api, GROUP_CAJA, "Resumen del incidente #1", after=start)
    assert "🧪 <b>Tiempos del equipo en el simulacro</b>" in summary.text
    assert "Confirmar la falla:" in summary.text and "Es el primer simulacro" in summary.text

    # Never counted: not in /historial nor /metricas; /historial simulacros lists it.
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, MARTA, "/historial"))
    history = sent_to(fake_api, GROUP_ADMIN, "", after=mark)
    assert "#1" not in history.text
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, MARTA, "/historial simulacros"))
    drills = sent_to(fake_api, GROUP_ADMIN, "Simulacros", after=mark)
    assert "#1 · 24/11/2026" in drills.text and "completo en" in drills.text


def test_a_real_report_ends_the_drill_and_is_announced_as_real(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    bot.env = bot_env(fake_api, tmp_path, PROTOCOL, ADMIN_USER_IDS=str(ANA["id"]))
    bot.start(FLEXUS_NOW=NOW)
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, MARTA, "/simulacro"))  # not an admin
    sent_to(fake_api, GROUP_ADMIN, "Solo un admin del bot puede empezar", after=mark)
    fake_api.push(command_update(GROUP_CAJA, ANA, "/simulacro"))
    for chat in CHATS:
        assert sent_to(fake_api, chat, "FLEXUS con problemas", after=mark).text.startswith(MARK)
    card = sent_to(fake_api, GROUP_ADMIN, "FLEXUS con problemas", after=mark)

    # A restart in the middle: it is still a drill, and what comes next is still marked.
    bot.stop()
    bot.start(FLEXUS_NOW=NOW)
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card.message_id or 0, MARTA, "v:1:f"))
    for chat in CHATS:
        general = sent_to(fake_api, chat, "Falla general de FLEXUS", after=mark)
        assert general.text.startswith(MARK)
        assert "0351-5685000 (no llames: es un simulacro)" in general.text

    real = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, MARTA, "/caido No factura, de verdad"))
    for chat in CHATS:
        ended = sent_to(fake_api, chat, "Terminó el simulacro", after=real)
        alert = sent_to(fake_api, chat, "FLEXUS con problemas", after=real)
        assert "esto es real" in ended.text and not alert.text.startswith(MARK)
        assert "#2" in alert.text
        assert (ended.at, ended.message_id or 0) <= (alert.at, alert.message_id or 0)

    # No drill during a real incident; and there is no drill left to end.
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/simulacro"))
    sent_to(fake_api, GROUP_CAJA, "Hay un incidente real abierto", after=mark)
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/simulacro fin"))
    sent_to(fake_api, GROUP_CAJA, "No hay ningún simulacro en curso", after=mark)
