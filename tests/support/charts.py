"""Reading a chart the bot drew: its pixels, and how many bars they show."""

from __future__ import annotations

import io

import numpy as np
from matplotlib import image

from bot.reports.charts import Chart


def pixels(chart: Chart) -> np.ndarray:
    assert chart.png.startswith(b"\x89PNG\r\n\x1a\n")
    return np.asarray(image.imread(io.BytesIO(chart.png), format="png"))


def bars_in(picture: np.ndarray) -> int:
    """The most bar-coloured runs found on one pixel row above the legend (bars are red, solid
    or hatched; text, grid and background are grey or white)."""
    red, green, blue = picture[..., 0], picture[..., 1], picture[..., 2]
    reddish = (red - green > 0.15) & (red - blue > 0.15)
    best = 0
    for row in reddish[: int(picture.shape[0] * 0.85)]:
        runs, length = 0, 0
        for value in [*row, False]:
            if value:
                length += 1
                continue
            if length >= 8:
                runs += 1
            length = 0
        best = max(best, runs)
    return best
