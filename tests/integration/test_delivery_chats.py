"""Chats that refuse: a team chat that does not take the bot, a person who never started it,
a group that became a supergroup.

The worker against the suite's fake Bot API in process (see tests/support/delivery.py)."""

from __future__ import annotations

import logging

import pytest

from models.delivery import CHATTER, NEWS
from tests.support.delivery import (
    ADMINS,
    GROUP_A,
    GROUP_B,
    GROUP_C,
    PERSON,
    SUPERGROUP_A,
    T0,
    Harness,
    new_incident,
    post_card,
    send,
    sync_chats,
)
from tests.support.fakebotapi import Refusal


async def test_refusing_team_chat_is_reported_once_and_its_alert_waits(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.transport.delivery")
    await sync_chats(h, GROUP_A, GROUP_B)
    kicked = Refusal(403, "Forbidden: bot was kicked from the group chat")
    h.api.script(kicked, kicked, kicked, chat_id=GROUP_A)
    [alert] = await h.enqueue(send(GROUP_A, "🚨 Falla general"))
    async with h.running():

        async def refused_three_times() -> bool:
            return (await h.row(alert)).attempts == 3 and len(h.api.sent()) == len(ADMINS)

        await h.until(refused_three_times, what="three refusals, admins told")
        chat = await h.team_chat(GROUP_A)
        row = await h.row(alert)
        assert (chat.reachable, chat.unreachable_since) == (False, T0)
        assert "bot was kicked" in (chat.last_error or "")
        assert row.status == "pending"
        notices = {admin: h.api.texts(admin) for admin in ADMINS}
        assert all(len(n) == 1 for n in notices.values()), notices
        assert all(
            "No puedo escribir en el grupo del equipo" in (n[0] or "") for n in notices.values()
        )
        assert str(GROUP_A) in (notices[ADMINS[0]][0] or "")
        assert (await h.team_chat(GROUP_B)).reachable

        await h.settled([alert])
        chat = await h.team_chat(GROUP_A)

    assert (chat.reachable, chat.unreachable_since, chat.last_error) == (True, None, None)
    assert h.api.texts(GROUP_A) == ["🚨 Falla general"]
    assert {admin: len(h.api.texts(admin)) for admin in ADMINS} == dict.fromkeys(ADMINS, 1)
    assert any("answers again" in r.getMessage() for r in caplog.records)


async def test_refused_private_message_falls_back_to_the_groups(h: Harness) -> None:
    h.api.script(
        Refusal(403, "Forbidden: bot can't initiate conversation with a user"), chat_id=PERSON
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
    assert h.api.texts(GROUP_A) == [fallback[0][1]]
    assert h.api.texts(GROUP_B) == [fallback[1][1]]
    assert len(h.api.calls_of("sendMessage", PERSON)) == 1  # a refusal is not retried


async def test_migrated_group_is_followed(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.transport.delivery")
    await sync_chats(h, GROUP_A, GROUP_B)
    incident = await new_incident(h)
    async with h.running():
        card = await post_card(h, incident, GROUP_A, "🚨 Afectados: Caja 1")
        h.api.migrated[GROUP_A] = SUPERGROUP_A
        ids = await h.enqueue(
            send(GROUP_A, "✅ Volvió FLEXUS"), send(GROUP_A, "respuesta", CHATTER)
        )
        await h.settled(ids)

    rows = [await h.row(i) for i in ids]
    assert [(r.chat_id, r.status) for r in rows] == [(SUPERGROUP_A, "sent")] * 2
    assert h.api.texts(SUPERGROUP_A) == ["✅ Volvió FLEXUS", "respuesta"]
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
