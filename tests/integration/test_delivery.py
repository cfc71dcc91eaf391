"""The delivery worker on a real database built by the migrations, against an in-process fake Bot.

Time is the test's: the runtime's clock stands still until a test moves it, and the worker's
monotonic clock (429 blocks, flood windows) follows every jump of it, so back-offs of seconds or
minutes take no real time. `Harness.until()` polls the database for a condition; with
`advance=True` it also moves the clock to the next row that waits, reading that instant before
the condition, so a state the rows reach while they wait (a back-off, a refused chat) holds
still long enough to be asserted."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot.team.members import Person, touch_member
from bot.transport import outbox
from bot.transport.delivery import DeliveryWorker
from bot.transport.delivery.cards import CARD_GAP
from models import OutboxMessage
from models.delivery import CHATTER, CRITICAL, NEWS
from tests.integration.delivery_harness import (
    ADMINS,
    CARD_MARKUP,
    GROUP_A,
    GROUP_B,
    GROUP_C,
    KILL,
    OK,
    PERSON,
    SUPERGROUP_A,
    T0,
    Delivered,
    Harness,
    bad_gateway,
    dropped,
    edit,
    harness,
    new_incident,
    post_card,
    send,
    sync_chats,
)


async def test_critical_then_news_then_chatter_each_in_order(h: Harness) -> None:
    ids = await h.enqueue(
        send(GROUP_A, "respuesta 1", CHATTER),
        send(GROUP_A, "novedad 1", NEWS),
        send(GROUP_A, "alerta 1", CRITICAL),
        lambda s: outbox.reaction(s, GROUP_A, 77, "👍", now=T0),
        send(GROUP_A, "novedad 2", NEWS),
        send(GROUP_A, "alerta 2", CRITICAL),
        send(GROUP_A, "respuesta 2", CHATTER),
    )
    async with h.running():
        await h.settled(ids, advance=False)

    order = [c.text for c in h.bot.calls if c.method == "send_message"]
    assert order == [
        "alerta 1",
        "alerta 2",
        "novedad 1",
        "novedad 2",
        "respuesta 1",
        "respuesta 2",
    ]
    # A 👍 on someone's message is in no sequence: it waits for nothing and holds nothing back.
    assert [c.method for c in h.bot.calls].count("set_message_reaction") == 1
    assert await h.statuses(ids) == ["sent"] * 7


async def test_a_reaction_does_not_wait_behind_a_group_out_of_budget(h: Harness) -> None:
    """The group used its 20 messages this minute: the news waits, a 👍 on a report does not."""
    async with h.running() as worker:
        worker.budget.group_per_minute = 20
        for _ in range(20):
            worker.budget.settle(worker.budget.take(GROUP_A, time.monotonic()), time.monotonic())
        news, reaction = await h.enqueue(
            send(GROUP_A, "novedad", NEWS),
            lambda s: outbox.reaction(s, GROUP_A, 77, "👍", now=T0),
        )
        worker.wake()

        async def reacted() -> bool:
            return (await h.row(reaction)).status == "sent"

        await h.until(reacted, advance=False, what="the reaction sent")
        assert (await h.row(news)).status == "pending"
        assert h.bot.texts(GROUP_A) == []


def reacted_to(n: int, chat_id: int = GROUP_A, name: str | None = "") -> Any:
    """A 👍 on report message 1000 + n, by person «Persona n» (`name=None`: a row without one)."""
    who = f"Persona {n}" if name == "" else name
    return lambda s: outbox.reaction(s, chat_id, 1000 + n, "👍", now=T0, name=who)


async def test_the_late_reactions_of_a_burst_become_one_message_naming_them(h: Harness) -> None:
    """60 reports joined at once: at 24 reactions a second the last 12 would wait past 2 s.
    They get one message naming them instead; the others get their 👍, nobody gets both."""
    ids = await h.enqueue(*[reacted_to(n) for n in range(60)])
    async with h.running(telegram_limits=True) as worker:
        worker.wake()
        await h.settled(ids, advance=False)
        await h.until(lambda: _true(h.bot.sent(GROUP_A)), advance=False, what="the message")
    [message] = h.bot.sent(GROUP_A)
    late = [f"Persona {n}" for n in range(48, 60)]
    assert message.text == (
        f"👍 Anoté también a {', '.join(late[:-1])} y {late[-1]}: ya cuentan como afectados."
    )
    reacted = sorted(c.message_id for c in h.bot.tries("set_message_reaction", GROUP_A))
    assert reacted == [1000 + n for n in range(48)]
    assert await h.statuses(ids) == ["sent"] * 48 + ["folded"] * 12


async def _true(value: Any) -> bool:
    return bool(value)


async def test_a_few_late_reactions_or_ones_without_a_name_stay_reactions(h: Harness) -> None:
    """Two late 👍 in a group are not worth a message; a row without a name (stored before
    names were kept) can only be a reaction."""
    ids = await h.enqueue(
        *[reacted_to(n) for n in range(48)],
        *[reacted_to(n, GROUP_A, name=None) for n in range(48, 58)],
        *[reacted_to(n, GROUP_B) for n in range(58, 60)],
    )
    async with h.running(telegram_limits=True) as worker:
        worker.wake()
        await h.settled(ids, advance=False)
    assert h.bot.sent() == []
    assert len(h.bot.calls) == 60
    assert await h.statuses(ids) == ["sent"] * 60


async def test_late_reactions_wait_their_turn_when_the_group_has_no_room(h: Harness) -> None:
    """The group's minute is used up: a message would wait for it, a reaction does not."""
    ids = await h.enqueue(*[reacted_to(n) for n in range(60)])
    async with h.running(telegram_limits=True) as worker:
        for _ in range(20):
            worker.budget.settle(worker.budget.take(GROUP_A, time.monotonic()), time.monotonic())
        worker.wake()
        await h.settled(ids, advance=False)
    assert h.bot.sent() == []
    assert await h.statuses(ids) == ["sent"] * 60


async def test_a_long_list_of_late_names_is_cut_to_fit_one_message(h: Harness) -> None:
    """Names of 45 characters outside the Basic Multilingual Plane (2 UTF-16 units each, as
    Telegram counts) and with "&" (escaped, one character once parsed): each is shown cut to
    40 characters ending in "…", and the message still fits."""
    long_name = "𝓝𝓸𝓶𝓫𝓻𝓮 & " * 5  # 45 characters
    ids = await h.enqueue(*[reacted_to(n, name=f"{long_name}{n}") for n in range(148)])
    async with h.running(telegram_limits=True) as worker:
        worker.wake()
        await h.until(lambda: _true(h.bot.sent(GROUP_A)), advance=False, what="the message")
    [message, *_] = h.bot.sent(GROUP_A)
    shown = html.unescape(message.text or "")
    assert len(shown.encode("utf-16-le")) // 2 < 4096
    named = shown.count("…")
    assert 20 < named < 100
    assert shown.count(long_name[:30]) == named
    statuses = await h.statuses(ids)
    assert statuses[48 : 48 + named] == ["folded"] * named


async def test_no_joined_message_that_would_wait_for_the_group(h: Harness) -> None:
    """News is ahead in the group's sequence and takes the minute's last news slot: a message
    after it would wait a minute, so the late ones stay reactions (2.5 s)."""
    ids = await h.enqueue(send(GROUP_A, "novedad", NEWS), *[reacted_to(n) for n in range(60)])
    async with h.running(telegram_limits=True) as worker:
        for _ in range(17):
            worker.budget.settle(worker.budget.take(GROUP_A, time.monotonic()), time.monotonic())
        worker.wake()
        await h.settled(ids, advance=False)
    assert h.bot.texts(GROUP_A) == ["novedad"]
    assert await h.statuses(ids) == ["sent"] * 61


async def test_one_joined_message_waits_at_a_time_and_none_in_a_blocked_chat(
    h: Harness,
) -> None:
    ids = await h.enqueue(*[reacted_to(n) for n in range(60)])
    async with h.running(telegram_limits=True) as worker:
        worker.state.blocked_until[GROUP_B] = h.clock.monotonic() + 3600  # a 429 on the other group
        # The first joined message of GROUP_A fails again and again (backing off, not blocked).
        h.bot.script(*[bad_gateway()] * 50, chat_id=GROUP_A)
        worker.wake()
        await h.settled(ids[:48], advance=False)
        # More reports in both groups while it waits: in GROUP_A they stay reactions (no second
        # message), in the blocked GROUP_B nothing is folded.
        more = await h.enqueue(
            *[reacted_to(n) for n in range(60, 120)],
            *[reacted_to(n, GROUP_B) for n in range(120, 180)],
        )
        worker.wake()
        await h.settled(more[:60], advance=False)
        assert await h.statuses(more[:60]) == ["sent"] * 60
        assert "folded" not in await h.statuses(more[60:])
        joined = [
            r
            for r in await h.outbox_rows()
            if r.method == "send" and '"tag": "joined"' in r.payload
        ]
        assert len(joined) == 1 and joined[0].status == "pending"


async def test_no_joined_message_for_fewer_than_three_people(h: Harness) -> None:
    """Ten late reports by one person: a message naming one person is not worth it."""
    ids = await h.enqueue(
        *[reacted_to(n) for n in range(48)], *[reacted_to(n, name="Ana") for n in range(48, 58)]
    )
    async with h.running(telegram_limits=True) as worker:
        worker.wake()
        await h.settled(ids, advance=False)
    assert h.bot.sent() == []
    assert await h.statuses(ids) == ["sent"] * 58


async def test_someone_who_reported_twice_is_named_once(h: Harness) -> None:
    ids = await h.enqueue(
        *[reacted_to(n) for n in range(48)],
        *[reacted_to(n, name="Ana") for n in range(48, 52)],
        *[reacted_to(n, name="Luis") for n in range(52, 54)],
        reacted_to(54, name="Inés"),
    )
    async with h.running(telegram_limits=True) as worker:
        worker.wake()
        await h.settled(ids, advance=False)
        await h.until(lambda: _true(h.bot.sent(GROUP_A)), advance=False, what="the message")
    [message] = h.bot.sent(GROUP_A)
    assert "también a Ana, Luis e Inés:" in (message.text or "")
    assert (await h.statuses(ids)).count("folded") == 7


async def test_chatter_in_retries_never_delays_critical(h: Harness) -> None:
    h.bot.script(*[bad_gateway()] * 4, chat_id=GROUP_A, text="respuesta")
    [chatter] = await h.enqueue(send(GROUP_A, "respuesta", CHATTER))
    async with h.running() as worker:

        async def chatter_failed() -> bool:
            return (await h.row(chatter)).attempts == 1

        await h.until(chatter_failed, advance=False, what="the chatter row failed once")
        [critical] = await h.enqueue(send(GROUP_A, "🚨 Falla general", CRITICAL))
        worker.wake()
        # The clock stands still: the chatter row waits its back-off, the alert does not.
        await h.settled([critical], advance=False)
        waiting = await h.row(chatter)

    assert waiting.status == "pending" and waiting.attempts == 1
    assert waiting.next_attempt_at > h.clock.now()
    assert h.bot.texts(GROUP_A) == ["🚨 Falla general"]
    assert [c.outcome for c in h.bot.calls] == ["NetworkError", OK]


@contextlib.asynccontextmanager
async def busy(worker: DeliveryWorker) -> AsyncIterator[None]:
    """A busy bot: steps keep storing rows and waking the worker, so it reads again and again."""

    async def keep_waking() -> None:
        while True:
            worker.wake()
            await asyncio.sleep(0)

    waker = asyncio.create_task(keep_waking())
    try:
        yield
    finally:
        waker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waker


async def test_a_row_waiting_to_retry_holds_back_its_chat(h: Harness) -> None:
    """A chat's rows go in order even while the worker reads the outbox again and again."""
    for n in range(3):
        h.bot.script(bad_gateway(), chat_id=GROUP_A, text=f"🚨 Falla general {n}")
    ids = await h.enqueue(
        *(
            send(GROUP_A, f"{t} {n}")
            for n in range(3)
            for t in ("🚨 Falla general", "✅ Volvió FLEXUS")
        )
    )
    async with h.running() as worker, busy(worker):
        await h.settled(ids)

    # Each all-clear waits for its alert's retry: never "volvió" before "falla" in a chat.
    expected = [f"{t} {n}" for n in range(3) for t in ("🚨 Falla general", "✅ Volvió FLEXUS")]
    assert h.bot.texts(GROUP_A) == expected


# --- 2. record as you go ---------------------------------------------------------------------------
async def test_alert_card_is_recorded_then_pinned(h: Harness) -> None:
    incident = await new_incident(h)
    text = "🚨 Falla general (incidente #1)"
    [row_id] = await h.enqueue(
        send(GROUP_A, text, markup=CARD_MARKUP, record=(incident, "alert"), pin=True)
    )
    async with h.running():

        async def pinned() -> bool:
            return bool(h.bot.tries("pin_chat_message", GROUP_A))

        await h.until(pinned, advance=False, what="the card pinned")
        row = await h.row(row_id)
        cards = await h.cards()

    [sent] = h.bot.sent(GROUP_A)
    assert row.status == "sent" and row.message_id == sent.message_id
    assert [(c.incident_id, c.kind, c.chat_id, c.message_id, c.shown_hash) for c in cards] == [
        (incident, "alert", GROUP_A, sent.message_id, outbox.card_hash(text, CARD_MARKUP))
    ]
    assert [c.method for c in h.bot.calls] == ["send_message", "pin_chat_message"]
    assert h.bot.calls[1].message_id == sent.message_id


async def test_each_chat_message_id_is_stored_as_its_send_succeeds(h: Harness) -> None:
    incident = await new_incident(h)
    h.bot.script(bad_gateway(), chat_id=GROUP_B)
    ids = await h.enqueue(
        *(
            send(chat, "🚨 Falla general", markup=CARD_MARKUP, record=(incident, "alert"))
            for chat in (GROUP_A, GROUP_B)
        )
    )
    async with h.running():

        async def b_failed() -> bool:
            return (await h.row(ids[1])).attempts == 1 and (await h.row(ids[0])).status == "sent"

        await h.until(b_failed, advance=False, what="A sent, B failed once")
        cards_meanwhile = await h.cards()
        await h.settled(ids)
        cards = await h.cards()

    [in_a] = h.bot.sent(GROUP_A)
    [in_b] = h.bot.sent(GROUP_B)
    assert [(c.chat_id, c.message_id) for c in cards_meanwhile] == [(GROUP_A, in_a.message_id)]
    assert [(c.chat_id, c.message_id) for c in cards] == [
        (GROUP_A, in_a.message_id),
        (GROUP_B, in_b.message_id),
    ]


# --- 3. retries ------------------------------------------------------------------------------------
async def test_429_waits_retry_after_without_counting_a_try(h: Harness) -> None:
    h.bot.script(RetryAfter(30), chat_id=GROUP_A)
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
        assert len(h.bot.tries("send_message", GROUP_A)) == 1

        h.clock.advance(1)
        await h.settled([row_id], advance=False)

    row = await h.row(row_id)
    assert (row.status, row.attempts, row.duplicate_risk) == ("sent", 0, False)
    assert h.bot.texts(GROUP_A) == ["🚨 Falla general"]
    assert h.runtime.stats.retries == 0


async def test_5xx_backs_off_and_retries(h: Harness) -> None:
    h.bot.script(bad_gateway(), bad_gateway(), chat_id=GROUP_A)
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
    assert h.bot.texts(GROUP_A) == ["🚨 Falla general"]
    assert len(h.bot.tries("send_message", GROUP_A)) == 3


async def test_chatter_is_dropped_after_five_tries(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.transport.delivery")
    h.bot.script(*[bad_gateway()] * 10, chat_id=GROUP_A)
    [row_id] = await h.enqueue(send(GROUP_A, "¿En qué sector estás?", CHATTER))
    async with h.running():
        await h.settled([row_id])

    row = await h.row(row_id)
    assert row.status == "dropped"
    assert "after 5 tries" in (row.last_error or "")
    assert len(h.bot.tries("send_message", GROUP_A)) == 5
    assert h.bot.sent() == []
    dropped = [r for r in caplog.records if "dropped outbox row" in r.getMessage()]
    assert [r.levelno for r in dropped] == [logging.WARNING]


async def test_critical_is_never_dropped_after_many_tries(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.bot.script(*[bad_gateway()] * 12, chat_id=GROUP_A)
    [row_id] = await h.enqueue(send(GROUP_A, "🚨 Falla general"))
    async with h.running():
        await h.settled([row_id])

    row = await h.row(row_id)
    assert (row.status, row.attempts) == ("sent", 12)
    assert h.bot.texts(GROUP_A) == ["🚨 Falla general"]
    assert not [r for r in caplog.records if "dropped" in r.getMessage()]


async def test_only_what_matters_is_marked_before_it_goes(h: Harness) -> None:
    """A send is marked "may be a duplicate" before it goes, so a kill mid-send is counted;
    not a reply (chatter): a second copy of it harms no one, and the mark costs a transaction
    before every reply."""
    h.bot.script(KILL, chat_id=GROUP_A)
    h.bot.script(KILL, chat_id=GROUP_B)
    ids = await h.enqueue(send(GROUP_A, "🚨 Falla general"), send(GROUP_B, "respuesta", CHATTER))
    async with h.running():

        async def both_tried() -> bool:
            return len(h.bot.killed) == 2

        await h.until(both_tried, advance=False, what="both sends killed mid-way")
    async with h.running():
        await h.settled(ids)

    alert, reply = [await h.row(i) for i in ids]
    assert (alert.status, alert.duplicate_risk) == ("sent", True)
    assert (reply.status, reply.duplicate_risk) == ("sent", False)
    assert h.bot.texts(GROUP_B).count("respuesta") == 2  # the copy nobody was warned of


# --- 4. a timeout, then success ---------------------------------------------------------------------
async def test_success_after_a_timeout_may_be_a_duplicate(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.transport.delivery")
    h.bot.script(TimedOut(), chat_id=GROUP_A)
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
    h.bot.script(Delivered(dropped()), chat_id=GROUP_A)
    h.bot.script(
        NetworkError("httpx.ConnectError: [Errno 111] Connection refused"), chat_id=GROUP_B
    )
    ids = await h.enqueue(send(GROUP_A, "🚨 Falla general"), send(GROUP_B, "🚨 Falla general"))
    async with h.running():
        await h.settled(ids)

    dropped_row, refused_row = [await h.row(i) for i in ids]
    assert h.bot.texts(GROUP_A) == ["🚨 Falla general"] * 2
    assert (dropped_row.status, dropped_row.duplicate_risk) == ("sent", True)
    assert h.bot.texts(GROUP_B) == ["🚨 Falla general"]
    assert (refused_row.status, refused_row.duplicate_risk) == ("sent", False)
    assert h.runtime.stats.possible_duplicates == 1


# --- 5. card edits ---------------------------------------------------------------------------------
async def test_only_the_newest_pending_card_edit_is_sent(h: Harness) -> None:
    incident = await new_incident(h)
    async with h.running():
        card = await post_card(h, incident, GROUP_A, "🚨 Afectados: Caja 1")
        ids = await h.enqueue(
            edit(incident, GROUP_A, "🚨 Afectados: Caja 2"),
            edit(incident, GROUP_A, "🚨 Afectados: Caja 3"),
            edit(incident, GROUP_A, "🚨 Afectados: Caja 4"),
        )
        await h.settled(ids)

    assert await h.statuses(ids) == ["folded", "folded", "sent"]
    edits = h.bot.tries("edit_message_text", GROUP_A)
    assert [(e.text, e.message_id) for e in edits] == [("🚨 Afectados: Caja 4", card.message_id)]
    assert h.bot.shown[(GROUP_A, card.message_id)][0] == "🚨 Afectados: Caja 4"
    [stored] = await h.cards()
    assert stored.shown_hash == outbox.card_hash("🚨 Afectados: Caja 4", CARD_MARKUP)
    assert h.runtime.stats.folded == 2


async def test_an_edit_to_what_the_card_shows_is_not_sent(h: Harness) -> None:
    incident = await new_incident(h)
    async with h.running():
        await post_card(h, incident, GROUP_A, "🚨 Afectados: Caja 1")
        [same] = await h.enqueue(edit(incident, GROUP_A, "🚨 Afectados: Caja 1"))
        await h.settled([same])
        assert (await h.row(same)).status == "unchanged"
        assert h.bot.tries("edit_message_text", GROUP_A) == []
        # The same text without the buttons is a change: that one is sent.
        [changed] = await h.enqueue(edit(incident, GROUP_A, "🚨 Afectados: Caja 1", markup=None))
        await h.settled([changed])

    assert (await h.row(changed)).status == "sent"
    assert [e.markup for e in h.bot.tries("edit_message_text", GROUP_A)] == [None]
    assert h.runtime.stats.unchanged == 1


async def test_a_deleted_card_is_posted_and_pinned_again(h: Harness) -> None:
    incident = await new_incident(h)
    async with h.running():
        card = await post_card(h, incident, GROUP_A, "🚨 Afectados: Caja 1")
        h.bot.delete(GROUP_A, card.message_id)
        [row_id] = await h.enqueue(edit(incident, GROUP_A, "🚨 Afectados: Caja 2"))
        await h.settled([row_id])

        async def pinned_again() -> bool:  # the pin is a row of its own, retried on its own
            return len(h.bot.tries("pin_chat_message", GROUP_A)) == 2

        await h.until(pinned_again, what="the new card pinned")

    [first, again] = h.bot.sent(GROUP_A)
    assert first.message_id == card.message_id
    assert (again.text, again.markup) == ("🚨 Afectados: Caja 2", CARD_MARKUP)
    pins = [c.message_id for c in h.bot.tries("pin_chat_message", GROUP_A)]
    assert pins == [first.message_id, again.message_id]
    [stored] = await h.cards()
    assert stored.message_id == again.message_id
    assert stored.shown_hash == outbox.card_hash("🚨 Afectados: Caja 2", CARD_MARKUP)
    row = await h.row(row_id)
    assert (row.status, row.message_id) == ("sent", again.message_id)


# --- 6. a team chat that refuses the bot ------------------------------------------------------------
async def test_refusing_team_chat_is_reported_once_and_its_alert_waits(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.transport.delivery")
    await sync_chats(h, GROUP_A, GROUP_B)
    kicked = Forbidden("Forbidden: bot was kicked from the group chat")
    h.bot.script(kicked, kicked, kicked, chat_id=GROUP_A)
    [alert] = await h.enqueue(send(GROUP_A, "🚨 Falla general"))
    async with h.running():

        async def refused_three_times() -> bool:
            return (await h.row(alert)).attempts == 3 and len(h.bot.sent()) == len(ADMINS)

        await h.until(refused_three_times, what="three refusals, admins told")
        chat = await h.team_chat(GROUP_A)
        row = await h.row(alert)
        assert (chat.reachable, chat.unreachable_since) == (False, T0)
        assert "bot was kicked" in (chat.last_error or "")
        assert row.status == "pending"
        notices = {admin: h.bot.texts(admin) for admin in ADMINS}
        assert all(len(n) == 1 for n in notices.values()), notices
        assert all(
            "No puedo escribir en el grupo del equipo" in (n[0] or "") for n in notices.values()
        )
        assert str(GROUP_A) in (notices[ADMINS[0]][0] or "")
        assert (await h.team_chat(GROUP_B)).reachable

        await h.settled([alert])
        chat = await h.team_chat(GROUP_A)

    assert (chat.reachable, chat.unreachable_since, chat.last_error) == (True, None, None)
    assert h.bot.texts(GROUP_A) == ["🚨 Falla general"]
    assert {admin: len(h.bot.texts(admin)) for admin in ADMINS} == dict.fromkeys(ADMINS, 1)
    assert any("answers again" in r.getMessage() for r in caplog.records)


# --- 7. a private message the person cannot receive -------------------------------------------------
async def test_refused_private_message_falls_back_to_the_groups(h: Harness) -> None:
    h.bot.script(
        Forbidden("Forbidden: bot can't initiate conversation with a user"), chat_id=PERSON
    )
    fallback = [
        (GROUP_A, "Ana: te toca coordinar (abrí un chat privado con el bot)", None),
        (GROUP_B, "Ana: te toca coordinar (abrí un chat privado con el bot)", None),
    ]
    [private] = await h.enqueue(
        send(PERSON, "Te toca coordinar el incidente #1", NEWS, fallback=fallback)
    )
    async with h.running():

        async def fell_back() -> bool:
            rows = await h.outbox_rows()
            return len(rows) == 3 and all(r.status != "pending" for r in rows)

        await h.until(fell_back, what="the fallback sent")
        rows = await h.outbox_rows()

    assert rows[0].id == private and rows[0].status == "dropped"
    assert (rows[0].last_error or "").startswith("403")
    assert [(r.chat_id, r.priority, r.status) for r in rows[1:]] == [
        (GROUP_A, NEWS, "sent"),
        (GROUP_B, NEWS, "sent"),
    ]
    assert h.bot.texts(GROUP_A) == [fallback[0][1]]
    assert h.bot.texts(GROUP_B) == [fallback[1][1]]
    assert len(h.bot.tries("send_message", PERSON)) == 1  # a refusal is not retried


# --- 8. a group that became a supergroup ------------------------------------------------------------
async def test_migrated_group_is_followed(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.transport.delivery")
    await sync_chats(h, GROUP_A, GROUP_B)
    incident = await new_incident(h)
    async with h.running():
        card = await post_card(h, incident, GROUP_A, "🚨 Afectados: Caja 1")
        h.bot.migrated[GROUP_A] = SUPERGROUP_A
        ids = await h.enqueue(
            send(GROUP_A, "✅ Volvió FLEXUS"), send(GROUP_A, "respuesta", CHATTER)
        )
        await h.settled(ids)

    rows = [await h.row(i) for i in ids]
    assert [(r.chat_id, r.status) for r in rows] == [(SUPERGROUP_A, "sent")] * 2
    assert h.bot.texts(SUPERGROUP_A) == ["✅ Volvió FLEXUS", "respuesta"]
    old, new = await h.team_chat(GROUP_A), await h.team_chat(SUPERGROUP_A)
    assert (old.enabled, old.migrated_to) == (False, SUPERGROUP_A)
    assert (new.enabled, new.sector, new.reachable) == (True, "Caja", True)
    [stored] = await h.cards()
    assert (stored.chat_id, stored.message_id) == (SUPERGROUP_A, card.message_id)
    assert h.runtime.chats == {SUPERGROUP_A: "Caja", GROUP_B: "Administración", GROUP_C: None}
    # ChatMigrated is an answer, not a lost one: nothing can show twice.
    assert [r.duplicate_risk for r in rows] == [False, False]
    assert h.runtime.stats.possible_duplicates == 0
    assert any("became the supergroup" in r.getMessage() for r in caplog.records)


# --- 9. any faults, any restarts: every alert arrives, duplicates are flagged -----------------------
CHATS = (GROUP_A, GROUP_B, GROUP_C)
RESTART = "restart"
OUTCOMES = {
    "ok": lambda: OK,
    "429": lambda: RetryAfter(1),
    "5xx": bad_gateway,
    "timeout-not-delivered": TimedOut,
    "timeout-delivered": lambda: Delivered(TimedOut()),
    "drop": dropped,
    "drop-delivered": lambda: Delivered(dropped()),
    "kill": lambda: KILL,
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
            return h.bot.down or await all_sent()

        phases = phases_of(script)
        for number, phase in enumerate(phases):
            last = number == len(phases) - 1
            h.bot.plans = []
            h.bot.down = False

            def going_down() -> None:
                h.bot.down = True  # until the restart, nothing reaches Telegram

            if phase:
                h.bot.script(*phase, on_empty=None if last else going_down)
            elif not last:
                going_down()
            # A NEW worker each phase: whatever the last one kept in memory is gone.
            async with h.running():
                await h.until(all_sent if last else phase_over, what="every alert sent")
            if await all_sent():
                break

        rows = [await h.row(i) for i in ids]
        for row, text in zip(rows, texts, strict=True):
            copies = h.bot.texts(row.chat_id).count(text)
            assert copies >= 1, f"{text} never reached chat {row.chat_id}"
            if copies > 1:
                assert row.duplicate_risk, f"{text} shows {copies} times, not flagged"
        for chat in CHATS:  # each chat saw its alerts first in the order they were stored
            mine = [t for t, r in zip(texts, rows, strict=True) if r.chat_id == chat]
            assert list(dict.fromkeys(h.bot.texts(chat))) == mine, chat
        for text in set(h.bot.killed):
            row = rows[texts.index(text)]
            assert row.duplicate_risk, f"{text}: killed mid-send, not flagged"
            sent_again = h.bot.texts(row.chat_id).count(text) > h.bot.killed.count(text)
            assert sent_again, f"{text}: killed mid-send, never sent again"
        extra = len(h.bot.sent()) - len(ids)
        assert extra <= h.bot.unacknowledged  # a copy only where an answer was lost
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


async def test_a_card_stored_without_text_is_rendered_once_when_sent(h: Harness) -> None:
    """A burst of refreshes stores small rows; the worker builds the card once, as it is then."""
    incident = await new_incident(h)
    renders: list[int] = []

    async def render(_runtime: Any, incident_id: int) -> tuple[str, Any, bool]:
        renders.append(incident_id)
        return f"🚨 Afectados: {len(renders) + 9}", CARD_MARKUP, False

    h.runtime.card_renderers["alert"] = render
    async with h.running():
        card = await post_card(h, incident, GROUP_A, "🚨 Afectados: 1")
        lazy = [
            lambda s: outbox.edit_card(
                s, incident_id=incident, kind="alert", chat_id=GROUP_A, now=T0
            )
            for _ in range(5)
        ]
        ids = await h.enqueue(*lazy)
        await h.settled(ids)
        assert renders == [incident]  # five refreshes, one card built

        async def unpinned() -> bool:  # the card closed: it comes off the pins
            return bool(h.bot.tries("unpin_chat_message", GROUP_A))

        await h.until(unpinned, advance=False, what="the closed card unpinned")
        # The closed card changes once more (the summary's link): it is not unpinned again.
        [later] = await h.enqueue(lazy[0])
        await h.settled([later], advance=False)
        await h.settled([r.id for r in await h.outbox_rows()], advance=False)

    # The unpin is a row of its own, sent after everything that matters more, and only once.
    unpins = [r for r in await h.outbox_rows() if r.method == "unpin"]
    assert [(r.priority, r.status) for r in unpins] == [(CHATTER, "sent")]
    assert len(h.bot.tries("unpin_chat_message", GROUP_A)) == 1
    assert h.bot.shown[(GROUP_A, card.message_id)][0] == "🚨 Afectados: 11"
    assert await h.statuses(ids) == ["folded"] * 4 + ["sent"]


async def test_a_card_changing_with_every_vote_is_edited_at_most_four_times_a_second(
    h: Harness,
) -> None:
    incident = await new_incident(h)
    async with h.running():
        card = await post_card(h, incident, GROUP_A, "🚨 Afectados: 1")
        for n in (2, 3):
            [edit] = await h.enqueue(
                lambda s, n=n: outbox.edit_card(
                    s,
                    incident_id=incident,
                    kind="alert",
                    chat_id=GROUP_A,
                    now=T0,
                    text=f"🚨 Afectados: {n}",
                    markup=CARD_MARKUP,
                )
            )
            await h.settled([edit], advance=False)
    edits = [c for c in h.bot.calls if c.method == "edit_message_text"]
    assert [c.text for c in edits] == ["🚨 Afectados: 2", "🚨 Afectados: 3"]
    # The gap is kept between the moments the edits are chosen; each reaches Telegram a little
    # after that (more on a busy machine, the suite running in six processes), so the calls
    # may be closer, never back to back.
    assert edits[1].at - edits[0].at >= CARD_GAP * 0.5
    assert h.bot.shown[(GROUP_A, card.message_id)][0] == "🚨 Afectados: 3"


async def test_sector_questions_of_a_group_are_one_message_at_most_once_a_minute(
    h: Harness,
) -> None:
    from handlers.sector import render_sector_question

    h.runtime.card_renderers["sector_question"] = render_sector_question
    async with h.session() as session:
        for n in range(1, 7):
            await touch_member(session, person=Person(100 + n, f"P{n}"), now=T0)
        await session.commit()
    first = [(lambda s, n=n: outbox.ask_sector(s, GROUP_A, 100 + n, now=T0)) for n in range(1, 6)]
    async with h.running():
        ids = await h.enqueue(*first)
        await h.settled(ids)
        [question] = h.bot.sent(GROUP_A)
        assert all(f"P{n}" in (question.text or "") for n in range(1, 6))
        assert "¿de qué sector son?" in (question.text or "")
        # One more person a moment later: asked, but not before the group's minute is over.
        [later] = await h.enqueue(lambda s: outbox.ask_sector(s, GROUP_A, 106, now=T0))
        before = h.clock.now()
        await h.settled([later])
        assert (h.clock.now() - before).total_seconds() >= 59
    questions = h.bot.sent(GROUP_A)
    assert len(questions) == 2 and "P6" in (questions[1].text or "")
    assert sorted(await h.statuses(ids)) == ["folded"] * 4 + ["sent"]
