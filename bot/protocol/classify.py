"""Classification rules: general failure, probably local, or unconfirmed (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config import ClassificationSpec
from models.incident import GENERAL, PROBABLY_LOCAL, UNCONFIRMED


@dataclass(frozen=True)
class Tally:
    """Answers so far: people who say it fails (reporter included), sectors they are in, people it works for."""

    affected_people: int
    affected_sectors: int
    works_people: int


def is_general(tally: Tally, rules: ClassificationSpec) -> bool:
    return (
        tally.affected_people >= rules.general_min_people
        or tally.affected_sectors >= rules.general_min_sectors
    )


def classify_at_deadline(tally: Tally, rules: ClassificationSpec) -> str:
    """The outcome when the confirmation deadline passes."""
    if is_general(tally, rules):
        return GENERAL
    if tally.works_people > 0:
        return PROBABLY_LOCAL
    return UNCONFIRMED
