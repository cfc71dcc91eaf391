"""The intake, in process: a press's membership asked ahead as the press is stored
(bot.team.membership.Membership.ask_early; the step takes that answer, nothing is decided
ahead, nothing asked that the step would not ask), and a batch the database refuses left with
Telegram while polling goes on."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.exc import OperationalError

from bot.team.membership import EARLY_AT_ONCE, EARLY_KEPT_SECONDS, GROUP_ANONYMOUS_BOT
from bot.transport import inbox
from bot.transport.intake import Intake, Poller
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


class _Telegram:
    """getUpdates as Telegram answers it: these batches, in turn, then nothing new."""

    def __init__(self, *batches: list[dict[str, object]]) -> None:
        self.batches, self.offsets = list(batches), []

    async def do_api_request(self, method: str, api_kwargs: dict, read_timeout: float) -> object:
        self.offsets.append(api_kwargs.get("offset"))
        if self.batches:
            return self.batches.pop(0)
        await asyncio.sleep(3600)
        return []


async def test_updates_that_could_not_be_stored_stay_with_telegram_and_polling_goes_on(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses the batch (away, full): the offset does not move, so Telegram
    sends it again, and the poller goes on instead of ending."""
    press = {"update_id": 9101, **press_update(GROUP_A, 10, user(508, "Ana"), "v:1:w")}
    telegram = _Telegram([press], [press])
    intake = Intake(_Application(telegram), h.runtime)
    real, tries = Intake.take, []

    async def refused_once(self: Intake, raw: list[dict[str, object]]) -> None:
        tries.append(1)
        if len(tries) == 1:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        await real(self, raw)

    monkeypatch.setattr(Intake, "take", refused_once)
    monkeypatch.setattr(h.runtime.membership, "ask_early", lambda *a: None)
    poller = Poller(intake)
    polling = asyncio.create_task(poller.run())
    try:
        for _ in range(100):
            async with h.runtime.read_session() as session:
                if await inbox.status_of(session, 9101) is not None:
                    break
            await asyncio.sleep(0.05)
        assert len(tries) == 2 and not polling.done()
        assert telegram.offsets[:2] == [None, None]  # the offset stayed: sent again
    finally:
        polling.cancel()
        await intake.stop()
