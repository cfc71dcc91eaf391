"""The delivery worker's flood windows: 20 a minute per group, room kept for what matters."""

from __future__ import annotations

from bot.delivery import Budget
from models.delivery import CHATTER, CRITICAL, NEWS

GROUP = -100123


def test_chatter_leaves_room_for_news_and_news_for_critical() -> None:
    budget = Budget(per_second=1000, group_per_minute=20)
    for i in range(14):
        assert budget.wait(GROUP, CHATTER, now=i * 0.01) == 0
        budget.take(GROUP, now=i * 0.01)
    assert budget.wait(GROUP, CHATTER, now=1.0) > 0  # 14 used: chatter waits
    for i in range(3):
        assert budget.wait(GROUP, NEWS, now=1.0) == 0
        budget.take(GROUP, now=1.0 + i * 0.01)
    assert budget.wait(GROUP, NEWS, now=2.0) > 0  # 17 used: news waits
    for _ in range(3):
        assert budget.wait(GROUP, CRITICAL, now=2.0) == 0
        budget.take(GROUP, now=2.0)
    wait = budget.wait(GROUP, CRITICAL, now=2.0)
    assert 57 < wait <= 60  # the window frees 60 s after the first of the 20


def test_reactions_do_not_use_the_groups_budget() -> None:
    budget = Budget(per_second=1000, group_per_minute=20)
    for i in range(50):
        assert budget.wait(GROUP, CHATTER, now=i * 0.01, posts=False) == 0
        budget.take(GROUP, now=i * 0.01, posts=False)
    assert budget.wait(GROUP, CRITICAL, now=1.0) == 0


def test_never_more_than_the_overall_rate_in_any_second() -> None:
    budget = Budget(per_second=30, group_per_minute=20)
    sent = 0
    now = 0.0
    while now < 1.0:
        if budget.wait(-sent - 1, CRITICAL, now) == 0:  # a different group each time
            budget.take(-sent - 1, now)
            sent += 1
        now += 0.001
    assert sent == 30
