"""Faults: 429 waits, 5xx backs off, chatter gives up, critical never does; a try that may have
reached Telegram is marked, and any faults and restarts deliver every alert.

The worker against the suite's fake Bot API in process (see tests/support/delivery.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from models import OutboxMessage
from models.delivery import CHATTER
from tests.support.delivery import (
    GROUP_A,
    GROUP_B,
    GROUP_C,
    T0,
    Harness,
    harness,
    send,
)
from tests.support.fakebotapi import BAD_GATEWAY, Mishap, too_many


async def test_429_waits_retry_after_without_counting_a_try(h: Harness) -> None:
    h.api.script(too_many(30), chat_id=GROUP_A)
    [row_id] = await h.enqueue(send(GROUP_A, "🚨 Falla general"))
    async with h.running() as worker:

        async def told_to_wait() -> bool:
            return (await h.row(row_id)).last_error is not None

        await h.until(told_to_wait, advance=False, what="the 429 stored")
        row = await h.row(row_id)
        assert (row.status, row.attempts) == ("pending", 0)
        assert (row.last_error or "").startswith("429")
        assert row.next_attempt_at == T0 + timedelta(seconds=30)

        # 29 s later another chat's message goes out, and this one still waits.
        h.clock.advance(29)
        [other] = await h.enqueue(send(GROUP_B, "otra alerta"))
        worker.wake()
        await h.settled([other], advance=False)
        assert len(h.api.calls_of("sendMessage", GROUP_A)) == 1

        h.clock.advance(1)
        await h.settled([row_id], advance=False)

    row = await h.row(row_id)
    assert (row.status, row.attempts, row.duplicate_risk) == ("sent", 0, False)
    assert h.api.texts(GROUP_A) == ["🚨 Falla general"]
    assert h.runtime.stats.retries == 0


async def test_5xx_backs_off_and_retries(h: Harness) -> None:
    h.api.script(BAD_GATEWAY, BAD_GATEWAY, chat_id=GROUP_A)
    [row_id] = await h.enqueue(send(GROUP_A, "🚨 Falla general"))
    waits = []
    async with h.running():
        for tries in (1, 2):

            async def failed(tries: int = tries) -> bool:
                return (await h.row(row_id)).attempts == tries

            await h.until(failed, advance=False, what=f"try {tries} failed")
            row = await h.row(row_id)
            assert row.status == "pending" and "Bad Gateway" in (row.last_error or "")
            waits.append((row.next_attempt_at - h.clock.now()).total_seconds())
            h.clock.instant = row.next_attempt_at
        await h.settled([row_id], advance=False)

    # min(30, 0.5 * 2**tries) seconds, give or take the 20 % jitter
    assert 0.4 <= waits[0] <= 0.6 and 0.8 <= waits[1] <= 1.2
    assert (await h.row(row_id)).status == "sent"
    assert h.api.texts(GROUP_A) == ["🚨 Falla general"]
    assert len(h.api.calls_of("sendMessage", GROUP_A)) == 3


async def test_chatter_is_dropped_after_five_tries(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.transport.delivery")
    h.api.script(*[BAD_GATEWAY] * 10, chat_id=GROUP_A)
    [row_id] = await h.enqueue(send(GROUP_A, "¿En qué sector estás?", CHATTER))
    async with h.running():
        await h.settled([row_id])

    row = await h.row(row_id)
    assert row.status == "dropped"
    assert "after 5 tries" in (row.last_error or "")
    assert len(h.api.calls_of("sendMessage", GROUP_A)) == 5
    assert h.api.sent() == []
    dropped = [r for r in caplog.records if "dropped outbox row" in r.getMessage()]
    assert [r.levelno for r in dropped] == [logging.WARNING]


async def test_critical_is_never_dropped_after_many_tries(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.api.script(*[BAD_GATEWAY] * 12, chat_id=GROUP_A)
    [row_id] = await h.enqueue(send(GROUP_A, "🚨 Falla general"))
    async with h.running():
        await h.settled([row_id])

    row = await h.row(row_id)
    assert (row.status, row.attempts) == ("sent", 12)
    assert h.api.texts(GROUP_A) == ["🚨 Falla general"]
    assert not [r for r in caplog.records if "dropped" in r.getMessage()]


async def test_only_what_matters_is_marked_before_it_goes(h: Harness) -> None:
    """A send is marked "may be a duplicate" before it goes, so a kill mid-send is counted;
    not a reply (chatter): a second copy of it harms no one, and the mark costs a transaction
    before every reply."""
    h.api.script(Mishap.KILLED, chat_id=GROUP_A)
    h.api.script(Mishap.KILLED, chat_id=GROUP_B)
    ids = await h.enqueue(send(GROUP_A, "🚨 Falla general"), send(GROUP_B, "respuesta", CHATTER))
    async with h.running():

        async def both_tried() -> bool:
            return len(h.api.killed()) == 2

        await h.until(both_tried, advance=False, what="both sends killed mid-way")
    async with h.running():
        await h.settled(ids)

    alert, reply = [await h.row(i) for i in ids]
    assert (alert.status, alert.duplicate_risk) == ("sent", True)
    assert (reply.status, reply.duplicate_risk) == ("sent", False)
    assert h.api.texts(GROUP_B).count("respuesta") == 2  # the copy nobody was warned of


async def test_success_after_a_timeout_may_be_a_duplicate(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.transport.delivery")
    h.api.script(Mishap.TOO_SLOW, chat_id=GROUP_A)
    ids = await h.enqueue(send(GROUP_A, "🚨 Falla general"), send(GROUP_B, "🚨 Falla general"))
    async with h.running():
        await h.settled(ids)

    timed_out, plain = [await h.row(i) for i in ids]
    assert (timed_out.status, timed_out.duplicate_risk) == ("sent", True)
    assert (plain.status, plain.duplicate_risk) == ("sent", False)
    assert h.runtime.stats.possible_duplicates == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "may show twice" in w] == [
        f"outbox row {ids[0]} (send to chat {GROUP_A}) was delivered after a try that timed "
        "out: it may show twice"
    ]


async def test_success_after_a_dropped_connection_may_be_a_duplicate(h: Harness) -> None:
    # The connection closed after the request went out (Telegram may have carried it out), or
    # it never opened (nothing went out).
    h.api.script(Mishap.ANSWER_LOST, chat_id=GROUP_A)
    h.api.script(Mishap.NO_CONNECTION, chat_id=GROUP_B)
    ids = await h.enqueue(send(GROUP_A, "🚨 Falla general"), send(GROUP_B, "🚨 Falla general"))
    async with h.running():
        await h.settled(ids)

    dropped_row, refused_row = [await h.row(i) for i in ids]
    assert h.api.texts(GROUP_A) == ["🚨 Falla general"] * 2
    assert (dropped_row.status, dropped_row.duplicate_risk) == ("sent", True)
    assert h.api.texts(GROUP_B) == ["🚨 Falla general"]
    assert (refused_row.status, refused_row.duplicate_risk) == ("sent", False)
    assert h.runtime.stats.possible_duplicates == 1


CHATS = (GROUP_A, GROUP_B, GROUP_C)
RESTART = "restart"
OUTCOMES = {
    "ok": lambda: None,
    "429": lambda: too_many(1),
    "5xx": lambda: BAD_GATEWAY,
    "timeout-not-delivered": lambda: Mishap.TOO_SLOW,
    "timeout-delivered": lambda: Mishap.LATE,
    "drop": lambda: Mishap.NO_ANSWER,
    "drop-delivered": lambda: Mishap.ANSWER_LOST,
    "kill": lambda: Mishap.KILLED,
}


def phases_of(script: list[str]) -> list[list[Any]]:
    """Outcomes between restarts; a kill ends its phase (the process died)."""
    phases: list[list[Any]] = [[]]
    for step in script:
        if step != RESTART:
            phases[-1].append(OUTCOMES[step]())
        if step in (RESTART, "kill"):
            phases.append([])
    return phases


async def alerts_through_faults(url: str, chat_of_row: list[int], script: list[str]) -> None:
    """Critical sends through a script of call outcomes; each "restart" and each "kill" stops
    the worker and starts a NEW DeliveryWorker on the same database (the runtime, and so its
    counters, stay). After a kill nothing reaches Telegram until that restart.

    A text may show more than once only for a row flagged duplicate_risk. The extra copies are
    bounded by the calls whose answer was lost (timeout/drop after delivery, kill), not by the
    number of flagged rows: one row that times out twice after delivery shows three times.
    """
    async with harness(url) as h:
        async with h.session() as session:
            await session.execute(delete(OutboxMessage))  # the database is shared by examples
            await session.commit()
        texts = [f"🚨 Falla general {i}" for i in range(len(chat_of_row))]
        ids = await h.enqueue(*(send(CHATS[c], t) for c, t in zip(chat_of_row, texts, strict=True)))

        async def all_sent() -> bool:
            return await h.statuses(ids) == ["sent"] * len(ids)

        async def phase_over() -> bool:
            return h.api.unreachable or await all_sent()

        phases = phases_of(script)
        for number, phase in enumerate(phases):
            last = number == len(phases) - 1
            h.api.clear_scripts()
            h.api.unreachable = False

            def going_down() -> None:
                h.api.unreachable = True  # until the restart, nothing reaches Telegram

            if phase:
                h.api.script(*phase, on_empty=None if last else going_down)
            elif not last:
                going_down()
            # A NEW worker each phase: whatever the last one kept in memory is gone.
            async with h.running():
                await h.until(all_sent if last else phase_over, what="every alert sent")
            if await all_sent():
                break

        rows = [await h.row(i) for i in ids]
        for row, text in zip(rows, texts, strict=True):
            copies = h.api.texts(row.chat_id).count(text)
            assert copies >= 1, f"{text} never reached chat {row.chat_id}"
            if copies > 1:
                assert row.duplicate_risk, f"{text} shows {copies} times, not flagged"
        for chat in CHATS:  # each chat saw its alerts first in the order they were stored
            mine = [t for t, r in zip(texts, rows, strict=True) if r.chat_id == chat]
            assert list(dict.fromkeys(h.api.texts(chat))) == mine, chat
        for text in set(h.api.killed()):
            row = rows[texts.index(text)]
            assert row.duplicate_risk, f"{text}: killed mid-send, not flagged"
            sent_again = h.api.texts(row.chat_id).count(text) > h.api.killed().count(text)
            assert sent_again, f"{text}: killed mid-send, never sent again"
        extra = len(h.api.sent()) - len(ids)
        assert extra <= h.api.unanswered()  # a copy only where an answer was lost
        assert h.runtime.stats.possible_duplicates == sum(r.duplicate_risk for r in rows)


# On PostgreSQL too: the 40 examples take about 4 s there.
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    chat_of_row=st.lists(st.integers(0, len(CHATS) - 1), min_size=1, max_size=6),
    script=st.lists(st.sampled_from([*OUTCOMES, RESTART]), max_size=14),
)
def test_every_alert_arrives_through_any_faults_and_restarts(
    database_url: str, chat_of_row: list[int], script: list[str]
) -> None:
    asyncio.run(alerts_through_faults(database_url, chat_of_row, script))


async def test_a_drill_message_tried_again_is_marked_once(h: Harness) -> None:
    """The worker keeps the rows it read for its next read: the drill mark it adds to a text
    it sends goes on a copy, never on the row kept."""
    h.api.script(too_many(1), chat_id=GROUP_A)
    [row_id] = await h.enqueue(send(GROUP_A, "🚨 Falla general"))
    async with h.session() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        row.payload = row.payload.replace("{", '{"drill": true, ', 1)
        await session.commit()
    async with h.running() as worker:
        worker.words = dataclasses.replace(worker.words, drill=lambda text: "SIMULACRO " + text)
        await h.settled([row_id])
    assert h.api.texts(GROUP_A) == ["SIMULACRO 🚨 Falla general"]
    assert len(h.api.calls_of("sendMessage", GROUP_A)) == 2  # refused once, then sent
