"""The /metricas chart: time down per week (or month) as bars, the part while support was closed
hatched on top. A PNG made in memory (matplotlib's Agg canvas, no pyplot and no display), about
1080 px wide with large type, so it reads on a phone.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta

# The bot's charts must not depend on a matplotlibrc in someone's home, and under systemd the
# home is read-only: matplotlib keeps its font cache in a folder of its own.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "flexus-matplotlib"))

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot import texts
from bot.reports.records import Metrics

WIDTH_PX, HEIGHT_PX, DPI = 1080, 720, 100
# Solid: down while support was open. Light with hatching in the solid colour: while closed.
OPEN_COLOR = "#c0392b"
CLOSED_COLOR = "#f5b7b1"
TEXT_COLOR = "#222222"
GRID_COLOR = "#cccccc"


@dataclass(frozen=True)
class BarData:
    label: str
    down_open: timedelta
    down_closed: timedelta


@dataclass(frozen=True)
class Chart:
    png: bytes
    slots: int  # weeks or months on the axis
    bars: int  # bars actually drawn (slots with some time down)


def _compact(minutes: float) -> str:
    """ "11h50", "7m": rounded to the nearest minute, never down to "0m" over a visible bar."""
    hours, rest = divmod(max(1, round(minutes)), 60)
    return f"{hours}h{rest:02d}" if hours else f"{rest}m"


@dataclass(frozen=True)
class Labels:
    title: str
    open: str  # legend: down while support was open
    closed: str  # legend: down while support was closed
    empty: str  # shown when there is no bar at all
    hours: str  # axis, in hours
    minutes: str  # axis, in minutes


def down_chart(bars: list[BarData], labels: Labels) -> Chart:
    """Stacked bars of time down; hours on the axis once the largest bar passes two hours."""
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    opened = [b.down_open.total_seconds() / 60 for b in bars]
    closed = [b.down_closed.total_seconds() / 60 for b in bars]
    totals = [o + c for o, c in zip(opened, closed, strict=True)]
    in_hours = max(totals, default=0) > 120
    scale = 60.0 if in_hours else 1.0
    positions = list(range(len(bars)))
    axes.bar(
        positions,
        [o / scale for o in opened],
        width=0.6,
        color=OPEN_COLOR,
        edgecolor=OPEN_COLOR,
        linewidth=0,
        label=labels.open,
    )
    axes.bar(
        positions,
        [c / scale for c in closed],
        width=0.6,
        bottom=[o / scale for o in opened],
        color=CLOSED_COLOR,
        edgecolor=OPEN_COLOR,
        hatch="//",
        linewidth=0,
        label=labels.closed,
    )
    top = max(totals, default=0) / scale
    crowded = len(bars) > 6  # a year: twelve narrow bars get short labels ("11h50")
    for x, total in zip(positions, totals, strict=True):
        if total > 0:
            axes.text(
                x,
                total / scale + top * 0.02,
                _compact(total) if crowded else texts.duration(timedelta(minutes=round(total))),
                ha="center",
                va="bottom",
                fontsize=14 if crowded else 16,
                color=TEXT_COLOR,
            )
    if top == 0:
        axes.text(
            0.5,
            0.5,
            labels.empty,
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontsize=24,
            color=TEXT_COLOR,
        )
    axes.set_ylim(0, top * 1.18 if top else 1)
    axes.set_xticks(positions, [b.label for b in bars], fontsize=18 if len(bars) <= 6 else 15)
    axes.tick_params(axis="y", labelsize=16)
    axes.set_ylabel(labels.hours if in_hours else labels.minutes, fontsize=18)
    axes.set_title(labels.title, fontsize=24, pad=18, color=TEXT_COLOR)
    axes.grid(axis="y", color=GRID_COLOR, linewidth=1)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=16, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return Chart(png=buffer.getvalue(), slots=len(bars), bars=sum(1 for t in totals if t > 0))


def metrics_chart(data: Metrics) -> Chart:
    """/metricas' chart: one bar per week of the month (or month of the year)."""
    period = data.period
    return down_chart(
        [
            BarData(texts.chart_label(b.start, b.end, period), b.down_open, b.down_closed)
            for b in data.buckets
        ],
        Labels(
            title=texts.chart_title(period),
            open=texts.CHART_OPEN,
            closed=texts.CHART_CLOSED,
            empty=texts.CHART_EMPTY,
            hours=texts.CHART_HOURS,
            minutes=texts.CHART_MINUTES,
        ),
    )
