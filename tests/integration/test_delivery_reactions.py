"""👍 on reports: in a burst, the late ones become one message naming those people.

The worker against the suite's fake Bot API in process (see tests/support/delivery.py)."""

from __future__ import annotations

import html
import time
from typing import Any

from bot.transport import outbox
from models.delivery import NEWS
from tests.support.delivery import (
    GROUP_A,
    GROUP_B,
    T0,
    Harness,
    send,
)
from tests.support.fakebotapi import BAD_GATEWAY


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
        await h.until(lambda: _true(h.api.sent(GROUP_A)), advance=False, what="the message")
    [message] = h.api.sent(GROUP_A)
    late = [f"Persona {n}" for n in range(48, 60)]
    assert message.text == (
        f"👍 Anoté también a {', '.join(late[:-1])} y {late[-1]}: ya cuentan como afectados."
    )
    reacted = sorted(c.message_id for c in h.api.calls_of("setMessageReaction", GROUP_A))
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
    assert h.api.sent() == []
    assert len(h.api.calls) == 60
    assert await h.statuses(ids) == ["sent"] * 60


async def test_late_reactions_wait_their_turn_when_the_group_has_no_room(h: Harness) -> None:
    """The group's minute is used up: a message would wait for it, a reaction does not."""
    ids = await h.enqueue(*[reacted_to(n) for n in range(60)])
    async with h.running(telegram_limits=True) as worker:
        for _ in range(20):
            worker.budget.settle(worker.budget.take(GROUP_A, time.monotonic()), time.monotonic())
        worker.wake()
        await h.settled(ids, advance=False)
    assert h.api.sent() == []
    assert await h.statuses(ids) == ["sent"] * 60


async def test_a_long_list_of_late_names_is_cut_to_fit_one_message(h: Harness) -> None:
    """Names of 45 characters outside the Basic Multilingual Plane (2 UTF-16 units each, as
    Telegram counts) and with "&" (escaped, one character once parsed): each is shown cut to
    40 characters ending in "…", and the message still fits."""
    long_name = "𝓝𝓸𝓶𝓫𝓻𝓮 & " * 5  # 45 characters
    ids = await h.enqueue(*[reacted_to(n, name=f"{long_name}{n}") for n in range(148)])
    async with h.running(telegram_limits=True) as worker:
        worker.wake()
        await h.until(lambda: _true(h.api.sent(GROUP_A)), advance=False, what="the message")
    [message, *_] = h.api.sent(GROUP_A)
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
    assert h.api.texts(GROUP_A) == ["novedad"]
    assert await h.statuses(ids) == ["sent"] * 61


async def test_one_joined_message_waits_at_a_time_and_none_in_a_blocked_chat(
    h: Harness,
) -> None:
    ids = await h.enqueue(*[reacted_to(n) for n in range(60)])
    async with h.running(telegram_limits=True) as worker:
        worker.state.blocked_until[GROUP_B] = h.clock.monotonic() + 3600  # a 429 on the other group
        # The first joined message of GROUP_A fails again and again (backing off, not blocked).
        h.api.script(*[BAD_GATEWAY] * 50, chat_id=GROUP_A)
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
    assert h.api.sent() == []
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
        await h.until(lambda: _true(h.api.sent(GROUP_A)), advance=False, what="the message")
    [message] = h.api.sent(GROUP_A)
    assert "también a Ana, Luis e Inés:" in (message.text or "")
    assert (await h.statuses(ids)).count("folded") == 7
