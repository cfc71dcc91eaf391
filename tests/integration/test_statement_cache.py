"""The statements of a busy moment are compiled once: storing an update and casting a vote
reuse SQLAlchemy's compiled form. (The inbox's multi-row VALUES was compiled anew for every
update, which cost more than running it.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.sql import compiler

from bot.core.config import Protocol
from bot.transport import inbox
from models.vocab import VoteChoice
from tests.support.steps import Sessions, report, vote


def compiled_anew(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Statements SQLAlchemy compiles from now on."""
    found: list[str] = []
    real = compiler.SQLCompiler.__init__

    def counting(self: Any, dialect: Any, statement: Any, *args: Any, **kwargs: Any) -> None:
        found.append(type(statement).__name__)
        real(self, dialect, statement, *args, **kwargs)

    monkeypatch.setattr(compiler.SQLCompiler, "__init__", counting)
    return found


async def test_storing_updates_and_voting_compile_nothing_after_the_first_time(
    sessions: Sessions, protocol: Protocol, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = await report(sessions, protocol, 1)
    incident_id = opened.incident_id

    async def one_round(n: int) -> None:
        async with sessions() as session:
            update = {"update_id": n, "callback_query": {"id": str(n), "data": "v:1:f"}}
            await inbox.store(session, [update], datetime.now(UTC))
            await session.commit()
        await vote(sessions, protocol, n, VoteChoice.FAILS, incident_id)
        await vote(sessions, protocol, n, VoteChoice.WORKS, incident_id)  # changes its answer

    await one_round(100)  # compiles each statement once
    anew = compiled_anew(monkeypatch)
    for n in range(101, 106):
        await one_round(n)
    assert anew == []
