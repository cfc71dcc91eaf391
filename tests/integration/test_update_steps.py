"""An update runs as one step: its handler's failure undoes everything it did, the update is
marked skipped (never handled again) and the person is told, through the outbox."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update

from bot import inbox, texts
from bot.app import handle_update
from bot.clock import Clock
from bot.config import Config, load_protocol, load_settings
from bot.db import make_session_factory
from bot.people import Person, touch_member
from bot.runtime import Runtime
from models import InboxUpdate, Member, OutboxMessage

GROUP = -100555
RAW = {
    "update_id": 42,
    "message": {
        "message_id": 7,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Caja"},
        "from": {"id": 101, "is_bot": False, "first_name": "Ana"},
        "text": "/caido",
    },
}


async def test_a_failing_handler_leaves_nothing_but_the_skip_and_a_notice(
    engine: AsyncEngine, database_url: str
) -> None:
    settings = load_settings(_env_file=None, database_url=database_url, team_chat_ids=[GROUP])
    runtime = Runtime(
        config=Config(settings=settings, protocol=load_protocol()),
        engine=engine,
        sessions=make_session_factory(engine),
        clock=Clock(),
    )
    async with runtime.sessions() as session:
        await inbox.store(session, [RAW], runtime.clock.now())
        await session.commit()

    async def handler_that_fails() -> None:
        async with runtime.session() as session:  # the step's session
            await touch_member(session, person=Person(101, "Ana"), now=runtime.clock.now())
        raise RuntimeError("boom")

    await handle_update(runtime, Update.de_json(RAW, None), handler_that_fails())

    async with runtime.sessions() as session:
        status = await session.scalar(select(InboxUpdate.status).where(InboxUpdate.update_id == 42))
        members = (await session.scalars(select(Member.user_id))).all()
        [notice] = (await session.scalars(select(OutboxMessage))).all()
    assert status == inbox.SKIPPED
    assert members == []  # what the handler wrote before failing was undone
    payload = json.loads(notice.payload)
    assert (notice.chat_id, payload["text"], payload["reply_to"]) == (
        GROUP,
        texts.SOMETHING_FAILED,
        7,
    )
    assert runtime.stats.updates_skipped == 1

    # Handled once and for all: the same update again does not run its handler.
    ran: list[bool] = []

    async def handler() -> None:
        ran.append(True)

    await handle_update(runtime, Update.de_json(RAW, None), handler())
    assert ran == []
