"""The /metricas chart, decoded as a person's phone would show it: its size, that it is not
blank, and how many bars it draws (counted in the pixels, not taken from the code's word)."""

from __future__ import annotations

from datetime import timedelta

from bot.reports.charts import HEIGHT_PX, WIDTH_PX, BarData, Labels, down_chart
from tests.support.charts import bars_in, pixels

LABELS = Labels(
    title="Tiempo caído por semana · noviembre 2026",
    open="con soporte abierto",
    closed="con soporte cerrado",
    empty="Sin fallas generales",
    hours="horas caído",
    minutes="minutos caído",
)


def week(n: int, opened: float, closed: float = 0) -> BarData:
    return BarData(f"{n}", timedelta(minutes=opened), timedelta(minutes=closed))


def test_a_month_chart_is_phone_sized_not_blank_and_draws_every_bar() -> None:
    chart = down_chart(
        [week(1, 115, 60), week(8, 90, 150), week(15, 40), week(22, 60, 660), week(29, 30)],
        LABELS,
    )
    picture = pixels(chart)
    assert picture.shape[:2] == (HEIGHT_PX, WIDTH_PX) == (720, 1080)
    assert picture[..., :3].std() > 0.05  # not a blank page
    assert (chart.slots, chart.bars) == (5, 5)
    assert bars_in(picture) == 5


def test_weeks_without_downtime_draw_no_bar() -> None:
    chart = down_chart([week(1, 0), week(8, 30), week(15, 0), week(22, 0, 45), week(29, 0)], LABELS)
    assert (chart.slots, chart.bars) == (5, 2)
    assert bars_in(pixels(chart)) == 2


def test_a_year_chart_has_twelve_slots() -> None:
    months = [BarData(m, timedelta(0), timedelta(0)) for m in "efmamjjasond"]
    months[9] = BarData("oct", timedelta(minutes=30), timedelta(minutes=630))
    months[10] = BarData("nov", timedelta(minutes=335), timedelta(minutes=870))
    months[11] = BarData("dic", timedelta(minutes=180), timedelta(minutes=530))
    chart = down_chart(months, LABELS)
    assert (chart.slots, chart.bars) == (12, 3)
    assert bars_in(pixels(chart)) == 3


def test_a_period_without_failures_still_makes_a_readable_chart() -> None:
    chart = down_chart([week(d, 0) for d in (1, 8, 15, 22, 29)], LABELS)
    picture = pixels(chart)
    assert (chart.bars, bars_in(picture)) == (0, 0)
    assert picture[..., :3].std() > 0.01  # title, axis and the "Sin fallas generales" note
