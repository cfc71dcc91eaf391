"""Telegram's flood limits, enforced strictly by the fake: a broadcast to many team chats goes
out without a single 429, and the alert reaches every chat (tests/bench/bench_broadcast.py
measures the same at 50 chats, with the rate reached)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.bot_process import GROUP_ADMIN, GROUP_CAJA, BotProcess, bot_env
from tests.support.fakebotapi import STATE_CHANGING, FakeBotAPI, busiest, command_update, user

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


def test_a_burst_of_reports_answers_everyone_once_within_the_limits(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    """40 people type /caido at once, with only 5 requests a second allowed: the 👍 that would
    come late go as one message per group naming those people. Everyone gets exactly one answer
    (the alert, a 👍 or their name), and Telegram answers no 429."""
    fake_api.enforce_flood_limits(per_second=5, group_per_minute=20, reactions_per_group=False)
    fake_api.default_member_status = "member"
    env = bot_env(
        fake_api, tmp_path, TELEGRAM_MSGS_PER_SECOND="5", TELEGRAM_GROUP_MSGS_PER_MINUTE="20"
    )
    bot = BotProcess(api=fake_api, workdir=tmp_path, env=env)
    bot.start()
    reports = [
        command_update(
            GROUP_CAJA if n % 2 else GROUP_ADMIN, user(60_000 + n, f"Cajero{n}"), "/caido"
        )
        for n in range(40)
    ]
    first = {r["message"]["from"]["first_name"]: r["message"] for r in reports}
    try:
        mark = fake_api.mark()
        for report in reports:
            fake_api.push(report)
        answers: dict[str, list[str]] = {}

        def everyone_answered() -> bool:
            answers.clear()
            for call in fake_api.calls[mark:]:
                if call.fault is not None:
                    continue
                if call.method == "setMessageReaction":
                    for name, message in first.items():
                        if (message["chat"]["id"], message["message_id"]) == (
                            call.chat_id,
                            call.params["message_id"],
                        ):
                            answers.setdefault(name, []).append("👍")
                elif call.method == "sendMessage" and "Anoté también" in call.text:
                    for name, message in first.items():
                        if message["chat"]["id"] == call.chat_id and (
                            any(f" {name}{end}" in call.text for end in (",", ":", " y ", " e "))
                        ):
                            answers.setdefault(name, []).append("named")
            return len(answers) >= len(reports) - 1

        deadline = time.monotonic() + 60
        while not everyone_answered() and time.monotonic() < deadline:
            time.sleep(0.1)
        fake_api.wait_idle(quiet=1.0)
    finally:
        bot.stop()
    everyone_answered()
    alerts = [
        c for c in fake_api.calls[mark:] if c.method == "sendMessage" and "con problemas" in c.text
    ]
    assert len(alerts) == 2
    opener = {n for n in first if n not in answers}
    assert len(opener) <= 1  # the one whose /caido opened the incident got the alert
    assert all(len(a) == 1 for a in answers.values()), answers
    assert "named" in {a[0] for a in answers.values()}  # at 4 a second, 39 👍 would take 10 s
    assert fake_api.flood_429s == 0
