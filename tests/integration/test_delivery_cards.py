"""Cards: recorded as they are sent, pinned, edited (folded, skipped when unchanged, rendered
when sent, at most four times a second), posted again when gone; sector questions.

The worker against the suite's fake Bot API in process (see tests/support/delivery.py)."""

from __future__ import annotations

from typing import Any

from bot.team.members import Person, touch_member
from bot.transport import outbox
from bot.transport.delivery.cards import CARD_GAP
from models.delivery import CHATTER
from tests.support.delivery import (
    CARD_MARKUP,
    GROUP_A,
    GROUP_B,
    T0,
    Harness,
    edit,
    new_incident,
    post_card,
    send,
)
from tests.support.fakebotapi import BAD_GATEWAY, Refusal


async def test_alert_card_is_recorded_then_pinned(h: Harness) -> None:
    incident = await new_incident(h)
    text = "🚨 Falla general (incidente #1)"
    [row_id] = await h.enqueue(
        send(GROUP_A, text, markup=CARD_MARKUP, record=(incident, "alert"), pin=True)
    )
    async with h.running():

        async def pinned() -> bool:
            return bool(h.api.calls_of("pinChatMessage", GROUP_A))

        await h.until(pinned, advance=False, what="the card pinned")
        row = await h.row(row_id)
        cards = await h.cards()

    [sent] = h.api.sent(GROUP_A)
    assert row.status == "sent" and row.message_id == sent.message_id
    assert [(c.incident_id, c.kind, c.chat_id, c.message_id, c.shown_hash) for c in cards] == [
        (incident, "alert", GROUP_A, sent.message_id, outbox.card_hash(text, CARD_MARKUP))
    ]
    assert [c.method for c in h.api.calls] == ["sendMessage", "pinChatMessage"]
    assert h.api.calls[1].message_id == sent.message_id


async def test_each_chat_message_id_is_stored_as_its_send_succeeds(h: Harness) -> None:
    incident = await new_incident(h)
    h.api.script(BAD_GATEWAY, chat_id=GROUP_B)
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

    [in_a] = h.api.sent(GROUP_A)
    [in_b] = h.api.sent(GROUP_B)
    assert [(c.chat_id, c.message_id) for c in cards_meanwhile] == [(GROUP_A, in_a.message_id)]
    assert [(c.chat_id, c.message_id) for c in cards] == [
        (GROUP_A, in_a.message_id),
        (GROUP_B, in_b.message_id),
    ]


async def three_edits_of_one_card(h: Harness) -> tuple[Any, list[int]]:
    """A card showing "Caja 1", then three edits of it pending at once; (the card, their ids)."""
    incident = await new_incident(h)
    async with h.running():
        card = await post_card(h, incident, GROUP_A, "🚨 Afectados: Caja 1")
        ids = await h.enqueue(
            edit(incident, GROUP_A, "🚨 Afectados: Caja 2"),
            edit(incident, GROUP_A, "🚨 Afectados: Caja 3"),
            edit(incident, GROUP_A, "🚨 Afectados: Caja 4"),
        )
        await h.settled(ids)
    return card, ids


async def test_only_the_newest_pending_card_edit_is_sent(h: Harness) -> None:
    card, ids = await three_edits_of_one_card(h)

    assert await h.statuses(ids) == ["folded", "folded", "sent"]
    edits = h.api.calls_of("editMessageText", GROUP_A)
    assert [(e.text, e.message_id) for e in edits] == [("🚨 Afectados: Caja 4", card.message_id)]
    assert h.api.text_of(GROUP_A, card.message_id) == "🚨 Afectados: Caja 4"
    [stored] = await h.cards()
    assert stored.shown_hash == outbox.card_hash("🚨 Afectados: Caja 4", CARD_MARKUP)
    assert h.runtime.stats.folded == 2


async def test_older_edits_go_with_the_newest_when_telegram_refuses_it(h: Harness) -> None:
    """The newest edit refused for good (a 400 no retry mends): the older ones waiting for it
    are folded with it, not sent one after another with older text."""
    h.api.script(
        Refusal(400, "Bad Request: something nobody documented"),
        method="editMessageText",
        chat_id=GROUP_A,
    )
    card, ids = await three_edits_of_one_card(h)

    assert await h.statuses(ids) == ["folded", "folded", "dropped"]
    assert [e.text for e in h.api.calls_of("editMessageText", GROUP_A)] == ["🚨 Afectados: Caja 4"]
    assert h.api.text_of(GROUP_A, card.message_id) == "🚨 Afectados: Caja 1"


async def test_an_edit_to_what_the_card_shows_is_not_sent(h: Harness) -> None:
    incident = await new_incident(h)
    async with h.running():
        await post_card(h, incident, GROUP_A, "🚨 Afectados: Caja 1")
        [same] = await h.enqueue(edit(incident, GROUP_A, "🚨 Afectados: Caja 1"))
        await h.settled([same])
        assert (await h.row(same)).status == "unchanged"
        assert h.api.calls_of("editMessageText", GROUP_A) == []
        # The same text without the buttons is a change: that one is sent.
        [changed] = await h.enqueue(edit(incident, GROUP_A, "🚨 Afectados: Caja 1", markup=None))
        await h.settled([changed])

    assert (await h.row(changed)).status == "sent"
    assert [e.markup for e in h.api.calls_of("editMessageText", GROUP_A)] == [None]
    assert h.runtime.stats.unchanged == 1


async def test_a_deleted_card_is_posted_and_pinned_again(h: Harness) -> None:
    incident = await new_incident(h)
    async with h.running():
        card = await post_card(h, incident, GROUP_A, "🚨 Afectados: Caja 1")
        h.api.delete_message(GROUP_A, card.message_id)
        [row_id] = await h.enqueue(edit(incident, GROUP_A, "🚨 Afectados: Caja 2"))
        await h.settled([row_id])

        async def pinned_again() -> bool:  # the pin is a row of its own, retried on its own
            return len(h.api.calls_of("pinChatMessage", GROUP_A)) == 2

        await h.until(pinned_again, what="the new card pinned")

    [first, again] = h.api.sent(GROUP_A)
    assert first.message_id == card.message_id
    assert (again.text, again.markup) == ("🚨 Afectados: Caja 2", CARD_MARKUP)
    pins = [c.message_id for c in h.api.calls_of("pinChatMessage", GROUP_A)]
    assert pins == [first.message_id, again.message_id]
    [stored] = await h.cards()
    assert stored.message_id == again.message_id
    assert stored.shown_hash == outbox.card_hash("🚨 Afectados: Caja 2", CARD_MARKUP)
    row = await h.row(row_id)
    assert (row.status, row.message_id) == ("sent", again.message_id)


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
            return bool(h.api.calls_of("unpinChatMessage", GROUP_A))

        await h.until(unpinned, advance=False, what="the closed card unpinned")
        # The closed card changes once more (the summary's link): it is not unpinned again.
        [later] = await h.enqueue(lazy[0])
        await h.settled([later], advance=False)
        await h.settled([r.id for r in await h.outbox_rows()], advance=False)

    # The unpin is a row of its own, sent after everything that matters more, and only once.
    unpins = [r for r in await h.outbox_rows() if r.method == "unpin"]
    assert [(r.priority, r.status) for r in unpins] == [(CHATTER, "sent")]
    assert len(h.api.calls_of("unpinChatMessage", GROUP_A)) == 1
    assert h.api.text_of(GROUP_A, card.message_id) == "🚨 Afectados: 11"
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
    edits = [c for c in h.api.calls if c.method == "editMessageText"]
    assert [c.text for c in edits] == ["🚨 Afectados: 2", "🚨 Afectados: 3"]
    # The gap is kept between the moments the edits are chosen; each reaches Telegram a little
    # after that (more on a busy machine, the suite running in six processes), so the calls
    # may be closer, never back to back.
    assert edits[1].at - edits[0].at >= CARD_GAP * 0.5
    assert h.api.text_of(GROUP_A, card.message_id) == "🚨 Afectados: 3"


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
        [question] = h.api.sent(GROUP_A)
        assert all(f"P{n}" in (question.text or "") for n in range(1, 6))
        assert "¿de qué sector son?" in (question.text or "")
        # One more person a moment later: asked, but not before the group's minute is over.
        [later] = await h.enqueue(lambda s: outbox.ask_sector(s, GROUP_A, 106, now=T0))
        before = h.clock.now()
        await h.settled([later])
        assert (h.clock.now() - before).total_seconds() >= 59
    questions = h.api.sent(GROUP_A)
    assert len(questions) == 2 and "P6" in (questions[1].text or "")
    assert sorted(await h.statuses(ids)) == ["folded"] * 4 + ["sent"]


async def test_a_message_recording_an_incident_that_does_not_exist_goes_out_once(
    h: Harness,
) -> None:
    """What a message records is refused (no such incident): it went out, so it is kept as
    sent, never sent again."""
    [row_id] = await h.enqueue(send(GROUP_A, "📣 ¿qué les cuento?", record=(9999, "status_prompt")))
    async with h.running():
        await h.settled([row_id])
        row = await h.row(row_id)
        cards = await h.cards()
    assert row.status == "sent" and row.message_id is not None
    assert cards == []
    assert len(h.api.sent(GROUP_A)) == 1
