"""Two copies of the real process on one PostgreSQL database run as one.

The active copy is killed (-9) or frozen (SIGSTOP past its lease) in the middle of a burst of
reports and votes, or loses its database connection: the standby copy takes over, polls from
the stored offset, and every report and vote is counted once, every critical message reaches
every chat, and no message is sent by both copies (a row in flight at the takeover may show
twice, and is then reported). The old copy, back, stands by: a frozen one sends nothing more
after waking. Leases are 3 s here (10 s by default): tests/bench/bench_failover.py measures
the default.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.bot_process import ADMIN_ID, GROUP_CAJA, cli, sent_to
from tests.support.copies import NOW_ACTIVE, STANDING_BY, Pair
from tests.support.fakebotapi import command_update
from tests.support.reliability import (
    ANA,
    CRITICAL,
    TEAM,
    KillSwitchAPI,
    burst,
    expected_burst,
    seen,
    settled,
    unreported_duplicates,
    wait_stored,
)
from tests.support.tcp_proxy import TCPProxy


@pytest.fixture
def pg_database() -> Iterator[str]:
    from tests.conftest import POSTGRES_URL, drop_postgres_database, fresh_postgres_database

    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    url, name = fresh_postgres_database()
    yield url
    drop_postgres_database(name)


@pytest.fixture
def api() -> Iterator[KillSwitchAPI]:
    fake = KillSwitchAPI()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def pair(api: KillSwitchAPI, pg_database: str, tmp_path: Path) -> Iterator[Pair]:
    copies = Pair(api, pg_database, tmp_path)
    yield copies
    copies.stop_all()


# A burst smaller than the reliability suite's 300 votes: two processes and PostgreSQL on CI's
# two CPUs; the copy is still killed or frozen while most votes are being answered.
VOTES = 120


def assert_burst_counted_once(pair: Pair) -> None:
    reporters, votes = expected_burst(30, VOTES)
    state = wait_stored(
        pair.database_url,
        lambda s: len(s.votes) == 30 + VOTES and settled(pair.now)(s),
        timeout=90,
    )
    assert sorted(state.reports) == sorted(reporters)  # each report once, none lost
    assert state.votes == votes
    assert state.inbox["received"] == 0 and state.inbox["skipped"] == 0, state.inbox
    view = seen(pair.api, state)
    for chat in TEAM:
        copies = view.critical["alert"][chat]
        flagged = sum(
            n for (c, text), n in state.flagged.items() if c == chat and CRITICAL["alert"] in text
        )
        assert copies == 1 or copies - 1 <= flagged, (chat, copies, flagged)
    assert unreported_duplicates(view, state) == []


@pytest.mark.parametrize("how", ["kill -9", "SIGSTOP"])
def test_the_standby_copy_takes_over_a_burst_and_the_old_one_comes_back_standing_by(
    pair: Pair, how: str
) -> None:
    api = pair.api
    a = pair.start_active("a")
    b = pair.start_standby("b")
    code, report = b.health()
    assert code == 200 and report["role"] == "standby" and report["active_copy"] == "a"
    assert b.health("/healthz/active")[0] == 503
    code, report = a.settled_health("/healthz/active")
    assert code == 200 and report["role"] == "active", report

    mark = api.mark()
    burst(api, VOTES)
    api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
    assert a.bot.process is not None
    pid = a.bot.process.pid
    taken_from = api.mark()
    gone_at = time.monotonic()
    if how == "kill -9":
        a.bot.kill()
    else:
        os.kill(pid, signal.SIGSTOP)
    try:
        polled_at = pair.polls("b", after=taken_from)
        b.wait_log(NOW_ACTIVE)
        # Within the lease (3 s here), a second to notice, and the start of the active part.
        assert polled_at - gone_at < pair.lease_seconds + 5
        assert_burst_counted_once(pair)
    finally:
        if how == "SIGSTOP":
            woke = api.mark()
            os.kill(pid, signal.SIGCONT)
    if how == "SIGSTOP":
        # Awake, it finds its lease gone: not one more call, and it stands by.
        a.wait_log("stands by again")
        a.wait_log(STANDING_BY)
        assert [c.method for c in api.calls[woke:] if c.via == "a"] == []
    else:
        pair.start_standby("a")
    assert a.health()[1]["role"] == "standby" and a.health()[1]["active_copy"] == "b"
    assert b.health()[1]["role"] == "active"
    told = sent_to(api, ADMIN_ID, "Tomé el control en b")
    assert "a dejó de responder" in told.text
    # `flexus-bot status`, from any machine: who is active, since when, each copy's last sign.
    status = cli(pair.root, "status", DATABASE_URL=pair.database_url)
    assert status.returncode == 0, status.stderr
    assert "active: b (pid" in status.stdout and "(lease epoch 2)" in status.stdout
    table = status.stdout.split("last seen\n", 1)[1].splitlines()
    rows = [tuple(line.split()[:3]) for line in table if line.split()[0] in ("a", "b")]
    assert ("b", str(b.bot.process.pid), "active") in rows, status.stdout
    if how == "kill -9":  # the killed process's own line
        assert ("a", str(pid), "replaced") in rows or ("a", str(pid), "silent") in rows
    assert ("a", str(a.bot.process.pid), "standby") in rows, status.stdout
    # The team goes on with the new active copy, answered once.
    mark = api.mark()
    api.push(command_update(GROUP_CAJA, ANA, "/soporte"))
    sent_to(api, GROUP_CAJA, "0351", after=mark)
    api.settled()
    answers = [c for c in api.calls[mark:] if c.method == "sendMessage" and "0351" in c.text]
    assert [c.via for c in answers] == ["b"]
    assert not [c for c in api.calls[mark:] if c.via == "a" and c.method != "getUpdates"]


def test_a_copy_cut_off_from_the_database_stops_acting_and_stands_by_when_it_is_back(
    pair: Pair,
) -> None:
    url = make_url(pair.database_url)
    proxy = TCPProxy(url.host or "127.0.0.1", int(url.port or 5432))
    try:
        cut_url = url.set(port=proxy.port).render_as_string(hide_password=False)
        a = pair.copy("a", DATABASE_URL=cut_url)
        pair.start_active("a")
        b = pair.start_standby("b")
        api = pair.api
        mark = api.mark()
        proxy.cut_off()
        a.wait_log("could not renew the lease before it ran out", timeout=30)
        b.wait_log(NOW_ACTIVE)
        pair.polls("b", after=mark)
        alert_from = api.mark()
        api.push(command_update(GROUP_CAJA, ANA, "/caido"))
        for chat in TEAM:
            sent_to(api, chat, CRITICAL["alert"], after=alert_from)
        proxy.restore()
        a.wait_log(STANDING_BY, timeout=30)
        assert a.health()[1]["role"] == "standby"
        api.settled()
        alerts = [c for c in api.sent() if CRITICAL["alert"] in c.text]
        assert sorted((c.chat_id, c.via) for c in alerts) == sorted((chat, "b") for chat in TEAM)
        assert not [c for c in api.calls[alert_from:] if c.via == "a"]
    finally:
        proxy.close()
