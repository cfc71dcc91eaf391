"""The delivery worker's flood windows: 20 a minute per group, room kept for what matters."""

from __future__ import annotations

from bot.transport.delivery.budget import Budget, Lane, Slot

CRITICAL, NEWS, ANSWER, EDIT, CHATTER = (
    Lane.CRITICAL,
    Lane.NEWS,
    Lane.ANSWER,
    Lane.EDIT,
    Lane.CHATTER,
)

GROUP = -100123


def sent(budget: Budget, chat_id: int, now: float, *, posts: bool = True) -> Slot:
    """A request sent at `now` whose answer came back at once."""
    slot = budget.take(chat_id, now, posts=posts)
    budget.settle(slot, now)
    return slot


def test_chatter_leaves_room_for_news_and_news_for_critical() -> None:
    budget = Budget(per_second=1000, group_per_minute=20)
    for i in range(12):
        assert budget.wait(GROUP, CHATTER, now=i * 0.01) == 0
        sent(budget, GROUP, now=i * 0.01)
    assert budget.wait(GROUP, CHATTER, now=1.0) > 0  # 12 used: chatter waits
    for i in range(6):
        assert budget.wait(GROUP, NEWS, now=1.0) == 0
        sent(budget, GROUP, now=1.0 + i * 0.01)
    assert budget.wait(GROUP, NEWS, now=2.0) > 0  # 18 used: news waits
    for _ in range(2):
        assert budget.wait(GROUP, CRITICAL, now=2.0) == 0
        sent(budget, GROUP, now=2.0)
    wait = budget.wait(GROUP, CRITICAL, now=2.0)
    assert 57 < wait <= 60  # the window frees 60 s after the first of the 20


def test_an_answer_a_person_waits_for_never_waits_behind_card_edits() -> None:
    """Edits take what they may of the minute (they fold), news come on top: a question the
    person is waiting for still goes at once."""
    budget = Budget(per_second=1000, group_per_minute=20)
    taken = 0
    while budget.wait(GROUP, EDIT, now=taken * 0.01) == 0:
        sent(budget, GROUP, now=taken * 0.01)
        taken += 1
    assert taken == 12
    for i in range(3):  # the general failure, the validation question, a reminder
        assert budget.wait(GROUP, NEWS, now=1.0) == 0
        sent(budget, GROUP, now=1.0 + i * 0.01)
    assert budget.wait(GROUP, ANSWER, now=2.0) == 0
    assert budget.wait(GROUP, EDIT, now=2.0) > 0


def test_reactions_do_not_use_the_groups_budget() -> None:
    budget = Budget(per_second=1000, group_per_minute=20)
    for i in range(50):
        assert budget.wait(GROUP, CHATTER, now=i * 0.01, posts=False) == 0
        sent(budget, GROUP, now=i * 0.01, posts=False)
    assert budget.wait(GROUP, CRITICAL, now=1.0) == 0


def test_never_more_than_the_overall_rate_in_any_second() -> None:
    budget = Budget(per_second=30, group_per_minute=20)
    count = 0
    now = 0.0
    while now < 1.0:
        if budget.wait(-count - 1, CRITICAL, now) == 0:  # a different group each time
            sent(budget, -count - 1, now)
            count += 1
        now += 0.001
    assert count == 30


def test_a_request_counts_until_one_window_after_its_answer() -> None:
    """Telegram counts a request when it arrives, anywhere between sending and answer: a
    slow answer keeps it in the window longer, and one still under way counts for sure."""
    budget = Budget(per_second=1, group_per_minute=20)
    slow = budget.take(-1, now=0.0)
    assert budget.wait(-3, CRITICAL, now=1.2) > 0  # still under way
    budget.settle(slow, now=0.5)
    assert budget.wait(-3, CRITICAL, now=1.2) > 0  # answered at 0.5: counts until 1.5
    assert abs(budget.wait(-3, CRITICAL, now=1.2) - 0.3) < 1e-9
    assert budget.wait(-3, CRITICAL, now=1.5) == 0


def test_a_slot_never_used_counts_nowhere() -> None:
    budget = Budget(per_second=1, group_per_minute=20)
    slot = budget.take(-1, now=0.0)  # taken for a card edit that turned out unchanged
    assert budget.wait(-2, CRITICAL, now=0.1) > 0
    slot.release()
    assert budget.wait(-2, CRITICAL, now=0.1) == 0


def test_chatter_leaves_room_in_every_second_for_what_matters() -> None:
    budget = Budget(per_second=30, group_per_minute=20)
    for _ in range(24):  # reactions to people's reports: chatter
        assert budget.wait(-1, CHATTER, now=0.0, posts=False) == 0
        sent(budget, -1, now=0.0, posts=False)
    assert budget.wait(-1, CHATTER, now=0.0, posts=False) > 0
    for n in range(3):
        assert budget.wait(-2 - n, NEWS, now=0.0) == 0
        sent(budget, -2 - n, now=0.0)
    assert budget.wait(-9, NEWS, now=0.0) > 0
    for n in range(3):  # the alert still goes this second
        assert budget.wait(-10 - n, CRITICAL, now=0.0) == 0
        sent(budget, -10 - n, now=0.0)
    assert budget.wait(-20, CRITICAL, now=0.0) > 0
