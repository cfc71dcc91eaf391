"""National holidays, computed outside the bot's process and kept in the database.

The `holidays` library weighs about 10 MB once imported and takes a tenth of a second to
compute a year. The bot needs a handful of dates a year, so a short-lived child process
(`python -m bot.support.holiday_dates AR 2026 2027`) computes them once and the bot keeps them in
`bot_state`, keyed by country, year and library version: a new version of the library (a new
holiday decreed) computes them again. Start-up loads last year's, this year's and next year's;
the hourly housekeeping keeps that true as years turn. An older year (an export of old
incidents) is computed in the bot itself when asked for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import date
from typing import Any

log = logging.getLogger(__name__)

CHILD_TIMEOUT = 60.0
KEY_PREFIX = "holidays"


# (country, year) -> date -> name. Start-up fills last year's to next year's from the database
# or the child process, so the first general vote never waits 100+ ms for a calendar and the
# bot never loads the 10 MB holidays library. Kept here, not in bot.support.hours (which reads
# it): this module imports nothing of the bot at import time, so no import goes round in a circle.
_known: dict[tuple[str, int], dict[date, str]] = {}


def known_holidays(country: str, year: int) -> dict[date, str] | None:
    return _known.get((country, year))


def remember_holidays(country: str, year: int, dates: dict[date, str]) -> None:
    _known[(country, year)] = dates


def national_holidays(country: str, year: int) -> dict[date, str]:
    """This year's holidays: as start-up loaded them, else computed here (a date far ahead)."""
    found = _known.get((country, year))
    if found is None:
        found = _known[(country, year)] = compute(country, [year])[year]
    return found


def compute(country: str, years: list[int]) -> dict[int, dict[date, str]]:
    """The holidays of `years` (imports the library: run it in the child process)."""
    import holidays

    out: dict[int, dict[date, str]] = {}
    for year in years:
        found = holidays.country_holidays(country, years=year, language="es")
        out[year] = dict(found.items())
    return out


def library_version() -> str:
    from importlib import metadata  # here: a dozen milliseconds to import, needed rarely

    try:
        return metadata.version("holidays")
    except metadata.PackageNotFoundError:
        return "?"


def state_key(country: str, year: int) -> str:
    return f"{KEY_PREFIX}:{country}:{year}:{library_version()}"[:64]


def _to_json(dates: dict[date, str]) -> dict[str, str]:
    return {d.isoformat(): name for d, name in sorted(dates.items())}


def _from_json(dates: dict[str, str]) -> dict[date, str]:
    return {date.fromisoformat(d): name for d, name in dates.items()}


async def from_child(country: str, years: list[int]) -> dict[int, dict[date, str]]:
    """Run `compute` in a child process and read its answer."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.support.holiday_dates",
        country,
        *map(str, years),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CHILD_TIMEOUT)
    except BaseException:  # too slow, or start-up was cancelled: leave no child behind
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit status {process.returncode}")
    return {int(year): _from_json(dates) for year, dates in json.loads(out).items()}


def years_around_today(runtime: Any) -> list[int]:
    """Last year (support's state on 1 January looks at the day before; last month's report),
    this year and the next (the next opening, late in December)."""
    year = runtime.clock.now().astimezone(runtime.tz).year
    return [year - 1, year, year + 1]


async def ensure(runtime: Any, years: list[int]) -> None:
    """This country's holidays for `years` in memory: from the database, else from the child
    process (stored for the next start). Falls back to computing them here if both fail."""
    from models.state import BotState

    country = runtime.protocol.support.holiday_country
    missing = [y for y in years if known_holidays(country, y) is None]
    if not missing:
        return
    async with runtime.read_session() as session:
        for year in list(missing):
            row = await session.get(BotState, state_key(country, year))
            if row is not None:
                remember_holidays(country, year, _from_json(json.loads(row.value)))
                missing.remove(year)
    if not missing:
        return
    try:
        computed = await from_child(country, missing)
    except Exception as exc:
        log.warning("holidays computed in the bot itself (the helper process failed: %s)", exc)
        computed = compute(country, missing)
    now = runtime.clock.now()
    async with runtime.sessions() as session:
        for year, dates in computed.items():
            remember_holidays(country, year, dates)
            await session.merge(
                BotState(
                    key=state_key(country, year),
                    value=json.dumps(_to_json(dates), ensure_ascii=False),
                    updated_at=now,
                )
            )
        await session.commit()


def main(argv: list[str]) -> int:
    country, *years = argv
    result = compute(country, [int(y) for y in years])
    # ASCII JSON: the answer reads the same whatever the child's locale.
    print(json.dumps({year: _to_json(dates) for year, dates in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
