"""Updates: different people side by side, one person's in the order sent."""

from __future__ import annotations

import asyncio

from telegram import Update, User

from bot.app import PerPersonOrder


def _update(update_id: int, user_id: int) -> Update:
    user = User(id=user_id, first_name=f"P{user_id}", is_bot=False)
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": -1, "type": "group", "title": "g"},
                "from": user.to_dict(),
                "text": "x",
            },
        },
        None,
    )


async def test_one_person_in_order_others_side_by_side() -> None:
    processor = PerPersonOrder(8)
    events: list[str] = []
    release_first = asyncio.Event()

    async def slow(name: str) -> None:
        events.append(f"start {name}")
        await release_first.wait()
        events.append(f"end {name}")

    async def quick(name: str) -> None:
        events.append(f"start {name}")
        events.append(f"end {name}")

    first = asyncio.create_task(processor.process_update(_update(1, 10), slow("ana-1")))
    second = asyncio.create_task(processor.process_update(_update(2, 10), quick("ana-2")))
    other = asyncio.create_task(processor.process_update(_update(3, 20), quick("luis")))
    for _ in range(20):  # let every task run as far as it can
        await asyncio.sleep(0)
    # Luis is not held up by Ana's slow step; Ana's second update waits for her first.
    assert events == ["start ana-1", "start luis", "end luis"]
    release_first.set()
    await asyncio.gather(first, second, other)
    assert events[3:] == ["end ana-1", "start ana-2", "end ana-2"]
    assert processor._locks == {}
