"""Membership asked ahead (bot.team.membership.Membership.ask_early): a press by someone whose
membership is not known is asked to Telegram while the press is stored, and its step takes
that answer; nothing is decided ahead, and nothing is asked that the step would not ask."""

from __future__ import annotations

import asyncio
import time

from bot.team.membership import EARLY_AT_ONCE, EARLY_KEPT_SECONDS, GROUP_ANONYMOUS_BOT
from bot.transport.intake import Intake
from tests.support.delivery import ADMINS, GROUP_A, GROUP_B, Harness
from tests.support.fakebotapi import command_update, press_update, user


async def test_the_step_takes_the_answer_asked_ahead_and_telegram_is_asked_once(
    h: Harness,
) -> None:
    membership, bot = h.runtime.membership, h.telegram
    h.api.chat_member_status[(GROUP_A, 501)] = "member"
    membership.ask_early(bot, 501, GROUP_A)
    membership.ask_early(bot, 501, GROUP_A)  # the same press seen twice: one question
    await asyncio.sleep(0.1)
    assert len(h.api.calls_of("getChatMember")) == 1  # asked before any step
    assert await membership.is_member(bot, 501, GROUP_A)
    assert len(h.api.calls_of("getChatMember")) == 1
    # Known now: nothing asked ahead, nothing asked by the step.
    membership.ask_early(bot, 501, GROUP_A)
    assert await membership.is_member(bot, 501, GROUP_A)
    assert len(h.api.calls_of("getChatMember")) == 1


async def test_an_outsider_asked_ahead_is_still_refused(h: Harness) -> None:
    membership, bot = h.runtime.membership, h.telegram  # the fake: "left" by default
    membership.ask_early(bot, 502, GROUP_A)
    assert not await membership.is_member(bot, 502, GROUP_A)
    # Asked in every team chat, each once, ahead.
    assert sorted(c.params["chat_id"] for c in h.api.calls_of("getChatMember")) == sorted(
        h.runtime.team_chat_ids
    )


async def test_nothing_is_asked_ahead_about_who_needs_no_question(h: Harness) -> None:
    membership, bot = h.runtime.membership, h.telegram
    membership.ask_early(bot, ADMINS[0], GROUP_A)  # an admin is always a member
    membership.ask_early(bot, GROUP_ANONYMOUS_BOT, GROUP_A)  # a stand-in is nobody
    membership.note(503, GROUP_B, True)  # wrote in a team chat a moment ago
    membership.ask_early(bot, 503, GROUP_A)
    await asyncio.sleep(0.1)
    assert h.api.calls_of("getChatMember") == []
    assert await membership.is_member(bot, 503, GROUP_A)
    assert not await membership.is_member(bot, GROUP_ANONYMOUS_BOT, GROUP_A)
    assert h.api.calls_of("getChatMember") == []


async def test_an_answer_asked_long_before_its_step_is_asked_again(h: Harness) -> None:
    membership, bot = h.runtime.membership, h.telegram
    h.api.chat_member_status[(GROUP_A, 504)] = "member"
    membership.ask_early(bot, 504, GROUP_A)
    await asyncio.sleep(0.1)
    task, _asked = membership._early[(504, GROUP_A)]
    membership._early[(504, GROUP_A)] = (task, time.monotonic() - EARLY_KEPT_SECONDS - 1)
    membership._known.clear()  # what the early answer taught is forgotten too
    h.api.chat_member_status[(GROUP_A, 504)] = "kicked"  # removed meanwhile
    assert not await membership.is_member(bot, 504, GROUP_A)
    assert len(h.api.calls_of("getChatMember", GROUP_A)) == 2


async def test_a_burst_asks_at_most_a_few_ahead_and_forgets_what_no_step_took(
    h: Harness,
) -> None:
    membership, bot = h.runtime.membership, h.telegram
    for n in range(3 * EARLY_AT_ONCE):
        membership.ask_early(bot, 600 + n, GROUP_A)
    assert len(membership._early) == EARLY_AT_ONCE
    await asyncio.sleep(0.2)
    # No step came for them (e.g. presses already handled): forgotten after a while.
    for key, (task, _asked) in list(membership._early.items()):
        membership._early[key] = (task, time.monotonic() - EARLY_KEPT_SECONDS - 1)
    membership.ask_early(bot, 700, GROUP_A)
    assert list(membership._early) == [(700, GROUP_A)]


class _Application:
    """What the intake uses of python-telegram-bot's Application: the bot and the queue."""

    def __init__(self, bot: object) -> None:
        self.bot = bot
        self.update_queue: asyncio.Queue[object] = asyncio.Queue()


async def test_the_intake_asks_about_a_pressers_membership_as_it_stores_the_press(
    h: Harness,
) -> None:
    intake = Intake(_Application(h.telegram), h.runtime)
    h.api.chat_member_status[(GROUP_A, 505)] = "member"
    press = {"update_id": 9001, **press_update(GROUP_A, 10, user(505, "Eva"), "v:1:w")}
    written = {"update_id": 9002, **command_update(GROUP_B, user(506, "Ivo"), "/estado")}
    try:
        await intake.take([press, written])
        await asyncio.sleep(0.1)
        # The press: asked at once; the message: no question (writing in a team chat says it).
        assert [c.params["user_id"] for c in h.api.calls_of("getChatMember")] == [505]
        assert (505, GROUP_A) in h.runtime.membership._early
    finally:
        await intake.stop()


async def test_someone_removed_while_the_question_was_out_is_no_member(h: Harness) -> None:
    """An update that shows the person left (or was removed) while Telegram was being asked
    wins over the answer that comes back after it."""
    membership, bot = h.runtime.membership, h.telegram
    h.api.chat_member_status[(GROUP_A, 507)] = "member"
    membership.ask_early(bot, 507, GROUP_A)
    await asyncio.sleep(0)  # the question is out
    membership.note(507, GROUP_A, False)  # a chat_member update: removed
    assert not await membership.is_member(bot, 507, GROUP_A)
