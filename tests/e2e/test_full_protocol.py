"""The whole protocol through the real process: from the first report to the acknowledged all-clear.

Run twice: straight through, and with the bot killed and restarted at every stage, which must
lose nothing and send nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import GROUP_ADMIN, GROUP_CAJA, BotProcess, write_protocol
from tests.fakebotapi import (
    Call,
    FakeBotAPI,
    command_update,
    press_update,
    reply_update,
    user,
)

ANA = user(101, "Ana", "Gómez")  # Caja, reports
LUIS = user(102, "Luis", "Pérez")  # Administración, coordinates
MARTA = user(103, "Marta", "Ríos")  # Administración
DIEGO = user(301, "Diego", "Alvarado")  # Gerencia: never started the bot privately
LAURA = user(302, "Laura", "Backup")  # Gerencia backup

PROTOCOL = """
[[gerencia]]
name = "Diego Alvarado"
telegram_id = 301

[[gerencia]]
name = "Laura Backup"
telegram_id = 302
backup = true

[deadlines]
confirmation_minutes = 5
coordinator_reminder_minutes = 120
access_repeat_minutes = 0.02
access_escalate_after = 1
ack_reminder_minutes = 0.03
ack_max_minutes = 120
"""


class Scenario:
    def __init__(self, bot: BotProcess, api: FakeBotAPI, restart: Callable[[str], None]) -> None:
        self.bot, self.api, self.restart = bot, api, restart

    def sent(self, chat_id: int, fragment: str, after: int = 0, timeout: float = 15.0) -> Call:
        return self.api.wait_for(
            lambda c: (
                c.method == "sendMessage"
                and c.chat_id == chat_id
                and fragment in c.text
                and c.result is not None
            ),
            after=after,
            timeout=timeout,
        )

    def press(self, chat_id: int, message_id: int, who: dict[str, object], data: str) -> Call:
        mark = self.api.mark()
        self.api.push(press_update(chat_id, message_id, who, data))
        return self.api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)

    def count(self, fragment: str, chat_id: int | None = None) -> int:
        return len([c for c in self.api.sent(chat_id) if fragment in c.text])

    def card(self) -> str:
        alert = self.sent(GROUP_CAJA, "con problemas")
        return self.api.text_of(GROUP_CAJA, alert.result["message_id"])

    def run(self) -> None:
        api = self.api
        # 1–3. Report, confirmations, general failure outside support hours
        api.push(command_update(GROUP_CAJA, ANA, "/caido No deja facturar"))
        alert = self.sent(GROUP_ADMIN, "con problemas")
        card_id = alert.result["message_id"]
        mark = api.mark()
        api.push(press_update(GROUP_ADMIN, card_id, LUIS, "v:1:f"))
        general = self.sent(GROUP_CAJA, "Falla general de FLEXUS", after=mark)
        assert "Fuera de horario" in general.text
        assert "Abre hoy a las 08:00 (horario comercial)" in general.text
        assert ("🙋 Yo gestiono el reclamo", "y:1") in general.buttons
        api.push(command_update(102, LUIS, "/start"))  # Luis can now be written to privately
        self.sent(102, "Si FLEXUS no funciona")

        # 5. Luis claims; support is closed, so he is told when it opens
        mark = api.mark()
        self.press(GROUP_ADMIN, card_id, LUIS, "y:1")
        panel = self.sent(GROUP_ADMIN, "Gestionás el reclamo del incidente #1", after=mark)
        assert "Te aviso hoy a las 08:00, cuando abra soporte." in panel.text
        assert [d for _, d in panel.buttons] == ["sc:1", "ax:1", "va:1", "ho:1"]
        assert self.press(GROUP_ADMIN, card_id, MARTA, "y:1").params["text"] == (
            "El reclamo ya lo gestiona Luis Pérez."
        )
        self.restart("claimed")

        # At 08:00 the coordinator is reminded, privately, exactly once
        opened = self.sent(102, "Soporte ya atiende", timeout=40)
        assert "Soporte disponible: horario comercial hasta las 18:30" in opened.text
        self.sent(102, "Soporte ya atiende")  # (the same one)
        mark = api.mark()
        self.press(102, opened.result["message_id"], LUIS, "sc:1")
        contacted = self.sent(GROUP_CAJA, "Luis Pérez habló con soporte", after=mark)
        assert "incidente #1" in contacted.text
        prompt = self.sent(102, "¿te dieron número de reclamo?", after=mark)
        mark = api.mark()
        api.push(reply_update(102, LUIS, "R-4471", prompt.result["message_id"]))
        self.sent(102, "Anotado el reclamo R-4471", after=mark)
        api.wait_idle()
        assert (
            "📞 Soporte contactado a las 08:" in self.card() and "(reclamo R-4471)" in self.card()
        )
        self.restart("contacted")

        # 6. Server access: Diego cannot be written to privately (403) → mentioned in the groups;
        # the request repeats, then Laura (backup) is asked too; only Gerencia may confirm.
        api.fail(
            "sendMessage",
            chat_id=301,
            description="Forbidden: bot can't initiate conversation with a user",
        )
        mark = api.mark()
        self.press(102, opened.result["message_id"], LUIS, "ax:1")
        in_group = self.sent(GROUP_CAJA, "soporte necesita acceso al servidor", after=mark)
        assert 'href="tg://user?id=301"' in in_group.text and "@flexus_guardia_bot" in in_group.text
        assert "AnyDesk o TeamViewer" in in_group.text
        assert in_group.buttons == [
            ("Acceso otorgado por AnyDesk", "ag:1:0"),
            ("Acceso otorgado por TeamViewer", "ag:1:1"),
        ]
        self.restart("access requested")
        again = self.sent(GROUP_CAJA, "Recordatorio 1", after=mark, timeout=30)
        to_laura = self.sent(
            302, "Soporte de FLEXUS necesita entrar al servidor", after=mark, timeout=30
        )
        assert "Recordatorio 2" in to_laura.text and "Laura Backup" in to_laura.text
        self.sent(102, "también le pedí acceso a Laura Backup", after=mark)
        assert self.press(GROUP_CAJA, again.result["message_id"], MARTA, "ag:1:0").params[
            "text"
        ] == (
            "Solo Gerencia (Diego Alvarado, Laura Backup) o un admin puede marcar el acceso al servidor."
        )
        mark = api.mark()
        self.press(GROUP_CAJA, again.result["message_id"], DIEGO, "ag:1:0")
        granted = self.sent(
            GROUP_ADMIN, "Diego Alvarado dio acceso al servidor por AnyDesk", after=mark
        )
        assert "incidente #1" in granted.text
        api.wait_idle(quiet=2.0)
        requests = self.count("necesita", GROUP_CAJA) + self.count("necesita", 302)
        self.restart("access granted")
        api.wait_idle(quiet=2.0)
        assert self.count("necesita", GROUP_CAJA) + self.count("necesita", 302) == requests

        # 7. Validation: Caja says it still fails, then a second round passes
        mark = api.mark()
        self.press(102, opened.result["message_id"], LUIS, "va:1")
        round1 = self.sent(GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
        assert "Caja ⏳ · Administración ⏳" in round1.text
        mark = api.mark()
        self.press(GROUP_CAJA, round1.result["message_id"], ANA, "vq:1:1:n")
        failed = self.sent(GROUP_ADMIN, "En Caja FLEXUS sigue fallando", after=mark)
        assert "avisó Ana Gómez" in failed.text
        self.sent(102, "En Caja FLEXUS sigue fallando", after=mark)  # the coordinator, privately
        assert (
            "Esta validación ya cerró."
            in self.press(GROUP_ADMIN, round1.result["message_id"], MARTA, "vq:1:1:y").params[
                "text"
            ]
        )
        self.restart("validation failed")
        mark = api.mark()
        self.press(102, opened.result["message_id"], LUIS, "va:1")
        round2 = self.sent(GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
        self.press(GROUP_CAJA, round2.result["message_id"], ANA, "vq:1:2:y")
        mark = api.mark()
        self.press(GROUP_ADMIN, round2.result["message_id"], MARTA, "vq:1:2:y")
        done = self.sent(GROUP_CAJA, "Todos los sectores confirmaron", after=mark)
        assert 'href="tg://user?id=102"' in done.text
        self.restart("validated")

        # 8. All-clear: only the coordinator; session question; everyone acknowledges
        mark = api.mark()
        api.push(command_update(GROUP_CAJA, ANA, "/resuelto"))
        assert (
            "Solo quien coordina el reclamo (Luis Pérez)"
            in self.sent(GROUP_CAJA, "Solo quien coordina", after=mark).text
        )
        mark = api.mark()
        api.push(command_update(102, LUIS, "/resuelto Si algo no carga, cerrá y abrí FLEXUS"))
        question = self.sent(102, "¿Hay que reiniciar sesión", after=mark)
        mark = api.mark()
        self.press(102, question.result["message_id"], LUIS, "rs:1:n")
        clears = {
            chat: self.sent(chat, "FLEXUS nuevamente operativo", after=mark)
            for chat in (GROUP_CAJA, GROUP_ADMIN, 102)
        }
        assert "No hace falta reiniciar sesión" in clears[GROUP_CAJA].text
        assert "👉 Si algo no carga, cerrá y abrí FLEXUS" in clears[GROUP_CAJA].text
        self.press(GROUP_CAJA, clears[GROUP_CAJA].result["message_id"], ANA, "ok:1")
        self.restart("all-clear sent")
        reminder = self.sent(GROUP_ADMIN, "Falta que confirmen el aviso", after=mark, timeout=30)
        assert "Administración" in reminder.text and "Caja" not in reminder.text.split("\n")[0]
        assert 'href="tg://user?id=103"' in reminder.text
        mark = api.mark()
        self.press(GROUP_ADMIN, clears[GROUP_ADMIN].result["message_id"], MARTA, "ok:1")
        summary = self.sent(GROUP_CAJA, "Resumen del incidente #1", after=mark)
        for fragment in (
            "Luis Pérez tomó el reclamo",
            "Luis Pérez contactó a soporte\n",
            "Luis Pérez anotó el reclamo R-4471",
            "Diego Alvarado dio acceso al servidor por AnyDesk",
            "Ana Gómez avisó que sigue fallando en Caja",
            "Luis Pérez avisó que FLEXUS funciona",
            "Coordinó: Luis Pérez",
            "Reclamo: R-4471",
            "Caja: Ana Gómez",
            "Administración: Marta Ríos",
        ):
            assert fragment in summary.text, (fragment, summary.text)
        api.wait_idle()
        final = self.card()
        assert "✅ Resuelto" in final and "Leyeron el aviso: Caja 1/1 · Administración 1/2" in final

        # Nothing was sent twice
        assert self.count("con problemas", GROUP_CAJA) == 1
        assert self.count("Falla general de FLEXUS", GROUP_CAJA) == 1
        assert self.count("Soporte ya atiende") == 1
        assert self.count("FLEXUS nuevamente operativo", GROUP_CAJA) == 1
        assert self.count("Resumen del incidente", GROUP_CAJA) == 1
        assert self.count("Falta que confirmen", GROUP_ADMIN) >= 1


@pytest.fixture
def protocol_file(tmp_path: Path) -> Path:
    return write_protocol(tmp_path / "protocol.toml", PROTOCOL)


def test_full_protocol(bot: BotProcess, fake_api: FakeBotAPI, protocol_file: Path) -> None:
    bot.start(FLEXUS_CONFIG=str(protocol_file), FLEXUS_NOW="2026-11-24T07:59:45-03:00")
    Scenario(bot, fake_api, restart=lambda _stage: None).run()


def test_full_protocol_with_restarts(
    bot: BotProcess, fake_api: FakeBotAPI, protocol_file: Path
) -> None:
    # Each restart moves the clock on, as the real one would while the bot is down.
    restarts = iter(
        ["08:00:20", "08:05:00", "08:10:00", "08:20:00", "08:30:00", "08:40:00", "08:50:00"]
    )
    bot.start(FLEXUS_CONFIG=str(protocol_file), FLEXUS_NOW="2026-11-24T07:59:00-03:00")

    def restart(_stage: str) -> None:
        fake_api.wait_idle()
        bot.kill()
        bot.start(FLEXUS_NOW=f"2026-11-24T{next(restarts)}-03:00")

    Scenario(bot, fake_api, restart=restart).run()
    assert bot.starts == 8
