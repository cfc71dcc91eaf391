"""Administration from the chat: enabling groups, Gerencia contacts, /start's "who am I", the
record of admin actions, and refusals (with nothing stored) for everyone else."""

from __future__ import annotations

from typing import Any

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    BotProcess,
    db_rows,
    sent_to,
)
from tests.support.fakebotapi import FakeBotAPI, command_update, press_update, reply_update, user

ADMIN = user(ADMIN_ID, "Sofía", "Admin")
ANA = user(101, "Ana", "Gómez")
LUIS = user(102, "Luis", "Pérez")
DIEGO = user(301, "Diego", "Alvarado")
PRESUPUESTOS = -1003003


def answering(
    chat_id: int, sender: dict[str, Any], text: str, to: dict[str, Any]
) -> dict[str, Any]:
    """`text` sent as an answer to someone's message `to` (an update)."""
    update = reply_update(chat_id, sender, text, to["message"]["message_id"])
    update["message"]["reply_to_message"]["from"] = to["message"]["from"]
    return update


def test_habilitar_makes_a_team_chat_without_a_restart(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    # Before: refused, with the group's id and how to enable it; the group is listed.
    fake_api.push(command_update(PRESUPUESTOS, ANA, "/caido"))
    refusal = sent_to(fake_api, PRESUPUESTOS, "no está habilitado")
    assert str(PRESUPUESTOS) in refusal.text and "/habilitar" in refusal.text

    # Someone who is not an admin cannot enable it, and nothing changes.
    mark = fake_api.mark()
    fake_api.push(command_update(PRESUPUESTOS, ANA, "/habilitar"))
    assert "Solo un admin" in sent_to(fake_api, PRESUPUESTOS, "Solo un admin", after=mark).text
    fake_api.settled()
    enabled = f"select enabled from team_chats where chat_id = {PRESUPUESTOS}"
    assert db_rows(bot, enabled) == [(0,)]
    assert db_rows(bot, "select count(*) from admin_actions") == [(0,)]

    mark = fake_api.mark()
    fake_api.push(command_update(PRESUPUESTOS, ADMIN, "/habilitar Presupuestos"))
    done = sent_to(fake_api, PRESUPUESTOS, "habilitado", after=mark)
    assert "Presupuestos" in done.text

    # No restart: the next /caido there reaches every team chat, the new one included.
    mark = fake_api.mark()
    fake_api.push(command_update(PRESUPUESTOS, ANA, "/caido no abre"))
    for chat_id in (GROUP_CAJA, GROUP_ADMIN, PRESUPUESTOS):
        card = sent_to(fake_api, chat_id, "con problemas", after=mark)
        assert "Ana Gómez (Presupuestos)" in card.text
    assert db_rows(bot, "select action, actor_id, chat_id from admin_actions") == [
        ("enable_chat", ADMIN_ID, PRESUPUESTOS)
    ]

    # And /deshabilitar undoes it, also at once.
    mark = fake_api.mark()
    fake_api.push(command_update(PRESUPUESTOS, ADMIN, "/deshabilitar"))
    sent_to(fake_api, PRESUPUESTOS, "Grupo deshabilitado", after=mark)
    mark = fake_api.mark()
    fake_api.push(command_update(PRESUPUESTOS, LUIS, "/estado"))
    sent_to(fake_api, PRESUPUESTOS, "no está habilitado", after=mark)
    # It stays so after a restart, whatever TEAM_CHAT_IDS seeded.
    bot.stop()
    bot.start()
    mark = fake_api.mark()
    fake_api.push(command_update(PRESUPUESTOS, LUIS, "/estado"))
    sent_to(fake_api, PRESUPUESTOS, "no está habilitado", after=mark)


def test_start_says_who_you_are(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    fake_api.chat_member_status[(GROUP_CAJA, 555)] = "left"
    fake_api.chat_member_status[(GROUP_ADMIN, 555)] = "left"
    bot.start()
    fake_api.push(command_update(ADMIN_ID, ADMIN, "/start"))
    who = sent_to(fake_api, ADMIN_ID, "Tu id de Telegram")
    assert f"<code>{ADMIN_ID}</code>" in who.text and "Sos admin del bot." in who.text
    fake_api.push(command_update(102, LUIS, "/start"))
    assert "Podés avisar con /caido en el grupo" in sent_to(fake_api, 102, "Tu id").text
    # Someone outside the team learns only their own id (what an admin needs to add them).
    stranger = user(555, "Nueva")
    fake_api.push(command_update(555, stranger, "/start"))
    reply = sent_to(fake_api, 555, "Tu id")
    assert "<code>555</code>" in reply.text and "solo para el equipo" in reply.text
    assert "caído" not in reply.text


def test_gerencia_registered_from_the_chat_is_asked_privately(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start(FLEXUS_NOW="2026-11-24T09:00:00-03:00")
    fake_api.push(command_update(301, DIEGO, "/start"))  # Diego opened the bot privately
    sent_to(fake_api, 301, "Tu id")
    said = command_update(GROUP_ADMIN, DIEGO, "/estado")
    fake_api.push(said)
    sent_to(fake_api, GROUP_ADMIN, "FLEXUS operativo")

    # Only an admin may register him; answering his message.
    mark = fake_api.mark()
    fake_api.push(answering(GROUP_ADMIN, LUIS, "/gerencia", said))
    sent_to(fake_api, GROUP_ADMIN, "Solo un admin", after=mark)
    mark = fake_api.mark()
    fake_api.push(answering(GROUP_ADMIN, ADMIN, "/gerencia", said))
    sent_to(fake_api, GROUP_ADMIN, "Diego Alvarado quedó anotado/a como Gerencia", after=mark)

    # The next access request goes to him privately (the default file has no id for him).
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    card = sent_to(fake_api, GROUP_ADMIN, "con problemas")
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "v:1:f"))
    sent_to(fake_api, GROUP_CAJA, "Falla general")
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "y:1"))
    sent_to(fake_api, GROUP_ADMIN, "Gestionás el reclamo")
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card.result["message_id"], LUIS, "ax:1"))
    request = sent_to(fake_api, 301, "acceso", after=mark)
    assert ("Acceso otorgado por AnyDesk", "ag:1:0") in request.buttons
    mark = fake_api.mark()
    fake_api.push(press_update(301, request.result["message_id"], DIEGO, "ag:1:0"))
    sent_to(fake_api, GROUP_ADMIN, "Diego Alvarado dio acceso al servidor", after=mark)
    actions = db_rows(bot, "select action, actor_id, target_id from admin_actions")
    assert actions == [("add_gerencia", ADMIN_ID, 301)]


def test_admin_commands_refuse_everyone_else_and_store_nothing(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    bot.start()
    for text in ("/habilitar", "/deshabilitar", "/gerencia", "/gerencia quitar"):
        mark = fake_api.mark()
        fake_api.push(command_update(GROUP_CAJA, ANA, text))
        refusal = sent_to(fake_api, GROUP_CAJA, "Solo un admin", after=mark).text
        # What the person can do: their id, and who makes them admin
        assert refusal.startswith(
            "Solo un admin del bot puede hacer eso. Tu id de Telegram es <code>101</code>"
        )
        assert "flexus-bot admins add ID" in refusal
    fake_api.settled()
    assert db_rows(bot, "select count(*) from admin_actions") == [(0,)]
    assert db_rows(bot, "select count(*) from gerencia_contacts") == [(0,)]
    assert db_rows(bot, "select chat_id, enabled from team_chats order by chat_id") == [
        (GROUP_ADMIN, 1),
        (GROUP_CAJA, 1),
    ]
