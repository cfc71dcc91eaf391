"""The whole protocol through the real process: from the first report to the acknowledged all-clear.

Run twice: straight through, and with the bot killed and restarted at every stage, which must
lose nothing and send nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.bot_process import FULL_PROTOCOL as PROTOCOL
from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, BotProcess, write_protocol
from tests.support.fakebotapi import (
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
LUIS_ID = 102
DIEGO = user(301, "Diego", "Alvarado")  # Gerencia: never started the bot privately
LAURA = user(302, "Laura", "Backup")  # Gerencia backup


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

    def since(self, chat_id: int, mark: int) -> list[Call]:
        """Messages that appeared in `chat_id` after `mark`."""
        return [c for c in self.api.sent(chat_id) if c in self.api.calls[mark:]]

    def count(self, fragment: str, chat_id: int | None = None) -> int:
        return len([c for c in self.api.sent(chat_id) if fragment in c.text])

    def card(self) -> str:
        alert = self.sent(GROUP_CAJA, "con problemas")
        return self.api.text_of(GROUP_CAJA, alert.result["message_id"])

    def panel(self, fragment: str = "", after: int = 0, timeout: float = 15.0) -> Call:
        """The coordinator's panel as it came last to Luis privately (showing `fragment`)."""
        return self.api.wait_for(
            lambda c: (
                c.method == "sendMessage"
                and c.chat_id == LUIS_ID
                and "Gestionás el reclamo del incidente #1" in c.text
                and fragment in c.text
                and c.result is not None
            ),
            after=after,
            timeout=timeout,
        )

    def panel_now(self) -> tuple[int, str, list[str]]:
        """Luis's newest panel: (message, text as edited, buttons)."""
        self.api.settled()
        newest = [c for c in self.api.sent(LUIS_ID) if "Gestionás el reclamo" in c.text][-1]
        message_id = newest.result["message_id"]
        text = self.api.text_of(LUIS_ID, message_id)
        return message_id, text, [d for _, d in self.api.buttons_on(LUIS_ID, message_id)]

    def step(self, data: str) -> None:
        """Luis presses the next step on his panel, where it is."""
        message_id, _, shown = self.panel_now()
        assert data in shown, (data, shown)
        self.press(LUIS_ID, message_id, LUIS, data)

    def run(self) -> None:
        api = self.api
        # 1–3. Report, confirmations, general failure outside support hours
        api.push(command_update(GROUP_CAJA, ANA, "/caido No deja facturar"))
        alert = self.sent(GROUP_ADMIN, "con problemas")
        card_id = alert.result["message_id"]
        mark = api.mark()
        api.push(press_update(GROUP_ADMIN, card_id, LUIS, "v:1:f"))
        general = self.sent(GROUP_CAJA, "Falla general de FLEXUS", after=mark)
        # One person acts, and support's hours are said once.
        assert "👉 Una sola persona: tocá «Yo gestiono el reclamo»" in general.text
        assert "Soporte no atiende ahora (abre hoy a las 08:00)" in general.text
        assert "Fuera de horario" not in general.text
        assert general.text.count("0351-5685000") == 1
        assert ("🙋 Yo gestiono el reclamo", "y:1") in general.buttons
        api.push(command_update(LUIS_ID, LUIS, "/start"))  # Luis can now be written to privately
        self.sent(LUIS_ID, "Si FLEXUS no funciona")

        # 5. Luis claims: the panel comes to him privately, nothing new in the groups
        mark = api.mark()
        self.press(GROUP_ADMIN, card_id, LUIS, "y:1")
        panel = self.panel(after=mark)
        assert "Soporte abre hoy a las 08:00: te aviso para llamar." in panel.text
        assert [d for _, d in panel.buttons] == ["sc:1", "ax:1", "va:1", "nw:1", "ho:1"]
        assert self.press(GROUP_ADMIN, card_id, MARTA, "y:1").params["text"] == (
            "El reclamo ya lo gestiona Luis Pérez."
        )
        api.settled()
        assert not [c for c in self.since(GROUP_CAJA, mark) if "gestiona" in c.text]
        self.restart("claimed")

        # At 08:00 the panel comes again, with the news on top, exactly once
        opened = self.panel("📞 <b>Soporte ya atiende:</b> llamá ahora.", timeout=40)
        assert "Soporte disponible: horario comercial hasta las 18:30" in opened.text
        mark = api.mark()
        self.step("sc:1")
        prompt = self.sent(LUIS_ID, "¿te dieron número de reclamo?", after=mark)
        assert prompt.buttons == [("Sin número", "nr:1")]
        mark = api.mark()
        api.push(reply_update(LUIS_ID, LUIS, "R-4471", prompt.result["message_id"]))
        self.sent(LUIS_ID, "Anotado el reclamo R-4471", after=mark)
        api.settled()
        assert (
            "📞 Soporte contactado a las 08:" in self.card() and "(reclamo R-4471)" in self.card()
        )
        _, text, shown = self.panel_now()
        assert "✅ Soporte contactado a las 08:" in text and "Reclamo R-4471" in text
        assert shown == ["ax:1", "va:1", "nw:1", "ho:1"]
        # The call is on the card; no group got a message about it
        assert not [c for c in api.sent(GROUP_CAJA) if "habló con soporte" in c.text]
        self.restart("contacted")

        # 6. Server access: Diego cannot be written to privately (403) → mentioned in the group
        # where Luis took the case (not in every group); the request repeats, then Laura
        # (backup) is asked too; only Gerencia may confirm.
        api.fail(
            "sendMessage",
            chat_id=301,
            description="Forbidden: bot can't initiate conversation with a user",
        )
        mark = api.mark()
        self.step("ax:1")
        in_group = self.sent(GROUP_ADMIN, "soporte necesita acceso al servidor", after=mark)
        assert 'href="tg://user?id=301"' in in_group.text and "@flexus_guardia_bot" in in_group.text
        assert "AnyDesk o TeamViewer" in in_group.text
        assert in_group.buttons == [
            ("Acceso otorgado por AnyDesk", "ag:1:0"),
            ("Acceso otorgado por TeamViewer", "ag:1:1"),
        ]
        self.restart("access requested")
        again = self.sent(GROUP_ADMIN, "Recordatorio 1", after=mark, timeout=30)
        to_laura = self.sent(
            302, "Soporte de FLEXUS necesita entrar al servidor", after=mark, timeout=30
        )
        assert "Recordatorio 2" in to_laura.text and "Laura Backup" in to_laura.text
        self.panel("⚠️ Gerencia no respondió: también le pedí acceso a Laura Backup", after=mark)
        assert self.press(GROUP_ADMIN, again.result["message_id"], MARTA, "ag:1:0").params[
            "text"
        ] == (
            "Solo Gerencia (Diego Alvarado, Laura Backup) o un admin puede marcar el acceso al servidor."
        )
        mark = api.mark()
        self.press(GROUP_ADMIN, again.result["message_id"], DIEGO, "ag:1:0")
        granted = self.panel("🖥️ Diego Alvarado dio acceso al servidor por AnyDesk", after=mark)
        assert "✅ Acceso al servidor: Diego Alvarado por AnyDesk" in granted.text
        api.wait_idle(quiet=2.0)
        requests = self.count("necesita", GROUP_ADMIN) + self.count("necesita", 302)
        assert self.count("necesita", GROUP_CAJA) == 0
        self.restart("access granted")
        api.wait_idle(quiet=2.0)
        assert self.count("necesita", GROUP_ADMIN) + self.count("necesita", 302) == requests

        # 7. Validation: Caja says it still fails (only Luis hears it), then a second round passes
        mark = api.mark()
        self.step("va:1")
        round1 = self.sent(GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
        assert "Caja ⏳ · Administración ⏳" in round1.text
        assert "vo:1" not in [d for _, d in round1.buttons]  # the coordinator's alone
        mark = api.mark()
        self.press(GROUP_CAJA, round1.result["message_id"], ANA, "vq:1:1:n")
        failed = self.panel("❌ En Caja FLEXUS sigue fallando", after=mark)
        assert "avisó Ana Gómez" in failed.text
        api.settled()
        assert not [c for c in self.since(GROUP_ADMIN, mark) if "sigue fallando" in c.text]
        assert (
            "Esta validación ya cerró."
            in self.press(GROUP_ADMIN, round1.result["message_id"], MARTA, "vq:1:1:y").params[
                "text"
            ]
        )
        self.restart("validation failed")
        mark = api.mark()
        self.step("va:1")
        round2 = self.sent(GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
        self.press(GROUP_CAJA, round2.result["message_id"], ANA, "vq:1:2:y")
        mark = api.mark()
        self.press(GROUP_ADMIN, round2.result["message_id"], MARTA, "vq:1:2:y")
        done = self.panel("🔔 Todos los sectores respondieron", after=mark)
        assert "tocá «📣 Avisar que FLEXUS volvió»" in done.text
        assert [d for _, d in done.buttons] == ["ac:1", "ho:1"]
        self.restart("validated")

        # 8. All-clear: only the coordinator; session question; everyone acknowledges
        mark = api.mark()
        api.push(command_update(GROUP_CAJA, ANA, "/resuelto"))
        assert (
            "Solo quien coordina el reclamo (Luis Pérez)"
            in self.sent(GROUP_CAJA, "Solo quien coordina", after=mark).text
        )
        mark = api.mark()
        api.push(command_update(LUIS_ID, LUIS, "/resuelto Si algo no carga, cerrá y abrí FLEXUS"))
        question = self.sent(LUIS_ID, "¿Hay que reiniciar sesión", after=mark)
        mark = api.mark()
        self.press(LUIS_ID, question.result["message_id"], LUIS, "rs:1:n")
        clears = {
            chat: self.sent(chat, "FLEXUS nuevamente operativo", after=mark)
            for chat in (GROUP_CAJA, GROUP_ADMIN, LUIS_ID)
        }
        assert "No hace falta reiniciar sesión" in clears[GROUP_CAJA].text
        assert "👉 Si algo no carga, cerrá y abrí FLEXUS" in clears[GROUP_CAJA].text
        # Luis is asked, once, what support said caused it; his reply is the incident's cause.
        ask = self.sent(LUIS_ID, "¿Qué dijo soporte que pasó?", after=mark)
        assert ask.buttons == [("Saltar", "cz:1")]
        told = api.mark()
        api.push(reply_update(LUIS_ID, LUIS, "Se llenó el disco del servidor", ask.message_id))
        self.sent(LUIS_ID, "Anotado", after=told)
        self.press(GROUP_CAJA, clears[GROUP_CAJA].result["message_id"], ANA, "ok:1")
        self.restart("all-clear sent")
        # The reminder goes only where a sector is missing
        reminder = self.sent(GROUP_ADMIN, "Falta que confirmen el aviso", after=mark, timeout=30)
        assert "Administración" in reminder.text and "Caja" not in reminder.text.split("\n")[0]
        assert 'href="tg://user?id=103"' in reminder.text
        assert reminder.buttons == [("👍 Entendido", "ok:1")]
        mark = api.mark()
        self.press(GROUP_ADMIN, clears[GROUP_ADMIN].result["message_id"], MARTA, "ok:1")
        summary = self.sent(GROUP_CAJA, "Resumen del incidente #1", after=mark)
        # The groups' summary fits one screen; the timeline goes to Luis (and /informe)
        assert len(summary.text.split("\n")) <= 8, summary.text
        for fragment in (
            "Coordinó: Luis Pérez · Reclamo: R-4471",
            "Según soporte: “Se llenó el disco del servidor”",
            "/informe 1",
        ):
            assert fragment in summary.text, (fragment, summary.text)
        full = self.sent(LUIS_ID, "Resumen del incidente #1", after=mark)
        for fragment in (
            "Luis Pérez tomó el reclamo",
            "Luis Pérez contactó a soporte\n",
            "Luis Pérez anotó el reclamo R-4471",
            "Diego Alvarado dio acceso al servidor por AnyDesk",
            "Ana Gómez avisó que sigue fallando en Caja",
            "Luis Pérez avisó que FLEXUS funciona",
            "Coordinó: Luis Pérez",
            "Reclamo: R-4471",
            "Qué pasó, según soporte: “Se llenó el disco del servidor”",
            "Caja: Ana Gómez",
            "Administración: Marta Ríos",
        ):
            assert fragment in full.text, (fragment, full.text)
        api.settled()
        final = self.card()
        assert "✅ Resuelto" in final and "Leyeron el aviso: Caja 1/1 · Administración 1/2" in final

        # Nothing was sent twice, and nothing reached Caja that was not news for it
        assert self.count("con problemas", GROUP_CAJA) == 1
        assert self.count("Falla general de FLEXUS", GROUP_CAJA) == 1
        assert self.count("Soporte ya atiende") == 1
        assert self.count("FLEXUS nuevamente operativo", GROUP_CAJA) == 1
        assert self.count("Resumen del incidente", GROUP_CAJA) == 1
        assert self.count("¿Qué dijo soporte que pasó?") == 1
        # Reminded every 2 s by the protocol file, but a group hears one in half an hour
        assert self.count("Falta que confirmen", GROUP_ADMIN) == 1
        assert self.count("Falta que confirmen", GROUP_CAJA) == 0


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
        fake_api.settled()
        bot.kill()
        bot.start(FLEXUS_NOW=f"2026-11-24T{next(restarts)}-03:00")

    Scenario(bot, fake_api, restart=restart).run()
    assert bot.starts == 8
