"""Priorities and order: critical before news before chatter, each chat's messages in the order
they were written, and nothing that waits holds back what matters more.

The worker against the suite's fake Bot API in process (see tests/support/delivery.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from bot.transport import outbox
from bot.transport.delivery import DeliveryWorker
from models.delivery import CHATTER, CRITICAL, NEWS
from tests.support.delivery import (
    GROUP_A,
    T0,
    Harness,
    send,
)
from tests.support.fakebotapi import BAD_GATEWAY


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

    order = [c.text for c in h.api.calls if c.method == "sendMessage"]
    assert order == [
        "alerta 1",
        "alerta 2",
        "novedad 1",
        "novedad 2",
        "respuesta 1",
        "respuesta 2",
    ]
    # A 👍 on someone's message is in no sequence: it waits for nothing and holds nothing back.
    assert [c.method for c in h.api.calls].count("setMessageReaction") == 1
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
        assert h.api.texts(GROUP_A) == []


async def test_chatter_in_retries_never_delays_critical(h: Harness) -> None:
    h.api.script(*[BAD_GATEWAY] * 4, chat_id=GROUP_A, text="respuesta")
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
    assert h.api.texts(GROUP_A) == ["🚨 Falla general"]
    assert [c.fault for c in h.api.calls] == ["502", None]


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
        h.api.script(BAD_GATEWAY, chat_id=GROUP_A, text=f"🚨 Falla general {n}")
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
    assert h.api.texts(GROUP_A) == expected
