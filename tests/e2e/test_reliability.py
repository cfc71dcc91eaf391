"""Reliability through the real process: a bad day at Telegram, a burst, and kill -9 at any call.

1. The whole protocol while a seeded 20% of what the bot sends fails (429, 5xx, timeouts,
   dropped connections): it completes, every team chat gets every critical message, the process
   never dies, and every message that showed twice was reported as a possible duplicate.
   A send whose connection is cut after Telegram took it is resent, and reported.
2. A team chat that refuses the bot (403) for a moment: the admins are told once, the alert
   reaches the chat when it accepts the bot again, and the chat is marked reachable.
3. 30 reports and 300 votes in a burst, kill -9 while they are being handled, restart: every
   report and every vote is counted, the alert reached every chat once (or the extra copy was
   reported). SQLite always; PostgreSQL too when TEST_POSTGRES_URL is set.
4. kill -9 when the k-th call that changes what people see reaches Telegram (odd k: Telegram
   got it; even k: it never arrived), restart, and the protocol goes on: nothing lost.

The scenarios (KillSwitchAPI, ProtocolRun, stored(), ...) are in tests/support/reliability.py,
shared with the benchmark scripts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    BotProcess,
)
from tests.support.fakebotapi import (
    command_update,
)
from tests.support.reliability import (
    ANA,
    CRITICAL,
    EXPECTED_ACKS,
    EXPECTED_REPORTS,
    EXPECTED_VALIDATION,
    EXPECTED_VOTES,
    FAULTS_NO_403,
    TEAM,
    KillSwitchAPI,
    Lifeline,
    ProtocolRun,
    StaleCard,
    burst,
    db_url,
    expected_burst,
    make_bot,
    reported_duplicates,
    seen,
    send_to,
    settled,
    stored,
    unreported_duplicates,
    wait_stored,
)

# --- the tests -------------------------------------------------------------------------------


@pytest.fixture
def fake_api() -> Iterator[KillSwitchAPI]:
    api = KillSwitchAPI()
    api.start()
    yield api
    api.stop()


@pytest.fixture
def bot(fake_api: KillSwitchAPI, tmp_path: Path) -> Iterator[BotProcess]:
    process = make_bot(fake_api, tmp_path)
    yield process
    if process.process is not None:
        process.kill()


# On PostgreSQL, concurrent votes each render the card from their own snapshot
# (handlers/votes.py → refresh_cards) and the newest edit row by id, not by commit order, wins
# the folding (bot/transport/delivery/rows.py), so after a burst the card can miss a vote or two until the next
# change; every vote is stored. Only that check is expected to fail there (SQLite serialises
# the steps with BEGIN IMMEDIATE).
@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database the bot migrates itself at start."""
    if request.param == "sqlite":
        yield db_url(tmp_path)
        return
    from tests.conftest import POSTGRES_URL, drop_postgres_database, fresh_postgres_database

    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    url, name = fresh_postgres_database()
    yield url
    drop_postgres_database(name)


def test_whole_protocol_with_a_fifth_of_the_calls_failing(
    bot: BotProcess, fake_api: KillSwitchAPI, tmp_path: Path
) -> None:
    # 403 is left out here: a team chat that refuses is retried only after 30 s (then 60 s...),
    # which would make this run minutes long; test_a_team_chat_refusing_for_a_moment covers it.
    fake_api.inject_faults(0.2, FAULTS_NO_403, seed=20261124, timeout_delay=1.5)
    # On top of the random share, one sure timeout on a critical message: it must show twice
    # (at least once is the promise) and be reported.
    fake_api.trap("late", send_to(GROUP_CAJA, CRITICAL["general"]))
    life = Lifeline(bot)
    bot.env["TELEGRAM_TIMEOUT_SECONDS"] = "1"  # a delayed answer is a timeout for the client
    life.begin()

    ProtocolRun(fake_api).run()

    state = wait_stored(db_url(tmp_path), settled(life.now))
    assert bot.process is not None and bot.process.poll() is None, "the bot died"
    view = seen(fake_api, state)
    assert sum(view.faults.values()) > 0
    assert view.missing_critical == []
    assert view.critical["general"][GROUP_CAJA] >= 2  # the late answer made a second copy
    assert state.incident_status == "closed"
    assert state.inbox["received"] == 0 and state.inbox["skipped"] == 0, state.inbox
    assert state.lost_reports(EXPECTED_REPORTS) == 0 and state.lost_votes(EXPECTED_VOTES) == 0
    assert unreported_duplicates(view, state) == []
    # The bot reports messages, not copies: a message delivered after two timeouts shows three
    # times and is one "may show twice" line, so distinct duplicated messages are compared.
    assert len(set(fake_api.duplicate_sends())) <= reported_duplicates(bot)


def test_a_send_cut_off_after_telegram_took_it_is_reported(
    bot: BotProcess, fake_api: KillSwitchAPI, tmp_path: Path
) -> None:
    # The connection closes after Telegram took the alert (a proxy, a network cut): the bot
    # cannot know, sends it again, and must report the second copy.
    fake_api.trap("cut", send_to(GROUP_CAJA, CRITICAL["alert"]))
    bot.start()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido No deja facturar"))
    run = ProtocolRun(fake_api)
    run.delivered(GROUP_ADMIN, CRITICAL["alert"])
    state = wait_stored(db_url(tmp_path), lambda s: s.pending_outbox == 0)
    view = seen(fake_api, state)
    assert view.critical["alert"][GROUP_CAJA] == 2  # at least once: the cut one, then again
    assert unreported_duplicates(view, state) == []


def test_a_team_chat_refusing_for_a_moment(
    bot: BotProcess, fake_api: KillSwitchAPI, tmp_path: Path
) -> None:
    bot.start()
    # Refused for a few seconds: long enough for the alert's first try, over long before the
    # bot tries that chat again (30 s later).
    fake_api.fail(
        "sendMessage",
        chat_id=GROUP_ADMIN,
        description="Forbidden: bot was kicked from the supergroup chat",
        until=time.monotonic() + 5.0,
    )
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido No deja facturar"))
    run = ProtocolRun(fake_api)
    run.delivered(GROUP_CAJA, CRITICAL["alert"])
    told = run.delivered(ADMIN_ID, "No puedo escribir en el grupo del equipo")
    assert str(GROUP_ADMIN) in told.text
    assert stored(db_url(tmp_path)).unreachable == [GROUP_ADMIN]
    # The refused alert is tried again (after 30 s) and then shows once, like everywhere else.
    run.delivered(GROUP_ADMIN, CRITICAL["alert"])
    state = wait_stored(db_url(tmp_path), lambda s: s.unreachable == [] and s.pending_outbox == 0)
    assert state.unreachable == []
    notices = [c for c in fake_api.sent(ADMIN_ID) if "No puedo escribir" in c.text]
    assert len(notices) == 1  # the admins are told once
    assert seen(fake_api, state).critical["alert"] == {GROUP_CAJA: 1, GROUP_ADMIN: 1}
    assert f"chat {GROUP_ADMIN} answers again" in bot.log()
    assert bot.process is not None and bot.process.poll() is None


def test_burst_then_kill_9_loses_no_report_and_no_vote(
    bot: BotProcess, fake_api: KillSwitchAPI, database_url: str
) -> None:
    life = Lifeline(bot)
    bot.env["DATABASE_URL"] = database_url
    life.begin()
    mark = fake_api.mark()
    burst(fake_api, 300)
    # Kill as soon as the votes are being handled: most of them are still in flight.
    fake_api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
    life.kill_and_restart()

    reporters, votes = expected_burst(30, 300)
    state = wait_stored(database_url, lambda s: len(s.votes) == 330 and settled(life.now)(s))
    assert sorted(state.reports) == sorted(reporters)  # each report once, none lost
    assert state.votes == votes
    assert state.inbox["received"] == 0 and state.inbox["skipped"] == 0, state.inbox
    view = seen(fake_api, state)
    for chat in TEAM:
        copies = view.critical["alert"][chat]
        flagged = sum(
            n for (c, text), n in state.flagged.items() if c == chat and CRITICAL["alert"] in text
        )
        assert copies == 1 or copies - 1 <= flagged, (chat, copies, flagged)
    assert unreported_duplicates(view, state) == []
    assert bot.process is not None and bot.process.poll() is None
    # The card each chat sees shows every vote
    for chat in TEAM:
        card = fake_api.text_of(chat, state.cards[chat])
        tally = "Afectados: Caja 90, Administración 90 · Les funciona: Caja 75, Administración 75"
        if tally not in card:
            raise StaleCard(card)


# A handful of the ~47 state-changing calls of a clean run (their order varies a little from
# run to run): 1 the first alert card (Telegram got it), 6 the second "Falla general" (lost),
# 19 the access request repeated by a timer, 36 around the all-clear, 40 around the summary.
# tests/bench/chaos_kill.py runs every one of them.
KILL_POINTS = [1, 6, 19, 36, 40]


@pytest.mark.parametrize("k", KILL_POINTS)
def test_kill_9_at_a_bot_api_call_loses_nothing(
    bot: BotProcess, fake_api: KillSwitchAPI, tmp_path: Path, k: int
) -> None:
    life = Lifeline(bot)
    fake_api.arm(k, life.kill_and_restart)
    life.begin()

    ProtocolRun(fake_api).run()

    state = wait_stored(db_url(tmp_path), settled(life.now))
    assert life.restarts == 1, f"the run made {fake_api.state_changing} calls, fewer than {k}"
    assert state.reports == [101]  # not lost, not counted twice
    assert state.lost_votes(EXPECTED_VOTES) == 0
    assert EXPECTED_VALIDATION <= state.validation and EXPECTED_ACKS <= state.acks
    assert state.overdue_timers(life.now()) == []
    assert state.inbox["received"] == 0 and state.inbox["skipped"] == 0, state.inbox
    view = seen(fake_api, state)
    assert view.missing_critical == []
    assert unreported_duplicates(view, state) == []
    assert state.incident_status == "closed"
