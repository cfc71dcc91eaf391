"""The vendor's own times (`[vendor.targets]`) against each general failure: to answer the call,
to connect to the server, to restore FLEXUS, each counted only while support was open (its
hours, weekends and holidays left out), as the vendor's contract counts them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.config import SupportSpec, VendorTargets
from bot.support.hours import open_overlap

KINDS = ("answer", "connect", "restore")


@dataclass(frozen=True)
class TargetCheck:
    kind: str  # one of KINDS
    taken: timedelta  # support-open time it took
    target: timedelta

    @property
    def met(self) -> bool:
        return self.taken <= self.target


@dataclass(frozen=True)
class TargetShare:
    kind: str
    met: int
    measured: int

    @property
    def percent(self) -> int:
        return round(100 * self.met / self.measured) if self.measured else 0


@dataclass(frozen=True)
class Instants:
    """A general failure's instants the targets are counted between."""

    confirmed: datetime | None
    contacted: datetime | None
    access: datetime | None
    restored: datetime | None

    def span(self, kind: str) -> tuple[datetime | None, datetime | None]:
        if kind == "answer":
            return self.confirmed, self.contacted
        if kind == "connect":
            return self.contacted, self.access
        return self.contacted, self.restored


def checks_of(instants: Instants, targets: VendorTargets, spec: SupportSpec) -> list[TargetCheck]:
    """Each target set, for one failure, once both of its instants are known."""
    found = []
    for kind, minutes in targets.minutes().items():
        start, end = instants.span(kind)
        if start is None or end is None:
            continue
        taken = open_overlap(start, max(start, end), spec)
        found.append(TargetCheck(kind, taken, timedelta(minutes=minutes)))
    return found


def shares_of(checks: Iterable[list[TargetCheck]], targets: VendorTargets) -> list[TargetShare]:
    """Per target set: how many failures met it, of those measured."""
    every = [c for failure in checks for c in failure]
    return [
        TargetShare(
            kind,
            sum(1 for c in every if c.kind == kind and c.met),
            sum(1 for c in every if c.kind == kind),
        )
        for kind in KINDS
        if kind in targets.minutes()
    ]
