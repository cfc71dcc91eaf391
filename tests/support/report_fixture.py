"""Twenty incidents with hand-picked times, stored as the services store them (incident row,
timeline events, votes), for the report tests. Times are local (Córdoba, UTC-3, no DST).

Support is open Mon–Sat 08:00–22:00, Sundays and holidays 10:00–22:00. Holidays used here:
Mon 09/11/2026 (national), Mon 23/11/2026 (Soberanía), Mon 07/12/2026 (puente turístico).

 #  opened (local)        what              confirm contact access restore  (minutes after opening)
 1  sáb 31/10 23:30       general           2       630     —      660      crosses into November
 2  lun 02/11 08:42       general           2       6       11     85
 3  mar 03/11 10:05       local internet                           12 (dismissed)
 4  mié 04/11 21:30       general           3       10      —      90       guardia ends 22:00
 5  sáb 07/11 13:30       unconfirmed                              65 (expired)
 6  lun 09/11 08:30       general (holiday) 4       95      110    180      opens 10:00
 7  jue 12/11 16:00       local pc                                 8
 8  sáb 14/11 02:00       general (night)   5       —       —      60
 9  lun 16/11 08:15       false alarm                              3
10  mar 17/11 14:00       general escalated 7       9       20     40
11  mié 18/11 09:00       local power                              25
12  sáb 21/11 13:30       unconfirmed                              65
13  dom 22/11 23:00       general           1       660     680    720      next day is a holiday
14  mar 24/11 11:00       local internet                           5
15  jue 26/11 03:00       unconfirmed                              65
16  lun 30/11 17:00       general           2       5       15     30
17  lun 30/11 22:30       local pc                                 10
18  mar 01/12 00:10       general           3       475     —      530
19  lun 07/12 09:00       general (holiday) 5       62      90     180
20  jue 10/12 12:00       local power                              15
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Event, Incident, Member, Vote
from models.incident import CLOSED, DISMISSED
from models.vocab import VoteChoice

TZ = ZoneInfo("America/Argentina/Cordoba")
ANA, LUIS, MARTA, PABLO = 1, 2, 3, 4
MEMBERS = {
    ANA: ("Ana Gómez", "Caja"),
    LUIS: ("Luis Pérez", "Administración"),
    MARTA: ("Marta Díaz", "Atención al cliente"),
    PABLO: ("Pablo Ruiz", None),
}


def local(text: str) -> datetime:
    """ "2026-11-02 08:42" in Córdoba, as an aware UTC instant."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ).astimezone(UTC)


@dataclass(frozen=True)
class Spec:
    id: int
    opened: str
    kind: str  # general | local | unconfirmed | works
    confirm: int | None = None
    contact: int | None = None
    access: int | None = None
    restore: int | None = None  # general: the all-clear; others: when it was dismissed
    cause: str | None = None
    escalated: bool = False


INCIDENTS = [
    Spec(1, "2026-10-31 23:30", "general", 2, 630, None, 660),
    Spec(2, "2026-11-02 08:42", "general", 2, 6, 11, 85),
    Spec(3, "2026-11-03 10:05", "local", restore=12, cause="internet"),
    Spec(4, "2026-11-04 21:30", "general", 3, 10, None, 90),
    Spec(5, "2026-11-07 13:30", "unconfirmed", restore=65),
    Spec(6, "2026-11-09 08:30", "general", 4, 95, 110, 180),
    Spec(7, "2026-11-12 16:00", "local", restore=8, cause="pc"),
    Spec(8, "2026-11-14 02:00", "general", 5, None, None, 60),
    Spec(9, "2026-11-16 08:15", "works", restore=3),
    Spec(10, "2026-11-17 14:00", "general", 7, 9, 20, 40, escalated=True),
    Spec(11, "2026-11-18 09:00", "local", restore=25, cause="power"),
    Spec(12, "2026-11-21 13:30", "unconfirmed", restore=65),
    Spec(13, "2026-11-22 23:00", "general", 1, 660, 680, 720),
    Spec(14, "2026-11-24 11:00", "local", restore=5, cause="internet"),
    Spec(15, "2026-11-26 03:00", "unconfirmed", restore=65),
    Spec(16, "2026-11-30 17:00", "general", 2, 5, 15, 30),
    Spec(17, "2026-11-30 22:30", "local", restore=10, cause="pc"),
    Spec(18, "2026-12-01 00:10", "general", 3, 475, None, 530),
    Spec(19, "2026-12-07 09:00", "general", 5, 62, 90, 180),
    Spec(20, "2026-12-10 12:00", "local", restore=15, cause="power"),
]


def _after(opened: datetime, minutes: int | None) -> datetime | None:
    return opened + timedelta(minutes=minutes) if minutes is not None else None


async def store_incidents(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        first = local("2026-10-01 00:00")
        for user_id, (name, sector) in MEMBERS.items():
            session.add(
                Member(
                    user_id=user_id,
                    full_name=name,
                    sector=sector,
                    private_chat=False,
                    created_at=first,
                    updated_at=first,
                )
            )
        await session.flush()
        for spec in INCIDENTS:
            await add_incident(session, spec)
        await session.commit()


async def add_incident(session: AsyncSession, spec: Spec) -> None:
    opened = local(spec.opened)
    general = spec.kind == "general"
    ended = _after(opened, spec.restore)
    contacted, granted = _after(opened, spec.contact), _after(opened, spec.access)
    cause = {"unconfirmed": "expired", "works": "works"}.get(spec.kind, spec.cause)
    session.add(
        Incident(
            id=spec.id,
            status=CLOSED if general else DISMISSED,
            open_slot=None,
            reporter_id=ANA,
            origin_chat_id=-100,
            description=f"=falla {spec.id}" if spec.id == 2 else f"falla {spec.id}",
            opened_at=opened,
            classified_at=_after(opened, spec.confirm or 5),
            local_cause=None if general else cause,
            closed_at=ended,
            closed_by=LUIS if general else ANA,
            coordinator_id=LUIS if general else None,
            support_contacted_at=contacted,
            support_contacted_by=LUIS if contacted else None,
            support_ref=f"R-{spec.id}" if contacted else None,
            access_granted_at=granted,
            access_granted_by=MARTA if granted else None,
            access_tool="AnyDesk" if granted else None,
            validation_round=1 if general else 0,
            summary_posted_at=_after(opened, (spec.restore or 0) + 10) if general else None,
        )
    )
    await session.flush()  # the timeline refers to the incident

    def event(kind: str, at: datetime | None, actor: int | None, detail: str | None = None) -> None:
        if at is not None:
            session.add(
                Event(incident_id=spec.id, kind=kind, actor_id=actor, detail=detail, created_at=at)
            )

    event("opened", opened, ANA, f"falla {spec.id}")
    if general:
        session.add(
            Vote(incident_id=spec.id, user_id=ANA, choice=VoteChoice.FAILS, updated_at=opened)
        )
        confirmed = _after(opened, spec.confirm)
        session.add(
            Vote(incident_id=spec.id, user_id=LUIS, choice=VoteChoice.FAILS, updated_at=confirmed)
        )
        session.add(
            Vote(incident_id=spec.id, user_id=MARTA, choice=VoteChoice.WORKS, updated_at=confirmed)
        )
        if spec.escalated:
            event("unconfirmed", _after(opened, 5), None)
            event("escalated", confirmed, ANA)
        else:
            event("general", confirmed, None)
        event("claimed", confirmed, LUIS)
        event("support_contacted", contacted, LUIS, f"R-{spec.id}" if contacted else None)
        event("access_granted", granted, MARTA, "AnyDesk")
        event("resolved", ended, LUIS, None)
        event("closed", _after(opened, (spec.restore or 0) + 10), None)
    elif spec.kind == "unconfirmed":
        event("unconfirmed", _after(opened, 5), None)
        event("expired", ended, None)
    else:
        event("probably_local", _after(opened, 2), None)
        event("dismissed", ended, ANA, cause)
