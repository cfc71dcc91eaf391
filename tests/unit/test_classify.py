"""Classification rules: general, probably local or unconfirmed (bot/protocol/classify.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.core.config import ClassificationSpec, load_protocol
from bot.protocol.classify import Tally, classify_at_deadline, is_general
from models.incident import GENERAL, PROBABLY_LOCAL, UNCONFIRMED

RULES = ClassificationSpec(general_min_people=2, general_min_sectors=2)


def tally(people: int = 1, sectors: int = 1, works: int = 0) -> Tally:
    return Tally(affected_people=people, affected_sectors=sectors, works_people=works)


def test_status_strings():
    assert (GENERAL, PROBABLY_LOCAL, UNCONFIRMED) == ("general", "probably_local", "unconfirmed")


def test_protocol_defaults_are_two_people_or_two_sectors():
    assert load_protocol().classification == RULES


@pytest.mark.parametrize(
    ("people", "sectors", "expected"),
    [
        (1, 1, False),  # only the reporter
        (2, 1, True),  # two people in the same sector
        (3, 1, True),
        (1, 2, True),  # two sectors (sector count reached before people, e.g. by chat)
        (2, 2, True),
        (5, 4, True),
        (0, 0, False),
    ],
)
def test_is_general_with_default_thresholds(people, sectors, expected):
    assert is_general(tally(people, sectors), RULES) is expected


def test_is_general_ignores_people_it_works_for():
    assert is_general(tally(1, 1, works=10), RULES) is False
    assert is_general(tally(2, 1, works=10), RULES) is True


@pytest.mark.parametrize(
    ("people", "sectors", "works", "expected"),
    [
        (1, 1, 1, PROBABLY_LOCAL),  # someone says it works, only the reporter is affected
        (1, 1, 3, PROBABLY_LOCAL),
        (1, 1, 0, UNCONFIRMED),  # nobody else answered
        (2, 1, 0, GENERAL),
        (2, 1, 1, GENERAL),  # general wins over "works for me"
        (1, 2, 5, GENERAL),
        (4, 3, 2, GENERAL),
    ],
)
def test_classify_at_deadline(people, sectors, works, expected):
    assert classify_at_deadline(tally(people, sectors, works), RULES) == expected


def test_min_people_one_makes_any_report_general():
    rules = ClassificationSpec(general_min_people=1, general_min_sectors=2)

    assert is_general(tally(1, 1), rules) is True
    assert classify_at_deadline(tally(1, 1, works=0), rules) == GENERAL
    assert classify_at_deadline(tally(1, 1, works=3), rules) == GENERAL


def test_higher_thresholds():
    rules = ClassificationSpec(general_min_people=3, general_min_sectors=3)

    assert is_general(tally(2, 2), rules) is False
    assert is_general(tally(3, 1), rules) is True
    assert is_general(tally(1, 3), rules) is True
    assert classify_at_deadline(tally(2, 2, works=0), rules) == UNCONFIRMED
    assert classify_at_deadline(tally(2, 2, works=1), rules) == PROBABLY_LOCAL


def test_sector_threshold_alone():
    rules = ClassificationSpec(general_min_people=10, general_min_sectors=2)

    assert is_general(tally(9, 1), rules) is False
    assert is_general(tally(2, 2), rules) is True


def test_thresholds_below_one_are_rejected():
    with pytest.raises(ValidationError):
        ClassificationSpec(general_min_people=0)
    with pytest.raises(ValidationError):
        ClassificationSpec(general_min_sectors=0)
