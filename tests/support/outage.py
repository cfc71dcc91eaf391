"""A typical general failure played as people play it, from the first report to the summary,
and what it put in each group: the scenario behind `tests/bench/bench_noise.py` and the test
that holds each group to the news (`test_quiet_groups.py`).

Two groups (Caja, Administración). Ana (Caja) reports, Marta (Administración) says it fails
too, Luis (Administración, who pressed Start) takes the case, calls support, gives the ticket
number, asks Gerencia (Diego, who pressed Start) for server access, starts the validation,
both sectors say it works, Luis sends the all-clear, both sectors read it, the summary goes.
Every press is found the way a person finds it: the button on a message they can see.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA
from tests.support.fakebotapi import (
    Call,
    FakeBotAPI,
    command_update,
    press_update,
    reply_update,
    user,
)

ANA = user(101, "Ana", "Gómez")  # Caja
LUIS = user(102, "Luis", "Pérez")  # Administración: coordinates
MARTA = user(103, "Marta", "Ríos")  # Administración
DIEGO = user(301, "Diego", "Alvarado")  # Gerencia
CHATS = (GROUP_CAJA, GROUP_ADMIN)

PROTOCOL = """
[[gerencia]]
name = "Diego Alvarado"
telegram_id = 301
"""
# Tuesday 09:00 in Córdoba: support is open.
NOW = "2026-11-24T09:00:00-03:00"

# What puts something new in a group: a message, or a pin (Telegram posts "pinned" in the chat).
NEW = ("sendMessage", "sendPhoto", "sendDocument", "pinChatMessage")
EDITS = ("editMessageText", "editMessageReplyMarkup", "editMessageCaption")


@dataclass
class Noise:
    """What one group got during the outage."""

    messages: list[str] = field(default_factory=list)  # first line of each new message
    pins: int = 0
    edits: int = 0

    @property
    def new(self) -> int:
        return len(self.messages) + self.pins


def noise(api: FakeBotAPI, chat_id: int, after: int = 0) -> Noise:
    found = Noise()
    for call in api.calls[after:]:
        if call.chat_id != chat_id or call.result is None or call.fault:
            continue
        if call.method == "pinChatMessage":
            found.pins += 1
        elif call.method in NEW:
            found.messages.append(call.text.split("\n")[0][:70])
        elif call.method in EDITS:
            found.edits += 1
    return found


class Outage:
    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.taps = 0  # the coordinator's presses and typed messages, claim to all-clear
        self.typed = 0  # of those, the typed ones (a command or a reply)

    def sent(self, chat_id: int, fragment: str, after: int = 0, timeout: float = 20.0) -> Call:
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

    def button(self, data: str, chats: tuple[int, ...], timeout: float = 20.0) -> tuple[int, int]:
        """(chat, message) of the newest message in `chats` that shows a button `data`."""
        found: list[tuple[int, int]] = []

        def shown() -> bool:
            found[:] = [
                key
                for key, message in list(self.api.messages.items())
                if key[0] in chats
                and any(d == data for _, d in self.api.buttons_on(*key))
                and message is not None
            ]
            return bool(found)

        deadline = time.monotonic() + timeout
        while not shown():
            if time.monotonic() > deadline:
                raise AssertionError(f"no button {data!r} in {chats} within {timeout}s")
            time.sleep(0.05)
        return max(found, key=lambda key: key[1])

    def press(self, who: dict, data: str, chats: tuple[int, ...]) -> Call:
        chat_id, message_id = self.button(data, chats)
        mark = self.api.mark()
        self.api.push(press_update(chat_id, message_id, who, data))
        if who is LUIS:
            self.taps += 1
        return self.api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)

    def luis_calls_support(self) -> int:
        """Ana reports, Marta confirms, Luis (who never pressed Start) takes the case in his
        group and presses «Soporte contactado». Returns the mark before that press."""
        self.api.push(command_update(GROUP_CAJA, ANA, "/caido"))
        self.press(MARTA, "v:1:f", (GROUP_ADMIN,))
        self.press(LUIS, "y:1", (GROUP_ADMIN,))
        mark = self.api.mark()
        self.press(LUIS, "sc:1", (GROUP_ADMIN,))
        return mark

    def play(self, opener: str = "/caido No deja facturar") -> None:
        """The whole protocol; Ana opens it in Caja with `opener` (a /simulacro: a drill)."""
        api, luis_sees = self.api, (LUIS["id"], GROUP_ADMIN)
        for person in (LUIS, DIEGO):  # they pressed Start in a private chat with the bot
            mark = api.mark()
            api.push(command_update(person["id"], person, "/start"))
            self.sent(person["id"], "", after=mark)
        # 1–4: the report, a second sector confirms: a general failure
        api.push(command_update(GROUP_CAJA, ANA, opener))
        self.press(MARTA, "v:1:f", (GROUP_ADMIN,))
        # 5: Luis takes the case and calls support
        self.press(LUIS, "y:1", (GROUP_ADMIN,))
        mark = api.mark()
        self.press(LUIS, "sc:1", luis_sees)
        prompt = api.wait_for(
            lambda c: (
                c.method == "sendMessage"
                and c.chat_id in luis_sees
                and "número de reclamo" in c.text
                and c.result is not None
            ),
            after=mark,
        )
        api.push(reply_update(prompt.chat_id, LUIS, "R-45871", prompt.result["message_id"]))
        self.taps += 1
        self.typed += 1
        # 6: server access from Gerencia
        self.press(LUIS, "ax:1", luis_sees)
        self.press(DIEGO, "ag:1:0", (DIEGO["id"],))
        # 7: validation, sector by sector
        self.press(LUIS, "va:1", luis_sees)
        self.press(ANA, "vq:1:1:y", (GROUP_CAJA,))
        self.press(MARTA, "vq:1:1:y", (GROUP_ADMIN,))
        # 8: the all-clear, read by both sectors
        self.all_clear()
        self.press(LUIS, "rs:1:n", luis_sees)
        self.press(ANA, "ok:1", (GROUP_CAJA,))
        self.press(MARTA, "ok:1", (GROUP_ADMIN,))
        self.sent(GROUP_CAJA, "Resumen del incidente #1")
        self.sent(GROUP_ADMIN, "Resumen del incidente #1")
        api.wait_idle(quiet=1.0)

    def all_clear(self) -> None:
        """By the button where the coordinator has one, else by typing /resuelto."""
        try:
            self.button("ac:1", (LUIS["id"], GROUP_ADMIN), timeout=15.0)
        except AssertionError:
            self.api.push(command_update(LUIS["id"], LUIS, "/resuelto"))
            self.taps += 1
            self.typed += 1
            return
        self.press(LUIS, "ac:1", (LUIS["id"], GROUP_ADMIN))
