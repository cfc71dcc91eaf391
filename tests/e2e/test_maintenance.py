"""Planned maintenance and relapses through the real process: announced to every group when
planned, at start and at end, once each across a restart; a /caido during a window is held
until the person says it is something else; a /caido soon after an all-clear is a relapse."""

from __future__ import annotations

from pathlib import Path

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    BotProcess,
    bot_env,
    cli,
    db_rows,
    sent_to,
)
from tests.support.fakebotapi import FakeBotAPI, command_update, press_update, user
from tests.support.outage import ANA, CHATS, NOW, PROTOCOL, Outage

ADMIN = user(ADMIN_ID, "Admin", "Sistemas")
# Thursday 15:00 in Córdoba.
THURSDAY = "2026-12-10T15:00:00-03:00"


def texts_in(api: FakeBotAPI, chat_id: int, fragment: str, after: int = 0) -> list[str]:
    return [c.text for c in api.sent(chat_id)[after:] if fragment in c.text]


def test_a_window_is_announced_holds_reports_and_ends(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start(FLEXUS_NOW=THURSDAY)
    # Not everyone plans maintenance.
    fake_api.push(command_update(GROUP_CAJA, ANA, "/mantenimiento ahora 45m Reinicio"))
    refused = sent_to(fake_api, GROUP_CAJA, "Solo un admin o Gerencia")
    assert "programar" in refused.text

    # Bad input: one clear line with an example; nothing stored.
    fake_api.push(command_update(GROUP_CAJA, ADMIN, "/mantenimiento 22:00-20:00 al revés"))
    sent_to(fake_api, GROUP_CAJA, "El fin tiene que ser después del inicio")
    fake_api.settled()
    assert db_rows(bot, "select count(*) from maintenance_windows") == [(0,)]

    # Planned for tonight: one message in every group, and the list shows it.
    fake_api.push(
        command_update(GROUP_CAJA, ADMIN, "/mantenimiento 20:00-22:00 Actualización de FLEXUS")
    )
    for chat in CHATS:
        planned = sent_to(fake_api, chat, "Mantenimiento programado de FLEXUS")
        assert "de 20:00 a 22:00: Actualización de FLEXUS." in planned.text
    fake_api.push(command_update(GROUP_ADMIN, ADMIN, "/mantenimiento"))
    listed = sent_to(fake_api, GROUP_ADMIN, "Mantenimientos de FLEXUS")
    assert "#1 el jueves 10/12 de 20:00 a 22:00 · Actualización de FLEXUS" in listed.text

    # Overlapping it is refused and says with which.
    fake_api.push(command_update(GROUP_CAJA, ADMIN, "/mantenimiento 21:00-23:00 otra"))
    sent_to(fake_api, GROUP_CAJA, "Se superpone con el mantenimiento #1")

    # One under way now: it starts at once, every group hears it once.
    fake_api.push(command_update(GROUP_ADMIN, ADMIN, "/mantenimiento ahora 45m Reinicio"))
    for chat in CHATS:
        sent_to(fake_api, chat, "Mantenimiento de FLEXUS hasta las 15:45")
    fake_api.settled()
    bot.stop()
    bot.start(FLEXUS_NOW="2026-12-10T15:05:00-03:00")
    fake_api.settled()
    for chat in CHATS:
        assert len(texts_in(fake_api, chat, "Mantenimiento de FLEXUS hasta las 15:45")) == 1

    # /estado says it is maintenance, not "operativo".
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/estado"))
    sent_to(fake_api, GROUP_CAJA, "Mantenimiento de FLEXUS hasta las 15:45", after=mark)

    # A /caido meanwhile is held: no alert, a button for "something else".
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
    held = sent_to(fake_api, GROUP_CAJA, "Hay un mantenimiento programado", after=mark)
    assert "hasta las 15:45: Reinicio" in held.text
    fake_api.settled()
    assert not [c for c in fake_api.sent()[mark:] if "FLEXUS con problemas" in c.text]
    [(label, data)] = held.buttons
    assert label == "Es otra cosa: reportar igual"

    # "Es otra cosa": the report opens the incident as usual, marked as during maintenance.
    fake_api.push(press_update(GROUP_CAJA, held.result["message_id"], ANA, data))
    for chat in CHATS:
        alert = sent_to(fake_api, chat, "FLEXUS con problemas", after=mark)
        assert "Reportado durante un mantenimiento programado" in alert.text
    assert db_rows(bot, "select maintenance_id, description from incidents") == [(2, "no factura")]

    # Ended early: every group hears it.
    fake_api.push(command_update(GROUP_ADMIN, ADMIN, "/mantenimiento fin"))
    for chat in CHATS:
        sent_to(fake_api, chat, "Terminó el mantenimiento de FLEXUS", after=mark)
    fake_api.settled()
    # /historial lists the windows apart from the incidents.
    fake_api.push(command_update(GROUP_CAJA, ANA, "/historial"))
    history = sent_to(fake_api, GROUP_CAJA, "Últimos incidentes", after=mark)
    assert "durante un mantenimiento" in history.text
    assert "🛠️ <b>Mantenimientos programados</b>\n#2 · " in history.text
    assert "· Reinicio" in history.text
    audit = db_rows(bot, "select action from admin_actions order by id")
    assert audit == [("plan_maintenance",), ("plan_maintenance",)]


def test_a_report_soon_after_the_all_clear_is_a_relapse(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    bot.env = bot_env(fake_api, tmp_path, PROTOCOL)
    bot.start(FLEXUS_NOW=NOW)
    outage = Outage(fake_api)
    outage.play()
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido otra vez"))
    for chat in CHATS:
        alert = sent_to(fake_api, chat, "FLEXUS con problemas — incidente #2", after=mark)
        assert "🔁 FLEXUS volvió a fallar: el incidente #1 se había resuelto a las" in alert.text
        # The previous coordinator is named first, so they hear it.
        assert "Luis Pérez</a>, coordinaste el #1" in alert.text
    assert db_rows(bot, "select id, relapse_of from incidents order by id") == [(1, None), (2, 1)]
    fake_api.push(command_update(GROUP_ADMIN, ANA, "/historial"))
    history = sent_to(fake_api, GROUP_ADMIN, "Últimos incidentes", after=mark)
    assert "recaída de #1" in history.text


def test_windows_from_the_command_line_are_told_by_the_running_bot(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    bot.start(FLEXUS_NOW=THURSDAY, SETTINGS_RELOAD_SECONDS="0.5")
    env = {k: v for k, v in bot.env.items() if k.startswith(("DATABASE_", "FLEXUS_"))}
    added = cli(tmp_path, "maintenance", "add", "28/12", "20:00-23:30", "Cierre", **env)
    assert added.returncode == 0, added.stderr
    assert "planned #1" in added.stdout
    for chat in CHATS:
        told = sent_to(fake_api, chat, "Mantenimiento programado de FLEXUS")
        assert "El lunes 28/12 de 20:00 a 23:30: Cierre." in told.text
    overlapping = cli(tmp_path, "maintenance", "add", "28/12", "21:00-22:00", "x", **env)
    assert overlapping.returncode != 0 and "overlap" in overlapping.stderr
    listed = cli(tmp_path, "maintenance", "list", **env)
    assert "#1" in listed.stdout and "Cierre" in listed.stdout
    cancelled = cli(tmp_path, "maintenance", "cancel", "1", "el", "proveedor", "lo", "pasó", **env)
    assert cancelled.returncode == 0, cancelled.stderr
    for chat in CHATS:
        told = sent_to(fake_api, chat, "Se canceló el mantenimiento de FLEXUS #1")
        assert told.text.endswith(": el proveedor lo pasó.")
    fake_api.settled()
    for chat in CHATS:
        assert len(texts_in(fake_api, chat, "Mantenimiento programado")) == 1
