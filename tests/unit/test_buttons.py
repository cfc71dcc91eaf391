"""Buttons: what a button packs is what its handler parses back, within Telegram's 64 bytes."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest

from handlers.kit import buttons
from handlers.kit.buttons import Button
from models.vocab import CHECKLIST_CAUSES, LocalCause, VoteChoice

BUTTONS = list(buttons.every_button())


def examples(cls: type[Button]) -> Iterator[Button]:
    """Every combination of each field's extreme values (or every value, for a choice)."""
    names = [name for name, _ in cls.codecs()]
    for values in itertools.product(*(codec.samples for _, codec in cls.codecs())):
        yield cls(**dict(zip(names, values, strict=True)))


def test_every_button_has_a_prefix_of_its_own() -> None:
    prefixes = [cls.prefix for cls in BUTTONS]
    assert len(prefixes) >= 15  # every button the protocol shows is a Button
    assert len(set(prefixes)) == len(prefixes)


@pytest.mark.parametrize("cls", BUTTONS, ids=lambda cls: cls.__name__)
def test_a_packed_button_parses_back_to_itself_and_only_there(cls: type[Button]) -> None:
    for button in examples(cls):
        data = button.pack()
        assert cls.parse(data) == button
        assert re.match(cls.pattern(), data)
        others = [other for other in BUTTONS if other is not cls]
        assert [o.__name__ for o in others if o.parse(data) is not None] == []
        assert [o.__name__ for o in others if re.match(o.pattern(), data)] == []


@pytest.mark.parametrize("cls", BUTTONS, ids=lambda cls: cls.__name__)
def test_every_packed_button_fits_in_64_bytes(cls: type[Button]) -> None:
    longest = max(len(button.pack().encode()) for button in examples(cls))
    assert longest <= buttons.DATA_LIMIT


@pytest.mark.parametrize("cls", BUTTONS, ids=lambda cls: cls.__name__)
def test_bad_data_parses_to_none(cls: type[Button]) -> None:
    data = next(examples(cls)).pack()
    for bad in (
        None,
        "",
        cls.prefix,
        f"{cls.prefix}:",
        data + ":1",
        data + "\n",
        data.replace(":", ";"),
        f"{cls.prefix}:x" + data[len(cls.prefix) + 2 :],
        "zz" + data,
    ):
        assert cls.parse(bad) is None, bad


def test_the_data_on_messages_already_posted_still_means_the_same() -> None:
    assert buttons.Vote(12, VoteChoice.FAILS).pack() == "v:12:f"
    assert buttons.Vote(12, VoteChoice.WORKS).pack() == "v:12:w"
    assert buttons.FoundLocalCause(3, LocalCause.PC).pack() == "l:3:pc"
    assert buttons.FoundLocalCause(3, LocalCause.WORKS).pack() == "l:3:works"
    assert buttons.Escalate(3).pack() == "e:3"
    assert buttons.Claim(7).pack() == "y:7"
    assert buttons.Contacted(7).pack() == "sc:7"
    assert buttons.HandoverMenu(7).pack() == "ho:7"
    assert buttons.HandoverTo(7, 123456789012).pack() == "hu:7:123456789012"
    assert buttons.RequestAccess(7).pack() == "ax:7"
    assert buttons.GrantAccess(7, 1).pack() == "ag:7:1"
    assert buttons.StartValidation(7).pack() == "va:7"
    assert buttons.SectorAnswer(7, 2, works=True).pack() == "vq:7:2:y"
    assert buttons.SectorAnswer(7, 2, works=False).pack() == "vq:7:2:n"
    assert buttons.GoOnWithout(7).pack() == "vo:7"
    assert buttons.RestartAnswer(7, restart=True).pack() == "rs:7:y"
    assert buttons.RestartAnswer(7, restart=False).pack() == "rs:7:n"
    assert buttons.Acknowledge(7).pack() == "ok:7"
    assert buttons.ChooseSector(3).pack() == "s:3"


def test_out_of_range_values_are_refused() -> None:
    assert buttons.Vote.parse("v:1234567890:f") is None  # an id of 10 digits
    assert buttons.Vote.parse("v:1:x") is None
    assert buttons.FoundLocalCause.parse("l:1:expired") is None  # not on the checklist
    assert buttons.HandoverTo.parse("hu:1:1234567890123456") is None
    assert buttons.GrantAccess.parse("ag:1:10") is None
    assert buttons.SectorAnswer.parse("vq:1:12345:y") is None
    assert buttons.ChooseSector.parse("s:100") is None


def test_the_checklist_offers_every_cause_but_expired() -> None:
    offered = buttons.FoundLocalCause.codecs()[1][1].samples
    assert list(offered) == list(CHECKLIST_CAUSES)
    assert LocalCause.EXPIRED not in offered
