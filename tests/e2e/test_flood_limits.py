"""Telegram's flood limits, enforced strictly by the fake: a broadcast to many team chats goes
out without a single 429, and the alert reaches every chat (tests/bench/bench_broadcast.py
measures the same at 50 chats, with the rate reached)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import BotProcess, bot_env
from tests.fakebotapi import STATE_CHANGING, FakeBotAPI, busiest, command_update, user

CHATS = [-1002000000 - n for n in range(40)]


def test_an_alert_to_forty_chats_stays_within_the_limits(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    fake_api.enforce_flood_limits(per_second=30, group_per_minute=20)
    env = bot_env(
        fake_api,
        tmp_path,
        TEAM_CHAT_IDS=",".join(str(c) for c in CHATS),
        TELEGRAM_MSGS_PER_SECOND="30",
        TELEGRAM_GROUP_MSGS_PER_MINUTE="20",
    )
    bot = BotProcess(api=fake_api, workdir=tmp_path, env=env)
    bot.start()
    try:
        mark = fake_api.mark()
        fake_api.push(command_update(CHATS[0], user(101, "Ana"), "/caido no factura"))
        for chat in CHATS:  # the alert, then its pin, in every chat
            fake_api.wait_for(
                lambda c, chat=chat: (
                    c.method == "pinChatMessage" and c.chat_id == chat and c.fault is None
                ),
                after=mark,
                timeout=60,
            )
        fake_api.wait_idle(quiet=1.0)
    finally:
        bot.stop()
    calls = fake_api.calls[mark:]
    assert fake_api.flood_429s == 0
    alerts = [c for c in calls if c.method == "sendMessage" and "con problemas" in c.text]
    assert sorted(c.chat_id for c in alerts) == sorted(CHATS)  # once each
    visible = sorted(c.at for c in calls if c.method in STATE_CHANGING)
    assert len(visible) >= 2 * len(CHATS)
    assert busiest(visible, 1.0) <= 30
