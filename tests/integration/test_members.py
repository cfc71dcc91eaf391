"""Seeing a person (a press, a report, a vote) keeps their row current, with plain statements."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.team.members import Person, note_member, set_sector
from models import Member
from tests.support.sessions import statements_of
from tests.support.steps import T0, Sessions


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]


async def row(sessions: Sessions, user_id: int) -> Member:
    async with sessions() as session:
        member = await session.get(Member, user_id)
        assert member is not None
        return member


async def test_a_new_person_is_stored_with_the_chats_sector_and_only_changes_are_written(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    ana = Person(101, "Ana", "ana")
    async with sessions() as session:
        assert await note_member(session, person=ana, now=T0, chat_sector="Caja") == "Caja"
        await session.commit()
    stored = await row(sessions, 101)
    assert (stored.full_name, stored.username, stored.sector) == ("Ana", "ana", "Caja")
    assert (stored.created_at, stored.updated_at, stored.private_chat) == (T0, T0, False)

    # Seen again within the minute, the same: nothing to write. A sector is kept.
    with statements_of(engine) as statements:
        async with sessions() as session:
            sector = await note_member(
                session, person=ana, now=T0 + timedelta(seconds=30), chat_sector="Depósito"
            )
            await session.commit()
    assert sector == "Caja" and writes(statements) == []

    # A new name and a minute later: both written, in one statement.
    later = T0 + timedelta(minutes=2)
    with statements_of(engine) as statements:
        async with sessions() as session:
            await note_member(session, person=Person(101, "Ana G.", None), now=later)
            await session.commit()
    assert len(writes(statements)) == 1
    stored = await row(sessions, 101)
    assert (stored.full_name, stored.username, stored.updated_at) == ("Ana G.", None, later)


async def test_someone_without_a_sector_takes_their_chats_and_an_empty_name_is_their_id(
    sessions: Sessions,
) -> None:
    async with sessions() as session:
        assert await note_member(session, person=Person(102, ""), now=T0) is None
        assert await note_member(session, person=Person(102, ""), now=T0, chat_sector="Caja") == (
            "Caja"
        )
        await session.commit()
    stored = await row(sessions, 102)
    assert (stored.full_name, stored.sector) == ("102", "Caja")


async def test_a_member_the_step_holds_as_an_object_is_changed_on_it_not_behind_its_back(
    sessions: Sessions,
) -> None:
    """A plain UPDATE would leave the object the step holds with the old values, and its next
    flush could write them back."""
    async with sessions() as session:
        await note_member(session, person=Person(103, "Marta"), now=T0)
        await session.commit()
    async with sessions() as session:
        held = await session.get(Member, 103)
        assert held is not None
        later = T0 + timedelta(minutes=5)
        sector = await note_member(
            session, person=Person(103, "Marta R."), now=later, chat_sector="Caja"
        )
        assert sector == "Caja"
        assert (held.full_name, held.sector, held.updated_at) == ("Marta R.", "Caja", later)
        # /sector after it, on the same object: both kept.
        await set_sector(session, person=Person(103, "Marta R."), sector="Depósito", now=later)
        await session.commit()
    stored = await row(sessions, 103)
    assert (stored.full_name, stored.sector) == ("Marta R.", "Depósito")
    async with sessions() as session:
        assert (await session.scalars(select(Member.user_id))).all() == [103]
