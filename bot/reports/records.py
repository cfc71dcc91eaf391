"""History and reports: /historial, /metricas, /proveedor, the monthly report and the export.

Everything is read from what the protocol already stores (incidents, their timeline events and
votes): no bookkeeping of its own. Pure computations take plain values, so the numbers can be
checked by hand; the queries only gather them.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.config import Protocol, SupportSpec, VendorTargets
from bot.ops.monitor import Availability, availability, measured_down
from bot.protocol.allclear import AckState, Summary, summary
from bot.protocol.maintenance import Planned, windows_between
from bot.reports.targets import Instants, TargetCheck, TargetShare, checks_of, shares_of
from bot.support.hours import holiday_name, open_overlap, support_status_at
from bot.support.workday import in_working_hours
from bot.timers import store as timers
from models import Event, Incident, MaintenanceWindow, Member, Vote
from models.incident import CLOSED, DISMISSED, OPEN_STATUSES, RESOLVED
from models.vocab import (
    CONFIRMING_EVENTS,
    FOUND_LOCALLY,
    EventKind,
    LocalCause,
    TimerKind,
    VoteChoice,
)


class Outcome(StrEnum):
    """What an incident turned out to be: computed from what is stored, never stored itself."""

    GENERAL = "general"  # confirmed (by votes or escalated): support had to be called
    LOCAL = "local"  # the reporter found a local cause: PC, internet, power
    FALSE_ALARM = "false_alarm"  # dismissed: "ya funciona"
    UNCONFIRMED = "unconfirmed"  # nobody confirmed it; it closed by itself
    OPEN = "open"  # still being confirmed


MONTHLY_REPORT_AT = time(9, 0)
HISTORY_DEFAULT = 10
HISTORY_MAX = 30


# --- periods -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month or year, in the protocol's time zone: [start, end)."""

    unit: Literal["month", "year"]
    start: date
    end: date  # the first day after the period

    def bounds(self, spec: SupportSpec) -> tuple[datetime, datetime]:
        """The period as aware instants (local midnights)."""
        tz = spec.tz
        return (
            datetime.combine(self.start, time(0), tzinfo=tz),
            datetime.combine(self.end, time(0), tzinfo=tz),
        )


def month(year: int, number: int) -> Period:
    start = date(year, number, 1)
    end = date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1)
    return Period("month", start, end)


def year(number: int) -> Period:
    return Period("year", date(number, 1, 1), date(number + 1, 1, 1))


def previous_month(day: date) -> Period:
    first = day.replace(day=1) - timedelta(days=1)
    return month(first.year, first.month)


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_MONTH_SLASH = re.compile(r"^(\d{1,2})/(\d{4})$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_period(text: str, today: date) -> Period | None:
    """`mes` (or nothing), `año`, `anterior`, `AAAA-MM`, `MM/AAAA`, `AAAA`; None if unreadable."""
    value = " ".join(text.strip().casefold().split())
    if value in ("", "mes", "este mes"):
        return month(today.year, today.month)
    if value in ("año", "ano", "anio", "este año"):
        return year(today.year)
    if value in ("anterior", "mes pasado", "mes anterior"):
        return previous_month(today)
    found = _MONTH.match(value) or _MONTH_SLASH.match(value)
    if found is not None:
        first, second = int(found[1]), int(found[2])
        number, in_year = (second, first) if found.re is _MONTH else (first, second)
        return month(in_year, number) if 1 <= number <= 12 and in_year >= 2000 else None
    found = _YEAR.match(value)
    if found is not None and int(found[1]) >= 2000:
        return year(int(found[1]))
    return None


_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DATE_AR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_day(text: str) -> date | None:
    """A date as `AAAA-MM-DD` or `DD/MM/AAAA`; None if unreadable."""
    value = text.strip()
    try:
        if found := _DATE_ISO.match(value):
            return date(int(found[1]), int(found[2]), int(found[3]))
        if found := _DATE_AR.match(value):
            return date(int(found[3]), int(found[2]), int(found[1]))
    except ValueError:
        return None
    return None


# --- one incident as reports see it --------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRecord:
    id: int
    status: str
    outcome: Outcome
    opened_at: datetime
    local_cause: str | None
    confirmed_at: datetime | None  # the "general" or "escalated" event
    support_contacted_at: datetime | None
    access_granted_at: datetime | None
    access_tool: str | None
    # General failure: the all-clear ("resolved" event). Otherwise: when it was dismissed.
    ended_at: datetime | None
    coordinator: str | None
    support_ref: str | None
    reporter: str
    reporter_sector: str | None
    affected: int
    sectors: list[str] = field(default_factory=list)
    description: str = ""
    # Reported during planned maintenance: (window start, window end); its time is not downtime.
    maintenance: tuple[datetime, datetime] | None = None
    relapse_of: int | None = None  # FLEXUS failed again soon after that incident's all-clear
    cause: str | None = None  # what support said caused it
    drill: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def restored_at(self) -> datetime | None:
        return self.ended_at if self.outcome == Outcome.GENERAL else None

    def down_until(self, now: datetime) -> datetime:
        """Until the all-clear (or dismissal); an open incident is still down now."""
        return self.ended_at if self.ended_at is not None else max(now, self.opened_at)

    def down_for(self, now: datetime) -> timedelta:
        return self.down_until(now) - self.down_from

    @property
    def down_from(self) -> datetime:
        """When the downtime starts: the report, or the end of the planned maintenance it was
        reported in (time inside the window is not downtime)."""
        if self.maintenance is None:
            return self.opened_at
        return max(self.opened_at, self.maintenance[1])


def outcome_of(status: str, local_cause: str | None, confirmed: bool) -> Outcome:
    if confirmed:
        return Outcome.GENERAL
    if status == DISMISSED:
        if local_cause == LocalCause.EXPIRED:
            return Outcome.UNCONFIRMED
        if local_cause in FOUND_LOCALLY:
            return Outcome.LOCAL
        return Outcome.FALSE_ALARM
    return Outcome.OPEN


async def incident_records(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    last: int | None = None,
    ids: Iterable[int] | None = None,
    drills: bool = False,
) -> list[IncidentRecord]:
    """Incidents opened in [since, until) (or the `last` n, or these `ids`), oldest first.
    Drills are never among them (they count in no figure), unless `drills`: then only them."""
    stmt = select(Incident).where(Incident.drill.is_(drills))
    if since is not None:
        stmt = stmt.where(Incident.opened_at >= since)
    if until is not None:
        stmt = stmt.where(Incident.opened_at < until)
    if ids is not None:
        stmt = stmt.where(Incident.id.in_(list(ids)))
    if last is not None:
        stmt = stmt.order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(last)
    else:
        stmt = stmt.order_by(Incident.opened_at, Incident.id)
    incidents = list((await session.scalars(stmt)).all())
    if last is not None:
        incidents.reverse()
    if not incidents:
        return []
    found = [i.id for i in incidents]
    steps = await _first_events(session, found)
    votes = await _affected(session, found)
    people: set[int | None] = {i.reporter_id for i in incidents}
    names = await _members(session, people | {i.coordinator_id for i in incidents})
    windows = await _windows(session, {i.maintenance_id for i in incidents} - {None})
    records = []
    for incident in incidents:
        confirmed = steps.get((incident.id, "confirmed"))
        outcome = outcome_of(incident.status, incident.local_cause, confirmed is not None)
        if outcome == Outcome.GENERAL:
            ended = (
                steps.get((incident.id, EventKind.RESOLVED), incident.closed_at)
                if incident.status in (RESOLVED, CLOSED)
                else None
            )
        else:
            ended = incident.closed_at if incident.status == DISMISSED else None
        reporter_name, reporter_sector = names.get(incident.reporter_id, (None, None))
        sectors = votes.get(incident.id, [])
        records.append(
            IncidentRecord(
                id=incident.id,
                status=incident.status,
                outcome=outcome,
                opened_at=incident.opened_at,
                local_cause=incident.local_cause,
                confirmed_at=confirmed,
                support_contacted_at=incident.support_contacted_at,
                access_granted_at=incident.access_granted_at,
                access_tool=incident.access_tool,
                ended_at=ended,
                coordinator=names.get(incident.coordinator_id, (None, None))[0]
                if incident.coordinator_id is not None
                else None,
                support_ref=incident.support_ref,
                reporter=reporter_name or str(incident.reporter_id),
                reporter_sector=reporter_sector,
                affected=len(sectors),
                sectors=sorted({s for s in sectors if s}),
                description=incident.description or "",
                maintenance=windows.get(incident.maintenance_id),
                relapse_of=incident.relapse_of,
                cause=incident.cause,
                drill=incident.drill,
            )
        )
    return records


async def _windows(
    session: AsyncSession, ids: set[int | None]
) -> dict[int | None, tuple[datetime, datetime]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(MaintenanceWindow.id, MaintenanceWindow.starts_at, MaintenanceWindow.ends_at).where(
            MaintenanceWindow.id.in_([i for i in ids if i is not None])
        )
    )
    return {i: (start, end) for i, start, end in rows.all()}


async def _first_events(
    session: AsyncSession, incident_ids: list[int]
) -> dict[tuple[int, str], datetime]:
    """(incident, "confirmed" | "resolved") -> the first such step of its timeline."""
    rows = await session.execute(
        select(Event.incident_id, Event.kind, Event.created_at)
        .where(
            Event.incident_id.in_(incident_ids),
            Event.kind.in_([*CONFIRMING_EVENTS, EventKind.RESOLVED]),
        )
        .order_by(Event.created_at, Event.id)
    )
    found: dict[tuple[int, str], datetime] = {}
    for incident_id, kind, at in rows.all():
        key = (incident_id, "confirmed" if kind in CONFIRMING_EVENTS else kind)
        found.setdefault(key, at)
    return found


async def _affected(session: AsyncSession, incident_ids: list[int]) -> dict[int, list[str]]:
    """Incident -> the sector of each person who said it fails ("" when they have none)."""
    rows = await session.execute(
        select(Vote.incident_id, Member.sector)
        .join(Member, Member.user_id == Vote.user_id)
        .where(Vote.incident_id.in_(incident_ids), Vote.choice == VoteChoice.FAILS)
        .order_by(Vote.id)
    )
    found: dict[int, list[str]] = {}
    for incident_id, sector in rows.all():
        found.setdefault(incident_id, []).append(sector or "")
    return found


async def _members(
    session: AsyncSession, user_ids: set[int | None]
) -> dict[int | None, tuple[str | None, str | None]]:
    wanted = [u for u in user_ids if u is not None]
    rows = await session.execute(
        select(Member.user_id, Member.full_name, Member.sector).where(Member.user_id.in_(wanted))
    )
    found: dict[int | None, tuple[str | None, str | None]] = {
        user_id: (name, sector) for user_id, name, sector in rows.all()
    }
    for user_id in wanted:
        found.setdefault(user_id, (str(user_id), None))
    return found


# --- support hours -------------------------------------------------------------------------------


def closed_overlap(start: datetime, end: datetime, spec: SupportSpec) -> timedelta:
    """How much of [start, end) support was closed."""
    if end <= start:
        return timedelta(0)
    return (end - start) - open_overlap(start, end, spec)


def waiting_for_support(record: IncidentRecord, now: datetime, spec: SupportSpec) -> timedelta:
    """A failure that began while support was closed: from then to the next opening, at most
    until FLEXUS worked again. Zero for one that began while support was open."""
    status = support_status_at(record.opened_at, spec)
    if status.is_open or status.next_opening is None:
        return timedelta(0)
    until = min(status.next_opening.start, record.down_until(now))
    return max(timedelta(0), until - record.opened_at)


# --- metrics -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """Time down (general failures) in one week or month of the period, by whether support was
    open meanwhile."""

    start: date
    end: date  # the first day after the bucket
    down_open: timedelta
    down_closed: timedelta

    @property
    def down(self) -> timedelta:
        return self.down_open + self.down_closed


@dataclass(frozen=True)
class Metrics:
    period: Period
    general: int
    local: int
    unconfirmed: int
    false_alarms: int
    still_confirming: int
    still_open: int  # general failures not restored yet (their time down counts until now)
    down: timedelta
    down_closed: timedelta  # the part of `down` while support was closed
    median_confirm: timedelta | None
    median_contact: timedelta | None
    median_access: timedelta | None
    median_restore: timedelta | None
    inside_hours: int  # general failures that began while support was open
    outside_hours: int  # ... while it was closed
    waiting: timedelta  # time lost waiting for support to open
    buckets: list[Bucket]
    failures: list[IncidentRecord]  # the general failures, oldest first (the vendor report)
    relapses: int = 0  # incidents opened soon after another's all-clear
    # FLEXUS as the bot's own checks measured it (None: no FLEXUS check, or no probe yet).
    availability: Availability | None = None
    checks_down: dict[int, timedelta] = field(default_factory=dict)  # failure id -> measured
    maintenance: MaintenanceFigures = field(default_factory=lambda: MaintenanceFigures())
    # The vendor's targets ([vendor.targets]), in support hours: per failure id, and the shares.
    targets: dict[int, list[TargetCheck]] = field(default_factory=dict)
    target_shares: list[TargetShare] = field(default_factory=list)


@dataclass(frozen=True)
class MaintenanceFigures:
    """Planned maintenance in a period, apart from the failures: it is not downtime."""

    windows: int = 0
    total: timedelta = timedelta(0)
    ran_over: int = 0  # windows that ended after their announced end
    reports: int = 0  # /caido reported anyway during a window ("es otra cosa")

    @classmethod
    def of(
        cls, windows: list[Planned], records: list[IncidentRecord], now: datetime
    ) -> MaintenanceFigures:
        done = [w for w in windows if w.starts_at < now]
        return cls(
            windows=len(done),
            total=sum((min(w.ends_at, now) - w.starts_at for w in done), timedelta(0)),
            ran_over=sum(1 for w in done if w.ran_over),
            reports=sum(1 for r in records if r.maintenance is not None),
        )


def buckets_of(period: Period) -> list[tuple[date, date]]:
    """A month in 7-day chunks from the 1st (1–7, 8–14, ..., 29–31); a year in months."""
    if period.unit == "year":
        return [(m.start, m.end) for m in (month(period.start.year, n) for n in range(1, 13))]
    chunks, day = [], period.start
    while day < period.end:
        chunks.append((day, min(day + timedelta(days=7), period.end)))
        day += timedelta(days=7)
    return chunks


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def _since_open(record: IncidentRecord, instant: datetime | None) -> timedelta | None:
    return instant - record.opened_at if instant is not None else None


def compute_metrics(
    records: list[IncidentRecord],
    period: Period,
    *,
    now: datetime,
    spec: SupportSpec,
    windows: list[Planned] | None = None,
) -> Metrics:
    """The period's figures from its incidents (those opened in it; a failure that crosses
    midnight at the end of the month belongs, whole, to the month it began in)."""
    start, end = period.bounds(spec)
    inside = [r for r in records if start <= r.opened_at < end]
    failures = [r for r in inside if r.outcome == Outcome.GENERAL]
    chunks = buckets_of(period)
    sums = [[timedelta(0), timedelta(0)] for _ in chunks]
    down = down_closed = waiting = timedelta(0)
    outside_hours = 0
    for record in failures:
        until = record.down_until(now)
        begins = min(record.down_from, until)
        closed = closed_overlap(begins, until, spec)
        total = until - begins
        down += total
        down_closed += closed
        day = record.opened_at.astimezone(spec.tz).date()
        for index, (first, after) in enumerate(chunks):
            if first <= day < after:
                sums[index][0] += total - closed
                sums[index][1] += closed
        if not support_status_at(record.opened_at, spec).is_open:
            outside_hours += 1
            waiting += waiting_for_support(record, now, spec)

    def median_of(pick: str) -> timedelta | None:
        values = [_since_open(r, getattr(r, pick)) for r in failures]
        return _median([v for v in values if v is not None])

    return Metrics(
        period=period,
        general=len(failures),
        local=sum(1 for r in inside if r.outcome == Outcome.LOCAL),
        unconfirmed=sum(1 for r in inside if r.outcome == Outcome.UNCONFIRMED),
        false_alarms=sum(1 for r in inside if r.outcome == Outcome.FALSE_ALARM),
        still_confirming=sum(1 for r in inside if r.outcome == Outcome.OPEN),
        still_open=sum(1 for r in failures if r.ended_at is None),
        down=down,
        down_closed=down_closed,
        median_confirm=median_of("confirmed_at"),
        median_contact=median_of("support_contacted_at"),
        median_access=median_of("access_granted_at"),
        median_restore=median_of("restored_at"),
        inside_hours=len(failures) - outside_hours,
        outside_hours=outside_hours,
        waiting=waiting,
        buckets=[
            Bucket(first, after, opened, closed)
            for (first, after), (opened, closed) in zip(chunks, sums, strict=True)
        ],
        failures=failures,
        relapses=sum(1 for r in inside if r.relapse_of is not None),
        maintenance=MaintenanceFigures.of(windows or [], inside, now),
    )


@dataclass(frozen=True)
class Informe:
    summary: Summary
    still_open: bool
    announced: bool  # the all-clear went out (so its acknowledgements belong in the report)


async def informe(session: AsyncSession, incident_id: int, protocol: Protocol) -> Informe | None:
    """/informe N: the closing summary of any incident, open or closed; None if unknown."""
    incident = await session.get(Incident, incident_id)
    if incident is None:
        return None
    status = incident.status
    data = await summary(session, incident_id, protocol)
    announced = status in (RESOLVED, CLOSED)
    if not announced:  # no all-clear was sent: nobody was asked to read one
        data = dataclasses.replace(data, acks=AckState(sectors=[], missing=[]))
    return Informe(summary=data, still_open=status in OPEN_STATUSES, announced=announced)


async def metrics(
    session: AsyncSession, period: Period, *, now: datetime, protocol: Protocol
) -> Metrics:
    start, end = period.bounds(protocol.support)
    records = await incident_records(session, since=start, until=end)
    windows = await windows_between(session, start, end)
    computed = compute_metrics(records, period, now=now, spec=protocol.support, windows=windows)
    computed = with_targets(computed, protocol.vendor.targets, protocol.support)
    names = [c.name for c in protocol.check if c.role == "flexus"]
    if not names:
        return computed
    found = await availability(
        session,
        names=names,
        since=start,
        until=min(end, now),
        in_working_hours=lambda at: in_working_hours(at, protocol),
    )
    measured = {
        r.id: await measured_down(session, names=names, start=r.opened_at, end=r.restored_at or now)
        for r in computed.failures
    }
    return dataclasses.replace(computed, availability=found, checks_down=measured)


def with_targets(data: Metrics, targets: VendorTargets, spec: SupportSpec) -> Metrics:
    """The period's failures against the vendor's targets, if the protocol file sets any."""
    if not targets.minutes():
        return data
    checks = {
        r.id: checks_of(
            Instants(r.confirmed_at, r.support_contacted_at, r.access_granted_at, r.restored_at),
            targets,
            spec,
        )
        for r in data.failures
    }
    return dataclasses.replace(
        data, targets=checks, target_shares=shares_of(checks.values(), targets)
    )


# --- the monthly report --------------------------------------------------------------------------


def first_working_day(year_number: int, month_number: int, spec: SupportSpec) -> date:
    """The month's first day that is neither a weekend nor a holiday (national or company)."""
    day = date(year_number, month_number, 1)
    while day.weekday() >= 5 or holiday_name(day, spec) is not None:
        day += timedelta(days=1)
    return day


def next_monthly_report_at(now: datetime, spec: SupportSpec) -> datetime:
    """09:00 on the first working day of this month, or of the next one if that has passed."""
    local = now.astimezone(spec.tz)
    first = local.date().replace(day=1)
    for _ in range(2):
        day = first_working_day(first.year, first.month, spec)
        due = datetime.combine(day, MONTHLY_REPORT_AT, tzinfo=spec.tz)
        if due > local:
            return due
        first = (first + timedelta(days=32)).replace(day=1)
    raise AssertionError("unreachable: next month's report is always ahead")


def reported_month(due_at: datetime, spec: SupportSpec) -> Period:
    """The month a monthly report due at `due_at` is about: the one before."""
    return previous_month(due_at.astimezone(spec.tz).date())


async def schedule_monthly_report(
    session: AsyncSession, *, protocol: Protocol, now: datetime
) -> bool:
    """Keep exactly one pending monthly-report timer while `reports.monthly` is on, none when
    it is off. Returns True when a timer was added (the caller commits)."""
    return await timers.keep_one(
        session,
        kind=TimerKind.MONTHLY_REPORT,
        wanted=protocol.reports.monthly,
        due_at=lambda: next_monthly_report_at(now, protocol.support),
        now=now,
    )


async def monthly_report_due(
    session: AsyncSession, *, due_at: datetime, now: datetime, protocol: Protocol
) -> Period | None:
    """The monthly report fell due: set next month's; the month to report, or None when
    monthly reports are off."""
    # From the due time at the earliest: a timer that fires a moment early never repeats a month.
    await schedule_monthly_report(session, protocol=protocol, now=max(now, due_at))
    if not protocol.reports.monthly:
        return None
    return reported_month(due_at, protocol.support)
