"""Only the team may act: strangers, ex-members and anonymous admins are refused and nothing of
theirs is stored; hostile updates are skipped with one log line; the data files are private."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    TOKEN,
    BotProcess,
    bot_env,
    sent_to,
)
from tests.support.fakebotapi import (
    Call,
    FakeBotAPI,
    chat,
    command_update,
    press_update,
    user,
)

ANA = user(101, "Ana", "Gómez")  # Caja
LUIS = user(102, "Luis", "Pérez")  # Administración
MARTA = user(103, "Marta", "Ríos")  # Administración; removed from the team mid-incident
STRANGER = user(666, "Extraño")
EX_MEMBER = user(667, "Ex", "Compañero")
ANONYMOUS = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}

# Every button the bot makes, with data that would act on incident #1.
FORGED = [
    "v:1:f",
    "v:1:w",
    "y:1",
    "sc:1",
    "ho:1",
    "nw:1",
    "qh:1",
    "mr:5:1",
    "hu:1:666",
    "ax:1",
    "ag:1:0",
    "va:1",
    "vq:1:1:y",
    "vo:1",
    "rs:1:n",
    "rs:1:y",
    "ok:1",
    "l:1:pc",
    "e:1",
    "s:0",
]
NOT_MEMBER = "solo para el equipo"
NOT_A_PERSON = "desactivá «Permanecer anónimo»"


def db_of(bot: BotProcess) -> Path:
    return Path(bot.env["DATABASE_URL"].split("///", 1)[1])


def state(bot: BotProcess) -> dict[str, Any]:
    """Everything a forged step could have changed."""
    with sqlite3.connect(db_of(bot)) as db:
        tables = (
            "incidents",
            "members",
            "votes",
            "events",
            "reports",
            "validation_answers",
            "acknowledgements",
            "timers",
        )
        counts = {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
        incident = db.execute(
            "select status, coordinator_id, support_contacted_at, access_requested_at, "
            "validation_round, closed_by from incidents order by id"
        ).fetchall()
        people = db.execute("select user_id from members order by user_id").fetchall()
    return {"counts": counts, "incidents": incident, "members": people}


def answer_after(api: FakeBotAPI, mark: int) -> Call:
    return api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)


def open_incident(api: FakeBotAPI) -> int:
    api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
    card = sent_to(api, GROUP_ADMIN, "con problemas")
    api.settled()
    return int(card.result["message_id"])


def left_update(chat_id: int, person: dict[str, Any], status: str = "left") -> dict[str, Any]:
    """A chat_member update, as Telegram sends it to a bot that is an admin of the group."""
    return {
        "chat_member": {
            "chat": chat(chat_id),
            "from": person,
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": person},
            "new_chat_member": {"status": status, "user": person, "until_date": 0},
        }
    }


def test_forged_buttons_from_strangers_and_ex_members_change_nothing(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    for group in (GROUP_CAJA, GROUP_ADMIN):
        fake_api.chat_member_status[(group, STRANGER["id"])] = "left"
    fake_api.chat_member_status[(GROUP_CAJA, EX_MEMBER["id"])] = "left"  # only in Administración
    bot.start()
    card = open_incident(fake_api)
    # The ex-member voted while still in the group, then left it.
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card, EX_MEMBER, "v:1:w"))
    assert "funciona" in answer_after(fake_api, mark).params["text"]
    fake_api.chat_member_status[(GROUP_ADMIN, EX_MEMBER["id"])] = "left"
    fake_api.push(left_update(GROUP_ADMIN, EX_MEMBER))
    fake_api.settled()
    before = state(bot)

    for person in (STRANGER, EX_MEMBER):
        private = int(person["id"])
        for data in FORGED:
            mark = fake_api.mark()
            fake_api.push(press_update(private, 4242, person, data))
            answer = answer_after(fake_api, mark)
            assert NOT_MEMBER in answer.params["text"], (person, data, answer.params)
        mark = fake_api.mark()
        fake_api.push(command_update(private, person, "/estado"))
        refusal = sent_to(fake_api, private, NOT_MEMBER, after=mark)
        assert "no factura" not in refusal.text

    fake_api.settled()
    assert state(bot) == before
    # Nothing was sent anywhere on their behalf but the refusals.
    strangers = {STRANGER["id"], EX_MEMBER["id"]}
    assert {c.chat_id for c in fake_api.sent() if c.chat_id and c.chat_id > 0} <= strangers


def test_anonymous_admins_are_no_one(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    bot.start()
    open_incident(fake_api)
    before = state(bot)

    def as_anonymous(text: str) -> dict[str, Any]:
        update = command_update(GROUP_ADMIN, ANONYMOUS, text)
        update["message"]["sender_chat"] = chat(GROUP_ADMIN)
        return update

    for text in ("/caido", "/contactado R-1", "/resuelto", "/sector"):
        mark = fake_api.mark()
        fake_api.push(as_anonymous(text))
        refusal = sent_to(fake_api, GROUP_ADMIN, NOT_A_PERSON, after=mark)
        assert refusal.text == "Para esto escribí con tu usuario (desactivá «Permanecer anónimo»)"
    # A button press carrying the stand-in user is refused as well.
    for data in FORGED:
        mark = fake_api.mark()
        fake_api.push(press_update(GROUP_ADMIN, 5000, ANONYMOUS, data))
        assert NOT_MEMBER in answer_after(fake_api, mark).params["text"]
    # Information needs no person.
    mark = fake_api.mark()
    fake_api.push(as_anonymous("/soporte"))
    sent_to(fake_api, GROUP_ADMIN, "0351-5685000", after=mark)
    fake_api.settled()
    assert state(bot) == before


def test_a_member_removed_mid_incident_hears_nothing_more(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    fake_api.chat_member_status[(GROUP_CAJA, MARTA["id"])] = "left"  # only in Administración
    bot.start(FLEXUS_NOW="2026-11-24T09:00:00-03:00")
    for person in (LUIS, MARTA):  # both opened a private chat with the bot
        fake_api.push(command_update(int(person["id"]), person, "/start"))
        sent_to(fake_api, int(person["id"]), "/caido")
    card = open_incident(fake_api)
    fake_api.push(press_update(GROUP_ADMIN, card, MARTA, "v:1:f"))
    sent_to(fake_api, GROUP_CAJA, "Falla general de FLEXUS")

    # Marta is removed from the group: at once she is no longer a member.
    fake_api.chat_member_status[(GROUP_ADMIN, MARTA["id"])] = "kicked"
    fake_api.push(left_update(GROUP_ADMIN, MARTA, "kicked"))
    mark = fake_api.mark()
    fake_api.push(command_update(103, MARTA, "/estado"))
    assert "no factura" not in sent_to(fake_api, 103, NOT_MEMBER, after=mark).text

    # The case goes on to the all-clear, driven by an admin.
    admin = user(ADMIN_ID, "Admin")
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card, admin, "y:1"))
    sent_to(fake_api, GROUP_ADMIN, "Gestionás el reclamo", after=mark)
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, card, admin, "va:1"))
    sent_to(fake_api, GROUP_CAJA, "¿FLEXUS funciona en tu sector?", after=mark)
    round1 = sent_to(fake_api, GROUP_CAJA, "¿FLEXUS funciona en tu sector?")
    fake_api.push(press_update(GROUP_CAJA, round1.result["message_id"], ANA, "vq:1:1:y"))
    mark = fake_api.mark()
    fake_api.push(press_update(GROUP_ADMIN, round1.result["message_id"], LUIS, "vq:1:1:y"))
    sent_to(fake_api, GROUP_ADMIN, "Todos los sectores respondieron", after=mark)
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, admin, "/resuelto"))
    question = sent_to(fake_api, GROUP_ADMIN, "¿Hay que reiniciar sesión", after=mark)
    fake_api.push(press_update(GROUP_ADMIN, question.result["message_id"], admin, "rs:1:n"))
    sent_to(fake_api, 102, "FLEXUS nuevamente operativo")  # Luis, still in the team
    fake_api.settled()
    assert not [c for c in fake_api.sent(103) if "nuevamente operativo" in c.text]


# --- hostile and broken updates ------------------------------------------------------------

_ids = st.integers(min_value=-(2**40), max_value=2**40)
_junk = st.one_of(
    st.none(),
    st.booleans(),
    _ids,
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["/caido", "/estado", "/resuelto", "/contactado x", "/sector", "/start"]),
    # Long texts built from a drawn piece: drawing 6,000 characters one by one costs seconds.
    st.builds(
        lambda piece, times: (piece * times)[:6000],
        st.text(min_size=1, max_size=40),
        st.integers(3000, 6000),
    ),
)
_users = st.fixed_dictionaries(
    {"id": _ids, "is_bot": st.booleans(), "first_name": st.text(max_size=20)},
)
_chats = st.one_of(
    st.sampled_from([chat(GROUP_CAJA), chat(GROUP_ADMIN), chat(-1009999), chat(4444)]),
    st.fixed_dictionaries({"id": _ids}),  # no "type": the library cannot read it
)
_messages = st.fixed_dictionaries(
    {"message_id": _ids, "date": st.integers(0, 2**31), "chat": _chats},
    optional={"from": st.one_of(_users, _junk), "text": st.one_of(_texts, _junk)},
)
_presses = st.fixed_dictionaries(
    {"id": st.text(max_size=10), "from": _users, "chat_instance": st.text(max_size=5)},
    optional={
        "data": st.one_of(st.sampled_from(FORGED), st.text(max_size=64), _junk),
        "message": _messages,
    },
)
_updates = st.one_of(
    st.builds(lambda m: {"message": m}, _messages),
    st.builds(lambda m: {"edited_message": m}, _messages),
    st.builds(lambda p: {"callback_query": p}, _presses),
    st.builds(lambda j: {"chat_member": j}, _junk),
    st.dictionaries(st.text(min_size=1, max_size=12), _junk, min_size=1, max_size=2),
)
HOSTILE_BATCHES = 5
BATCH = 200  # 5 x 200 = 1,000 generated updates against one running bot


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One bot for every generated batch, logging at INFO as in production."""
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    workdir = tmp_path_factory.mktemp("hostile")
    process = BotProcess(api=api, workdir=workdir, env=bot_env(api, workdir, LOG_LEVEL="INFO"))
    process.start()
    state = {"api": api, "bot": process, "seen": 0}
    yield state
    alive = process.process is not None and process.process.poll() is None
    if process.process is not None:
        process.kill()
    api.stop()
    assert alive, "the bot died under hostile updates"


@settings(
    max_examples=HOSTILE_BATCHES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
    ],
)
@given(batch=st.lists(_updates, min_size=BATCH, max_size=BATCH))
def test_hostile_updates_are_skipped_and_the_bot_keeps_answering(
    running: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    api: FakeBotAPI = running["api"]
    bot: BotProcess = running["bot"]
    lines_before = len(bot.log().splitlines())
    for update in batch:
        update.pop("update_id", None)
        api.push(update)
    mark = api.mark()
    api.push(command_update(GROUP_CAJA, ANA, "/soporte"))
    sent_to(api, GROUP_CAJA, "0351-5685000", after=mark)
    assert bot.process is not None and bot.process.poll() is None
    grown = len(bot.log().splitlines()) - lines_before
    assert grown <= 2 * (len(batch) + 1), grown
    running["seen"] += len(batch)


def test_file_modes_are_private(bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path) -> None:
    folder = tmp_path / "private" / "data"
    bot.start(DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'flexus.db'}")
    open_incident(fake_api)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("flexus.db", "flexus.db-wal"):
        path = folder / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert os.access(folder / "flexus.db", os.R_OK)
