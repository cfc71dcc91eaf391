"""Text rendering: times as people say them, user text escaped and cut, messages that fit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from bot.core.config import load_protocol
from bot.support.hours import support_status_at
from handlers.kit.cards import summary_text

TZ = ZoneInfo("America/Argentina/Cordoba")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=TZ)  # Tuesday


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2026, 11, 24, 10, 0, tzinfo=TZ), "hoy a las 10:00"),
        (datetime(2026, 11, 25, 8, 0, tzinfo=TZ), "mañana a las 08:00"),
        (datetime(2026, 11, 28, 13, 0, tzinfo=TZ), "el sábado 28/11 a las 13:00"),
        (datetime(2026, 11, 24, 14, 0, tzinfo=UTC), "hoy a las 11:00"),  # shown in local time
    ],
)
def test_when_says_it_as_people_do(instant: datetime, expected: str) -> None:
    assert texts.when(instant, NOW, TZ) == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=30), "menos de 1 min"),
        (timedelta(minutes=35), "35 min"),
        (timedelta(hours=1, minutes=25), "1 h 25 min"),
        (timedelta(hours=2), "2 h"),
    ],
)
def test_duration(delta: timedelta, expected: str) -> None:
    assert texts.duration(delta) == expected


def test_user_text_is_escaped_and_cut() -> None:
    assert texts.esc("<b>hola</b> & chau") == "&lt;b&gt;hola&lt;/b&gt; &amp; chau"
    cut = texts.esc("x" * 50 + "<", limit=10)
    assert cut == "x" * 9 + "…"
    assert 'href="tg://user?id=5">&lt;Ana&gt;</a>' in texts.mention(5, "<Ana>")


def test_support_block_open_and_closed() -> None:
    spec = load_protocol().support
    open_now = texts.support_block(support_status_at(NOW, spec), "0351-5685000")
    assert (
        "🟢 Soporte disponible: horario comercial hasta las 18:30 (después, guardia hasta las 22:00)."
        in open_now
    )
    friday_night = datetime(2026, 11, 27, 23, 0, tzinfo=TZ)
    closed = texts.support_block(support_status_at(friday_night, spec), "0351-5685000")
    assert "🔴 Fuera de horario" in closed
    assert "Abre mañana a las 08:00 (horario comercial)." in closed
    saturday = datetime(2026, 11, 28, 22, 30, tzinfo=TZ)
    sunday = texts.support_block(support_status_at(saturday, spec), "0351-5685000")
    assert "Abre mañana a las 10:00 (guardia de domingos y feriados)." in sunday


def test_a_long_summary_still_fits_one_message() -> None:
    from bot.protocol.allclear import AckState, SectorAcks, Summary, TimelineEntry

    start = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    timeline = [
        TimelineEntry(
            at=start + timedelta(minutes=i),
            kind="validation_ok",
            actor=f"Persona con un nombre largo {i}",
            detail="Atención al cliente",
        )
        for i in range(90)
    ]
    sectors = [
        SectorAcks(
            sector=f"Sector {s}", names=[f"Nombre Apellido {s}-{n}" for n in range(30)], members=30
        )
        for s in range(5)
    ]
    data = Summary(
        incident_id=7,
        opened_at=start,
        confirmed_at=start,
        support_contacted_at=start,
        restored_at=start + timedelta(hours=2),
        coordinator="Luis",
        support_ref="R-1",
        access_by=None,
        access_tool=None,
        affected_people=40,
        timeline=timeline,
        acks=AckState(sectors=sectors, missing=[]),
    )
    text = summary_text(data, TZ)
    assert len(text) <= 4000
    assert "pasos más" in text and "y 22 más" in text
    assert text.rstrip().endswith("y 22 más")  # the acknowledgements are never the part cut


def test_button_answers_are_plain_and_short() -> None:
    assert texts.alert("Solo quien coordina el reclamo (Ana &amp; Co) puede") == (
        "Solo quien coordina el reclamo (Ana & Co) puede"
    )
    assert len(texts.alert("x" * 500)) == 200


def test_a_company_holiday_is_named_as_such() -> None:
    spec = load_protocol().support.model_copy(update={"extra_holidays": [NOW.date()]})
    block = texts.support_block(support_status_at(NOW, spec), "0351-5685000")
    assert "Abre hoy a las 10:00 (guardia de domingos y feriados — feriado de la empresa)." in block


def test_joined_message_names_people_in_plain_spanish() -> None:
    assert texts.joined_many(["Ana"]) == "👍 Anoté también a Ana: ya cuentan como afectados."
    assert "a Ana, Juan y Pedro:" in texts.joined_many(["Ana", "Juan", "Pedro"])
    assert "a Ana, Juan e Inés:" in texts.joined_many(["Ana", "Juan", "Inés"])
    assert "a Juan e Hilda:" in texts.joined_many(["Juan", "Hilda"])
    assert "a Juan y Hiedra:" in texts.joined_many(["Juan", "Hiedra"])  # a diphthong: «y»
    assert "a Juan y Yolanda:" in texts.joined_many(["Juan", "Yolanda"])
    assert "a &lt;b&gt; y Ana:" in texts.joined_many(["<b>", "Ana"])  # shown as typed
    long = "María " * 10
    assert texts.joined_name(long).endswith("…") and len(texts.joined_name(long)) == 40


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        (0, "✅ Volví al grupo “Caja”: no había avisos pendientes."),
        (1, "✅ Volví al grupo “Caja”: envié el aviso pendiente."),
        (3, "✅ Volví al grupo “Caja”: envié los 3 avisos pendientes."),
    ],
)
def test_back_in_group_counts_what_it_sent(held: int, expected: str) -> None:
    assert texts.back_in_group("Caja", held) == expected
