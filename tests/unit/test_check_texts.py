"""What the checks say on the card and in the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import texts
from bot.ops.monitor import Availability
from bot.protocol.incident_view import CheckHints
from bot.reports.records import Metrics, Period

TZ = ZoneInfo("America/Argentina/Cordoba")
AT = datetime(2026, 12, 10, 11, 41, tzinfo=UTC)  # 08:41 in Córdoba


def test_the_card_says_what_the_checks_see() -> None:
    down = texts.check_hint_lines(CheckHints([("Servidor FLEXUS", AT)], False, None), TZ)
    assert down == ["🔎 Chequeo automático: Servidor FLEXUS no responde desde las 08:41."]
    up = texts.check_hint_lines(CheckHints([], True, None), TZ)
    assert up == [
        "🔎 Los chequeos automáticos ven FLEXUS funcionando: puede ser algo de tu PC o tu conexión."
    ]
    office = texts.check_hint_lines(CheckHints([], True, AT - timedelta(minutes=1)), TZ)
    assert office[1] == (
        "🔌 La oficina no responde al bot desde las 08:40: la oficina no tiene internet o luz."
    )
    assert texts.check_hint_lines(CheckHints([], False, None), TZ) == []  # nothing known yet


def test_availability_sits_next_to_the_reported_time_down() -> None:
    period = Period("month", date(2026, 12, 1), date(2027, 1, 1))
    empty = Metrics(
        period=period, general=0, local=0, unconfirmed=0, false_alarms=0, still_confirming=0,
        still_open=0, down=timedelta(0), down_closed=timedelta(0), median_confirm=None,
        median_contact=None, median_access=None, median_restore=None, inside_hours=0,
        outside_hours=0, waiting=timedelta(0), buckets=[], failures=[],
    )  # fmt: skip
    assert "📶" not in texts.metricas(empty)
    measured = Metrics(**{**empty.__dict__, "availability": Availability(0.987, 0.9921)})
    assert (
        "📶 Según los chequeos automáticos, FLEXUS anduvo 99,2 % en horario de trabajo · "
        "98,7 % en total." in texts.metricas(measured)
    )
