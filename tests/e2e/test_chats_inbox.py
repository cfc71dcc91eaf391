"""Updates in, chats that change: the inbox, quiet groups, chats that migrate, refuse or lose a
card, webhook mode and /healthz, through the real `flexus-bot run` process and the fake Bot API.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core.clock import Clock
from bot.core.config import Config, Settings, load_protocol
from bot.runtime import Runtime
from bot.storage.db import make_engine
from bot.transport.web import health
from tests.support import forkserver
from tests.support.bot_process import ADMIN_ID, GROUP_ADMIN, GROUP_CAJA, TOKEN, BotProcess
from tests.support.fakebotapi import (
    Call,
    FakeBotAPI,
    _Response,
    command_update,
    migrate_update,
    press_update,
    user,
)
from tests.support.sessions import committing_sessions

ANA = user(101, "Ana", "Gómez")  # Caja
LUIS = user(102, "Luis", "Pérez")  # Administración
MARTA = user(103, "Marta", "Ríos")  # Administración
ADMIN = user(ADMIN_ID, "Admin")
NEW_CAJA = -1001005  # the supergroup GROUP_CAJA becomes
SECRET = "webhook_secret_for_tests_0123456"  # 32 of [A-Za-z0-9_-]
T0 = datetime.fromisoformat("2026-11-24T09:00:00-03:00")  # a Tuesday, support open


class ChatsAPI(FakeBotAPI):
    """The fake Bot API with a few hooks these tests need.

    - `hold(user_id)`: getChatMember about that person hangs until `release(user_id)`, so a
      step that checks membership cannot finish (nor can that person's later updates).
    - `redeliver(update)`: the next getUpdates answer carries it again, whatever the offset.
    - `failed_polls`: how many getUpdates calls were answered with a `fail()` error.
    """

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self._held: dict[int, threading.Event] = {}
        self.arrived: dict[int, threading.Event] = {}
        self._again: list[dict[str, Any]] = []
        self.failed_polls = 0

    def hold(self, user_id: int) -> None:
        self._held[user_id] = threading.Event()
        self.arrived[user_id] = threading.Event()

    def release(self, user_id: int) -> None:
        self._held.pop(user_id).set()

    def push_batch(self, updates: list[dict[str, Any]]) -> list[int]:
        """Queue updates so that one getUpdates answer carries them all."""
        with self._cond:  # re-entrant: push() takes it again
            return [self.push(u) for u in updates]

    def redeliver(self, update: dict[str, Any]) -> None:
        with self._cond:
            self._again.append(update)

    def stop_failing(self, method: str) -> None:
        with self._cond:
            self._failures = [f for f in self._failures if f.method != method]

    def _dispatch(self, method: str, params: dict[str, Any]) -> _Response:
        gate = self._held.get(params.get("user_id", 0)) if method == "getChatMember" else None
        if gate is not None:
            self.arrived[int(params["user_id"])].set()
            while not gate.wait(0.05):
                if self._stopping.is_set():
                    return _Response(0, None)
        return super()._dispatch(method, params)

    def _failure_for(self, method: str, params: dict[str, Any]) -> Any:
        failure = super()._failure_for(method, params)
        if failure is not None and method == "getUpdates":
            self.failed_polls += 1
        return failure

    def _get_updates(self, params: dict[str, Any], fault: str | None = None) -> list[Any]:
        result = super()._get_updates(params, fault)
        with self._cond:
            again, self._again = self._again, []
        return result + again


@pytest.fixture
def fake_api() -> Iterator[ChatsAPI]:
    api = ChatsAPI(TOKEN)
    api.start()
    api.default_member_status = "member"  # as the shared fixture: everyone is in the team
    yield api
    api.stop()


# --- helpers ---------------------------------------------------------------------------------


def alert_in(api: FakeBotAPI, chat_id: int, after: int = 0) -> Call:
    return api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat_id
            and c.result is not None
            and "incidente #" in c.text
            and "con problemas" in c.text
        ),
        after=after,
    )


def card_shows(api: FakeBotAPI, chat_id: int, message_id: int, fragment: str) -> None:
    deadline = time.monotonic() + 30
    while fragment not in api.text_of(chat_id, message_id):
        assert time.monotonic() < deadline, api.text_of(chat_id, message_id)
        time.sleep(0.05)


def sent_text(api: FakeBotAPI, chat_id: int, fragment: str, after: int = 0) -> Call:
    return api.wait_for(
        lambda c: (
            c.method == "sendMessage"
            and c.chat_id == chat_id
            and c.result is not None
            and fragment in c.text
        ),
        after=after,
    )


def count_sent(api: FakeBotAPI, fragment: str, chat_id: int | None = None) -> int:
    return len([c for c in api.sent(chat_id) if fragment in c.text])


def db_path(bot: BotProcess) -> Path:
    return Path(bot.env["DATABASE_URL"].split("///", 1)[1])


def rows(bot: BotProcess, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path(bot)) as connection:
        return connection.execute(sql, args).fetchall()


def wait_log(bot: BotProcess, fragment: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while fragment not in bot.log():
        if time.monotonic() > deadline:
            raise AssertionError(f"{fragment!r} never appeared in the log:\n{bot.log()[-3000:]}")
        time.sleep(0.05)
    return bot.log()


def log_lines(bot: BotProcess, fragment: str) -> list[str]:
    return [line for line in bot.log().splitlines() if fragment in line]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_until_up(url: str, timeout: float = 15.0) -> httpx.Response:
    """GET `url` once the server listens (it opens a moment after the bot is ready)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=10)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def at(offset: timedelta) -> str:
    return (T0 + offset).isoformat()


# --- 1–3: the inbox --------------------------------------------------------------------------


def test_updates_stored_before_the_crash_are_handled_once_after_it(
    bot: BotProcess, fake_api: ChatsAPI
) -> None:
    api = fake_api
    api.chat_member_status[(GROUP_CAJA, ANA["id"])] = "member"
    api.chat_member_status[(GROUP_ADMIN, MARTA["id"])] = "member"
    bot.start()
    assert "offset" not in api.calls_of("getUpdates")[0].params  # nothing stored yet

    # Each person's first update checks membership with Telegram, which hangs: no step can
    # finish, and each person's later updates wait behind their first one.
    api.hold(ANA["id"])
    api.hold(MARTA["id"])
    press = press_update(GROUP_ADMIN, 1, MARTA, "v:1:f")
    ids = api.push_batch(
        [
            command_update(ANA["id"], ANA, "/estado"),
            command_update(MARTA["id"], MARTA, "/estado"),
            command_update(GROUP_CAJA, ANA, "/caido no factura"),
            press,
        ]
    )
    assert api.arrived[ANA["id"]].wait(15) and api.arrived[MARTA["id"]].wait(15)
    bot.kill()
    assert count_sent(api, "con problemas") == 0  # nothing was handled before the crash
    assert rows(bot, "select update_id, status from inbox_updates order by update_id") == [
        (i, "received") for i in ids
    ]

    # Back up: Ana's updates first (Marta's vote needs Ana's incident), then Marta's.
    api.release(ANA["id"])
    mark = api.mark()
    bot.start()
    first_poll = next(c for c in api.calls[mark:] if c.method == "getUpdates")
    assert first_poll.params.get("offset") == max(ids) + 1
    for chat_id in (GROUP_CAJA, GROUP_ADMIN):
        alert_in(api, chat_id, after=mark)
    sent_text(api, ANA["id"], "no hay incidentes abiertos", after=mark)
    api.release(MARTA["id"])
    for chat_id in (GROUP_CAJA, GROUP_ADMIN):
        sent_text(api, chat_id, "Falla general de FLEXUS", after=mark)
    sent_text(api, MARTA["id"], "incidente #1", after=mark)
    api.wait_idle(quiet=0.8)

    for chat_id in (GROUP_CAJA, GROUP_ADMIN):
        assert count_sent(api, "con problemas", chat_id) == 1
        assert count_sent(api, "Falla general de FLEXUS", chat_id) == 1
    assert len(api.sent(ANA["id"])) == 1 and len(api.sent(MARTA["id"])) == 1
    answers = [
        c
        for c in api.calls_of("answerCallbackQuery")
        if c.params.get("callback_query_id") == press["callback_query"]["id"]
    ]
    assert [c.params.get("text") for c in answers] == ["Anotado: a vos también te falla."]
    assert rows(bot, "select count(*) from votes where user_id = ?", MARTA["id"]) == [(1,)]
    assert rows(bot, "select update_id, status from inbox_updates order by update_id") == [
        (i, "handled") for i in ids
    ]
    assert "handling 4 updates stored before the last stop" in bot.log()


def test_an_update_delivered_twice_is_handled_once(bot: BotProcess, fake_api: ChatsAPI) -> None:
    api = fake_api
    bot.start()
    report = command_update(GROUP_CAJA, ANA, "/caido")
    report["update_id"] = 777
    # Twice in one answer, then once more in a later answer (after the offset moved past it).
    api.push_batch([report])
    api.redeliver(dict(report))
    for chat_id in (GROUP_CAJA, GROUP_ADMIN):
        alert_in(api, chat_id)
    api.settled()
    mark = api.mark()
    api.redeliver(dict(report))
    api.push(command_update(GROUP_CAJA, LUIS, "/soporte"))
    sent_text(api, GROUP_CAJA, "0351-5685000", after=mark)
    api.settled()

    for chat_id in (GROUP_CAJA, GROUP_ADMIN):
        assert count_sent(api, "con problemas", chat_id) == 1
    # A second handling would have been Ana joining her own incident: a reaction or a reply.
    assert api.calls_of("setMessageReaction") == []
    assert len(api.sent(GROUP_CAJA)) == 2  # the alert and the /soporte answer
    assert rows(bot, "select status from inbox_updates where update_id = 777") == [("handled",)]
    assert rows(bot, "select count(*) from reports") == [(1,)]


def test_an_unreadable_update_is_logged_once_without_its_content(
    bot: BotProcess, fake_api: ChatsAPI
) -> None:
    api = fake_api
    # The production level: at DEBUG the library itself logs every getUpdates answer in full.
    bot.start(LOG_LEVEL="INFO")
    marker = "CONTENIDO-PRIVADO-4711"
    broken = {
        "message": {
            "message_id": 9,
            "date": int(time.time()),
            "chat": {"id": GROUP_CAJA, "title": marker},  # no "type"
            "from": marker,  # not a user
            "text": f"/caido {marker}",
        }
    }
    broken_id = api.push(broken)
    api.push(command_update(GROUP_CAJA, LUIS, "/soporte"))
    sent_text(api, GROUP_CAJA, "0351-5685000")
    api.settled()

    lines = log_lines(bot, f"skipped update {broken_id} ")
    assert len(lines) == 1, lines
    assert f"skipped update {broken_id} (message): it cannot be read" in lines[0]
    assert marker not in bot.log()
    assert rows(bot, "select status from inbox_updates where update_id = ?", broken_id) == [
        ("skipped",)
    ]
    assert count_sent(api, "con problemas") == 0


def test_polling_outage_is_one_warning_and_recovers(bot: BotProcess, fake_api: ChatsAPI) -> None:
    api = fake_api
    bot.start()
    mark = api.mark()
    until = time.monotonic() + 6
    api.fail("getUpdates", code=502, description="Bad Gateway", until=until)
    back = api.wait_for(
        lambda c: c.method == "getUpdates" and c.at >= until, after=mark, timeout=30
    )
    recovered_after = back.at - until
    api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    alert_in(api, GROUP_ADMIN, after=mark)

    assert api.failed_polls >= 2
    assert len(log_lines(bot, "cannot get updates from Telegram")) == 1
    again = log_lines(bot, "Telegram answers again")
    assert len(again) == 1
    tries = re.search(r"after (\d+) s \((\d+) failed tries\)", again[0])
    assert tries is not None and int(tries[2]) == api.failed_polls
    print(
        f"\n[figure] getUpdates outage of 6 s: {api.failed_polls} failed tries, first good poll "
        f"{recovered_after:.2f} s after the outage ended; the log says {again[0].split(': ')[-1]}"
    )


# --- 5: quiet groups -------------------------------------------------------------------------


def test_joiners_get_reactions_and_the_card_counts_them(
    bot: BotProcess, fake_api: ChatsAPI
) -> None:
    api = fake_api
    bot.start()
    api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    card = alert_in(api, GROUP_CAJA)
    alert_in(api, GROUP_ADMIN)
    api.settled()

    mark = api.mark()
    joiners = [
        command_update(GROUP_CAJA if i < 3 else GROUP_ADMIN, user(201 + i, f"P{i}"), "/caido")
        for i in range(5)
    ]
    for update in joiners:
        api.push(update)
    # A loaded machine may pause the bot longer than any quiet spell: wait for what must come.
    card_shows(api, GROUP_CAJA, card.result["message_id"], "Afectados: Caja 4, Administración 2")
    deadline = time.monotonic() + 30
    while len([c for c in api.calls[mark:] if c.method == "setMessageReaction"]) < len(joiners):
        assert time.monotonic() < deadline, "not every joiner got a reaction"
        time.sleep(0.05)
    api.wait_idle(quiet=0.8)

    reactions = [c for c in api.calls[mark:] if c.method == "setMessageReaction"]
    assert sorted(c.params["message_id"] for c in reactions) == sorted(
        u["message"]["message_id"] for u in joiners
    )
    group_news = [c.text for c in api.calls[mark:] if c.method == "sendMessage"]
    assert not [t for t in group_news if "Sumado" in t]
    assert all("Falla general de FLEXUS" in t for t in group_news), group_news
    live = api.text_of(GROUP_CAJA, card.result["message_id"])
    assert "Afectados: Caja 4, Administración 2" in live

    # Many votes, some of them changing nothing: no edit Telegram would refuse as unchanged.
    message_id = card.result["message_id"]
    for i in range(5):
        for data in ("v:1:f", "v:1:w", "v:1:w", "v:1:f"):
            api.push(press_update(GROUP_ADMIN, message_id, user(301 + i, f"V{i}"), data))
    api.push(command_update(GROUP_CAJA, ANA, "/caido otra vez"))
    card_shows(api, GROUP_CAJA, message_id, "Afectados: Caja 4, Administración 7")
    api.wait_idle(quiet=0.8)
    edits = api.calls_of("editMessageText")
    assert edits and api.not_modified_count() == 0
    print(f"\n[figure] 5 joiners + 20 presses: {len(edits)} card edits sent, 0 refused")


# --- 6–8: chats that change ------------------------------------------------------------------


def test_group_that_became_a_supergroup_is_followed(bot: BotProcess, fake_api: ChatsAPI) -> None:
    api = fake_api
    bot.start()
    api.migrated[GROUP_CAJA] = NEW_CAJA
    api.push(migrate_update(GROUP_CAJA, NEW_CAJA, ANA))
    wait_log(bot, f"team chat {GROUP_CAJA} became the supergroup {NEW_CAJA}: following it")

    mark = api.mark()
    api.push(command_update(GROUP_ADMIN, LUIS, "/caido"))
    alert_in(api, NEW_CAJA, after=mark)
    alert_in(api, GROUP_ADMIN, after=mark)
    api.settled()
    assert api.calls_of("sendMessage", GROUP_CAJA) == []

    # The new supergroup is the team chat of Caja: a report there joins, counted for Caja.
    mark = api.mark()
    api.push(command_update(NEW_CAJA, ANA, "/caido"))
    api.wait_for(lambda c: c.method == "setMessageReaction" and c.chat_id == NEW_CAJA, after=mark)
    api.settled()
    card = alert_in(api, GROUP_ADMIN)
    assert "Caja 1" in api.text_of(GROUP_ADMIN, card.result["message_id"])

    # After a restart with the old id still in TEAM_CHAT_IDS, the new id is kept.
    bot.stop()
    mark = api.mark()
    bot.start()
    api.push(press_update(NEW_CAJA, 1, MARTA, "v:1:w"))
    api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
    api.settled()
    assert [c for c in api.calls[mark:] if c.chat_id == GROUP_CAJA] == []
    assert any(c.method == "editMessageText" and c.chat_id == NEW_CAJA for c in api.calls[mark:])
    assert "using the new id" in bot.log()


def test_migration_learned_from_a_refused_send(bot: BotProcess, fake_api: ChatsAPI) -> None:
    api = fake_api
    api.migrated[GROUP_CAJA] = NEW_CAJA
    bot.start()
    api.push(command_update(GROUP_ADMIN, LUIS, "/caido"))
    card = alert_in(api, NEW_CAJA)
    alert_in(api, GROUP_ADMIN)
    refused = api.calls_of("sendMessage", GROUP_CAJA)
    assert len(refused) == 1 and refused[0].result is None
    api.wait_for(lambda c: c.method == "pinChatMessage" and c.chat_id == NEW_CAJA)
    wait_log(bot, f"team chat {GROUP_CAJA} became the supergroup {NEW_CAJA}: following it")

    mark = api.mark()
    api.push(press_update(GROUP_ADMIN, 1, MARTA, "v:1:w"))
    api.wait_for(lambda c: c.method == "editMessageText" and c.chat_id == NEW_CAJA, after=mark)
    api.settled()
    assert "Les funciona: Administración 1" in api.text_of(NEW_CAJA, card.result["message_id"])
    assert len(api.calls_of("sendMessage", GROUP_CAJA)) == 1
    assert count_sent(api, "con problemas", NEW_CAJA) == 1


def test_a_send_refused_as_migrated_is_no_possible_duplicate(
    bot: BotProcess, fake_api: ChatsAPI
) -> None:
    api = fake_api
    api.migrated[GROUP_CAJA] = NEW_CAJA
    bot.start()
    api.push(command_update(GROUP_ADMIN, LUIS, "/caido"))
    alert_in(api, NEW_CAJA)
    api.settled()
    assert api.duplicate_sends() == []
    assert rows(bot, "select count(*) from outbox where duplicate_risk") == [(0,)]
    assert "may show twice" not in bot.log()


def test_migration_learned_from_a_refused_edit_moves_the_card(
    bot: BotProcess, fake_api: ChatsAPI
) -> None:
    api = fake_api
    bot.start()
    api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    card = alert_in(api, GROUP_CAJA)
    api.settled()
    # The group becomes a supergroup; its history (and the card) comes along.
    with api._cond:
        api.migrated[GROUP_CAJA] = NEW_CAJA
        for (chat_id, message_id), message in list(api.messages.items()):
            if chat_id == GROUP_CAJA:
                api.messages[(NEW_CAJA, message_id)] = message

    mark = api.mark()
    api.push(press_update(GROUP_ADMIN, 1, MARTA, "v:1:w"))
    api.wait_for(lambda c: c.method == "editMessageText" and c.chat_id == NEW_CAJA, after=mark)
    api.settled()
    message_id = card.result["message_id"]
    assert "Les funciona: Administración 1" in api.text_of(NEW_CAJA, message_id)
    assert count_sent(api, "con problemas", NEW_CAJA) == 0  # edited, not posted again
    wait_log(bot, f"team chat {GROUP_CAJA} became the supergroup {NEW_CAJA}: following it")


def test_team_chat_that_refuses_the_bot(bot: BotProcess, fake_api: ChatsAPI) -> None:
    api = fake_api
    for person in (ADMIN, LUIS):
        api.chat_member_status[(GROUP_CAJA, int(person["id"]))] = "member"
    api.fail(
        "sendMessage",
        chat_id=GROUP_ADMIN,
        code=403,
        description="Forbidden: bot was kicked from the supergroup chat",
        times=2,
    )
    bot.start(FLEXUS_NOW=at(timedelta(0)))
    api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    alert_in(api, GROUP_CAJA)
    told = sent_text(api, ADMIN_ID, "No puedo escribir en el grupo del equipo")
    assert str(GROUP_ADMIN) in told.text

    def estado(who: dict[str, Any]) -> str:
        mark = api.mark()
        api.push(command_update(int(who["id"]), who, "/estado"))
        return sent_text(api, int(who["id"]), "incidente #1", after=mark).text

    assert "no reciben mensajes" in estado(ADMIN) and str(GROUP_ADMIN) in estado(ADMIN)
    assert "no reciben mensajes" not in estado(LUIS)
    pending = rows(
        bot,
        "select status, attempts, last_error from outbox where chat_id = ? and method = 'send'",
        GROUP_ADMIN,
    )
    assert [(s, a) for s, a, _ in pending] == [("pending", 1)] and "403" in pending[0][2]

    # A minute later (the retry is due): refused again, nobody is told twice.
    bot.stop()
    mark = api.mark()
    bot.start(FLEXUS_NOW=at(timedelta(minutes=1)))
    api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == GROUP_ADMIN, after=mark)
    api.settled()
    assert "no reciben mensajes" in estado(ADMIN)

    # Later still the bot is back in the group: the alert goes through, the chat is reachable.
    bot.stop()
    mark = api.mark()
    bot.start(FLEXUS_NOW=at(timedelta(minutes=3, seconds=30)))
    alert_in(api, GROUP_ADMIN, after=mark)
    wait_log(bot, f"chat {GROUP_ADMIN} answers again: marked reachable")
    assert "no reciben mensajes" not in estado(ADMIN)
    assert count_sent(api, "No puedo escribir en el grupo del equipo", ADMIN_ID) == 1
    assert count_sent(api, "con problemas", GROUP_ADMIN) == 1


def test_deleted_card_is_posted_and_pinned_again(bot: BotProcess, fake_api: ChatsAPI) -> None:
    api = fake_api
    bot.start()
    api.push(command_update(GROUP_CAJA, ANA, "/caido"))
    first = alert_in(api, GROUP_CAJA)
    old_id = first.result["message_id"]
    api.wait_for(lambda c: c.method == "pinChatMessage" and c.chat_id == GROUP_CAJA)
    api.settled()
    api.delete_message(GROUP_CAJA, old_id)

    mark = api.mark()
    api.push(press_update(GROUP_ADMIN, 1, MARTA, "v:1:w"))
    again = alert_in(api, GROUP_CAJA, after=mark)
    new_id = again.result["message_id"]
    api.wait_for(
        lambda c: (
            c.method == "pinChatMessage"
            and c.chat_id == GROUP_CAJA
            and c.params["message_id"] == new_id
        ),
        after=mark,
    )
    api.settled()
    assert new_id in api.pinned[GROUP_CAJA]
    assert "Les funciona: Administración 1" in api.text_of(GROUP_CAJA, new_id)
    assert "is gone: posting it again" in bot.log()

    mark = api.mark()
    api.push(press_update(GROUP_ADMIN, 1, LUIS, "v:1:f"))
    sent_text(api, GROUP_CAJA, "Falla general de FLEXUS", after=mark)
    api.settled()
    edits = [c for c in api.calls[mark:] if c.method == "editMessageText"]
    assert [c.params["message_id"] for c in edits if c.chat_id == GROUP_CAJA] == [new_id]
    assert "Administración 1 · Les funciona: Administración 1" in api.text_of(GROUP_CAJA, new_id)
    assert count_sent(api, "con problemas", GROUP_CAJA) == 2  # the card and its one repost


# --- 9–10: webhook mode and /healthz ---------------------------------------------------------


def start_webhook(bot: BotProcess, **env: str) -> None:
    """`python -m bot run --webhook` (BotProcess.start_only runs plain `run`)."""
    bot.env.update(env)
    bot.process = forkserver.popen(
        ["run", "--webhook"], cwd=bot.workdir, env=bot.env, stdout=bot.log_path
    )


def test_webhook_mode(bot: BotProcess, fake_api: ChatsAPI) -> None:
    api = fake_api
    port = free_port()
    start_webhook(
        bot, WEBHOOK_URL="https://example.invalid/hook", WEBHOOK_SECRET=SECRET, HTTP_PORT=str(port)
    )
    hook = api.wait_for(lambda c: c.method == "setWebhook", timeout=30)
    assert hook.params["url"] == "https://example.invalid/hook/telegram"
    assert hook.params["secret_token"] == SECRET
    base = f"http://127.0.0.1:{port}"
    healthz = get_until_up(f"{base}/healthz")
    assert healthz.status_code == 200
    assert healthz.json()["database"] == "ok" and healthz.json()["outbox_backlog"] == 0

    def post(update: dict[str, Any], secret: str | None) -> int:
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        return httpx.post(f"{base}/telegram", json=update, headers=headers, timeout=10).status_code

    forged = {"update_id": 40, **command_update(GROUP_ADMIN, LUIS, "/caido falso")}
    assert post(forged, None) == 403
    assert post({**forged, "update_id": 41}, "wrong_secret_for_tests_000000000") == 403
    report = {"update_id": 42, **command_update(GROUP_CAJA, ANA, "/caido no factura")}
    assert post(report, SECRET) == 200
    for chat_id in (GROUP_CAJA, GROUP_ADMIN):
        assert "no factura" in alert_in(api, chat_id).text
    assert post(report, SECRET) == 200  # Telegram retrying a call: handled once
    api.settled()

    assert count_sent(api, "con problemas") == 2
    assert "falso" not in " ".join(c.text for c in api.sent())
    assert rows(bot, "select update_id, status from inbox_updates") == [(42, "handled")]
    assert len(log_lines(bot, "refused a webhook call without the right secret token")) == 2
    assert api.calls_of("getUpdates") == []
    body = httpx.get(f"{base}/healthz", timeout=10).json()
    assert body["database"] == "ok" and "outbox_backlog" in body
    assert "last_poll_seconds_ago" not in body and body["updates_handled"] == 1
    assert bot.stop() == 0


def test_healthz_in_polling_mode(bot: BotProcess, fake_api: ChatsAPI) -> None:
    api = fake_api
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    # Telegram never answered getUpdates: not healthy.
    api.fail("getUpdates", code=502, description="Bad Gateway")
    bot.start(HTTP_PORT=str(port))
    sick = get_until_up(url)
    assert sick.status_code == 503
    assert sick.json()["last_poll_seconds_ago"] is None
    assert "no updates from Telegram" in sick.json()["status"]
    assert sick.json()["database"] == "ok"

    api.stop_failing("getUpdates")
    api.push(command_update(GROUP_CAJA, ANA, "/soporte"))
    sent_text(api, GROUP_CAJA, "0351-5685000")
    well = httpx.get(url, timeout=10)
    assert well.status_code == 200, well.text
    body = well.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert isinstance(body["last_poll_seconds_ago"], int | float)
    assert body["updates_handled"] == 1 and "outbox_backlog" in body


async def test_health_is_503_when_the_database_is_unreachable() -> None:
    url = "postgresql+asyncpg://u@127.0.0.1:1/x"
    settings = Settings(telegram_bot_token=TOKEN, database_url=url)
    engine = make_engine(url)
    runtime = Runtime(
        config=Config(settings=settings, protocol=load_protocol(None)),
        engine=engine,
        sessions=committing_sessions(engine),
        clock=Clock(),
    )
    try:
        status, report = await health(runtime, polling=False)
    finally:
        await engine.dispose()
    assert status == 503
    assert report["database"].startswith("unreachable: ")
    assert "database unreachable" in report["status"]
    assert "outbox_backlog" not in report
