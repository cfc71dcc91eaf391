"""Protocol step 7 on a real database: every required sector confirms FLEXUS works, or the coordinator goes on without it."""

from __future__ import annotations

from bot.core.config import Protocol
from bot.protocol import allclear, validation
from models.incident import (
    IN_PROGRESS,
    VALIDATING,
)
from models.vocab import CheckState
from tests.support.steps import (
    Sessions,
    answer,
    at,
    call,
    claim,
    contact_support,
    events,
    general_incident,
    load,
    person,
    refusal,
    report,
    start_validation,
    validated_incident,
)


async def test_validation_rounds_until_every_sector_confirms(
    sessions: Sessions, protocol: Protocol
) -> None:
    # Administración reports first: the required order is still the protocol's sector order.
    opened = await report(sessions, protocol, 2, sector="Administración")
    await report(sessions, protocol, 1, sector="Caja")
    incident_id = opened.incident_id
    async with sessions() as session:
        assert await validation.required_sectors(session, protocol) == ["Caja", "Administración"]

    await contact_support(sessions, protocol, incident_id, 3, "TK-1", at(2))
    state = await start_validation(sessions, protocol, incident_id, 3, at(10))
    assert state.round == 1 and not state.validated
    assert [(c.sector, c.state, c.by) for c in state.checks] == [
        ("Caja", CheckState.PENDING, None),
        ("Administración", CheckState.PENDING, None),
    ]
    assert state.missing == ["Caja", "Administración"]
    assert (await load(sessions, incident_id)).status == VALIDATING

    caja = await answer(sessions, protocol, incident_id, 1, 1, True, at(11))
    assert (caja.sector, caja.works, caja.complete) == ("Caja", True, False)
    admin = await answer(sessions, protocol, incident_id, 1, 2, False, at(12))
    assert (admin.sector, admin.works, admin.complete) == ("Administración", False, False)
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.validated_at) == (IN_PROGRESS, None)

    # The round is over: a late answer is refused, and so is going on without the sectors.
    late = await refusal(
        sessions,
        validation.answer_validation,
        incident_id=incident_id,
        round_number=1,
        person=person(1),
        chat_sector=None,
        works=True,
        now=at(13),
        protocol=protocol,
    )
    assert late.reason == "validation_closed"
    no_override = await refusal(
        sessions,
        validation.sectors_to_override,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        protocol=protocol,
    )
    assert no_override.reason == "validation_closed"

    # Support fixes it again; a new round starts from scratch.
    state = await start_validation(sessions, protocol, incident_id, 3, at(20))
    assert state.round == 2
    assert [c.state for c in state.checks] == [CheckState.PENDING, CheckState.PENDING]
    stale = await refusal(
        sessions,
        validation.answer_validation,
        incident_id=incident_id,
        round_number=1,
        person=person(1),
        chat_sector=None,
        works=True,
        now=at(21),
        protocol=protocol,
    )
    assert stale.reason == "validation_closed"
    no_sector = await refusal(
        sessions,
        validation.answer_validation,
        incident_id=incident_id,
        round_number=2,
        person=person(9),
        chat_sector=None,
        works=True,
        now=at(21),
        protocol=protocol,
    )
    assert no_sector.reason == "no_sector"

    first = await answer(sessions, protocol, incident_id, 2, 2, True, at(22))
    assert (first.sector, first.complete) == ("Administración", False)
    second = await answer(sessions, protocol, incident_id, 2, 1, True, at(23))
    assert (second.sector, second.complete) == ("Caja", True)
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.validated_at, incident.validation_round) == (
        VALIDATING,
        at(23),
        2,
    )
    async with sessions() as session:
        state = await validation.validation_state(session, incident, protocol)
    assert state.validated and state.missing == []
    assert [(c.sector, c.state, c.by) for c in state.checks] == [
        ("Caja", CheckState.WORKS, "Persona 1"),
        ("Administración", CheckState.WORKS, "Persona 2"),
    ]
    kinds = [
        (kind, detail)
        for kind, _, detail in await events(sessions, incident_id)
        if kind.startswith("validat")
    ]
    assert kinds == [
        ("validation_started", "1"),
        ("validation_ok", "Caja"),
        ("validation_failed", "Administración"),
        ("validation_started", "2"),
        ("validation_ok", "Administración"),
        ("validation_ok", "Caja"),
        ("validated", None),
    ]

    # Checking again (say, support touched something more) starts over: not validated any more.
    state = await start_validation(sessions, protocol, incident_id, 3, at(30))
    assert (state.round, state.validated) == (3, False)
    assert (await load(sessions, incident_id)).validated_at is None
    again = await refusal(
        sessions,
        allclear.prepare_all_clear,
        protocol=protocol,
        user_id=3,
        is_admin=False,
        instruction=None,
    )
    # The round under way is named, with the sectors still missing.
    assert again.reason == "validation_running"
    assert again.named and "Caja" in again.named


async def test_configured_required_sectors_win_over_membership(sessions: Sessions) -> None:
    protocol = Protocol.model_validate({"validation": {"required_sectors": ["Gerencia", "Caja"]}})
    await general_incident(sessions, protocol)  # members in Caja and Administración
    async with sessions() as session:
        assert await validation.required_sectors(session, protocol) == ["Gerencia", "Caja"]


async def test_coordinator_may_go_on_without_a_silent_sector(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await general_incident(sessions, protocol)
    await claim(sessions, protocol, incident_id, 3, at(1))
    await start_validation(sessions, protocol, incident_id, 3, at(10))
    await answer(sessions, protocol, incident_id, 1, 1, True, at(11))

    someone = await refusal(
        sessions,
        validation.override_missing,
        incident_id=incident_id,
        user_id=1,
        is_admin=False,
        reason="apuro",
        now=at(12),
        protocol=protocol,
    )
    assert (someone.reason, someone.named) == ("coordinator_or_admin", "Persona 3")
    missing = await call(
        sessions,
        validation.sectors_to_override,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        protocol=protocol,
    )
    assert missing == ["Administración"]

    reason = "Administración no atiende, confirmó Caja"
    overridden = await call(
        sessions,
        validation.override_missing,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        reason=reason,
        now=at(15),
        protocol=protocol,
    )
    assert overridden.missing == ["Administración"]
    assert overridden.state.validated
    assert [(c.sector, c.state) for c in overridden.state.checks] == [
        ("Caja", CheckState.WORKS),
        ("Administración", CheckState.PENDING),
    ]
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.validated_at) == (VALIDATING, at(15))
    overrides = [e for e in await events(sessions, incident_id) if e[0] == "validation_override"]
    assert overrides == [("validation_override", 3, f"Administración: {reason}")]
    assert reason in (overrides[0][2] or "")

    # Validated already: nothing left to override.
    again = await refusal(
        sessions,
        validation.sectors_to_override,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        protocol=protocol,
    )
    assert again.reason == "validation_closed"


async def test_answers_after_validation_completes_are_refused(
    sessions: Sessions, protocol: Protocol
) -> None:
    incident_id = await validated_incident(sessions, protocol)
    validated_at = (await load(sessions, incident_id)).validated_at
    assert validated_at == at(12)

    for works in (True, False):
        refused = await refusal(
            sessions,
            validation.answer_validation,
            incident_id=incident_id,
            round_number=1,
            person=person(1),
            chat_sector=None,
            works=works,
            now=at(13),
            protocol=protocol,
        )
        assert refused.reason == "validation_closed"
    incident = await load(sessions, incident_id)
    assert (incident.status, incident.validated_at, incident.validation_round) == (
        VALIDATING,
        at(12),
        1,
    )
    assert [e[0] for e in await events(sessions, incident_id)].count("validation_ok") == 2
