"""Texts as Telegram measures them: UTF-16 units, parts that fit, plain text; names that keep
their direction."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot import texts
from bot.transport.telegram_text import TEXT_LIMIT, plain, shorten, split, units
from tests.support.fakebotapi import parse_html, utf16


def test_length_is_counted_in_utf16_units_as_telegram_counts() -> None:
    assert units("hola") == 4
    assert units("👍") == 2  # one character for Python, two for Telegram
    assert units("ñ") == 1


def test_a_long_text_is_split_at_line_breaks_into_parts_that_fit() -> None:
    line = "👍 " + "x" * 97  # 100 units
    text = "\n".join([line] * 100)  # 10,099 units
    parts = split(text)
    assert len(parts) == 3
    assert all(units(p) <= TEXT_LIMIT for p in parts)
    assert "\n".join(parts) == text  # nothing lost, nothing added


def test_a_single_line_longer_than_a_message_is_cut_outside_tags_and_entities() -> None:
    text = "<b>" + "a&amp;b " * 1000 + "</b>"
    parts = split(text, 100)
    assert all(units(p) <= 100 for p in parts)
    assert "".join(parts) == text
    for part in parts:
        assert not part.endswith(("&", "&a", "&am", "&amp", "<", "</", "</b"))


@given(st.lists(st.text(max_size=300), max_size=40))
def test_split_never_loses_text_and_every_part_fits(lines: list[str]) -> None:
    text = "\n".join(lines)
    parts = split(text, 500)
    assert all(units(p) <= 500 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_plain_text_is_what_the_message_shows() -> None:
    html = "<b>Falla</b> de &lt;FLEXUS&gt; &amp; más"
    assert plain(html) == "Falla de <FLEXUS> & más"
    assert plain(html) == parse_html(html)


def test_shorten_marks_the_cut() -> None:
    assert shorten("corto", 10) == "corto"
    cut = shorten("x" * 50, 10)
    assert cut.endswith("…") and units(cut) <= 10


def test_an_html_source_that_fits_always_fits_once_parsed() -> None:
    text = texts.esc("<&>" * 2000)
    assert utf16(parse_html(text)) <= units(text)


def test_right_to_left_names_are_isolated_so_the_line_keeps_its_order() -> None:
    assert texts.who("Ana Gómez") == "Ana Gómez"
    arabic = texts.who("علي حسن")
    assert arabic == "\u2068علي حسن\u2069"
    hebrew = texts.mention(5, "דנה")
    assert "\u2068דנה\u2069" in hebrew
    assert texts.who("<b>Ali</b> علي") == "\u2068&lt;b&gt;Ali&lt;/b&gt; علي\u2069"  # escaped too


def test_every_text_that_names_a_person_isolates_a_right_to_left_name() -> None:
    name = "محمد"
    for text in (
        texts.handed_over(name, 3),
        texts.access_granted(name, "AnyDesk", 3, "10:00"),
        texts.joined_many([name, "Ana", "Juan"]),
        texts.joined_one(name),
        texts.late_works(name),
    ):
        assert f"\u2068{name}\u2069" in text, text
