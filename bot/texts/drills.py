"""Drills (`/simulacro`): the mark on every message of one, its start and end, the team's
times against the last drill's, and the drills' own history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.texts.common import duration

if TYPE_CHECKING:
    from bot.protocol.drills import DrillTimes
    from bot.reports.records import IncidentRecord

__all__ = [
    "DRILL_ADMINS_ONLY",
    "DRILL_ENDED_BY_HAND",
    "DRILL_ENDED_REAL",
    "DRILL_HOW",
    "DRILL_MARK",
    "DRILL_REPORT",
    "NO_DRILLS",
    "drill_history",
    "drill_marked",
    "drill_times",
]

DRILL_MARK = "🧪 <b>SIMULACRO</b>"
DRILL_REPORT = "Simulacro"  # the drill's description, as if someone had written it
DRILL_ENDED_REAL = "🧪 Terminó el simulacro: <b>esto es real</b>."
DRILL_ENDED_BY_HAND = "🧪 Terminó el simulacro."
DRILL_HOW = (
    "<code>/simulacro</code> (admins) empieza un simulacro: el protocolo de verdad en todos los "
    "grupos, cada mensaje marcado 🧪 SIMULACRO. <code>/simulacro fin</code> lo termina."
)
NO_DRILLS = "🧪 Todavía no hubo simulacros."
DRILL_ADMINS_ONLY = "Solo un admin del bot puede empezar o terminar un simulacro."


def drill_marked(text: str, phone: str) -> str:
    """A drill's message: the mark on top, and the support phone with a warning not to call."""
    if text.startswith(DRILL_MARK):
        return text
    if phone:
        text = text.replace(phone, f"{phone} (no llames: es un simulacro)")
    return f"{DRILL_MARK}\n{text}"


def _time(now: timedelta | None, before: timedelta | None) -> str:
    shown = duration(now) if now is not None else "—"
    if before is None:
        return shown
    return f"{shown} (el anterior: {duration(before)})"


def drill_times(now: DrillTimes, before: DrillTimes | None) -> str:
    """The team's own times in this drill, against the last drill's."""
    rows = [
        ("Confirmar la falla", now.confirm, before.confirm if before else None),
        ("Tomar el reclamo", now.take, before.take if before else None),
        ("Validar con los sectores", now.validate, before.validate if before else None),
        ("Leer el aviso", now.acknowledge, before.acknowledge if before else None),
    ]
    lines = ["🧪 <b>Tiempos del equipo en el simulacro</b>"]
    lines += [f"{name}: {_time(mine, theirs)}" for name, mine, theirs in rows]
    if before is None:
        lines.append("Es el primer simulacro: el próximo se compara con este.")
    return "\n".join(lines)


def drill_history(records: list[IncidentRecord], now: datetime, tz: ZoneInfo) -> str:
    if not records:
        return NO_DRILLS
    lines = ["🧪 <b>Simulacros</b> (no cuentan en las métricas)"]
    for record in reversed(records):
        opened = record.opened_at.astimezone(tz)
        if record.status in ("dismissed", "closed") and record.restored_at is None:
            state = "interrumpido"
        elif record.ended_at is None:
            state = "en curso"
        else:
            state = f"completo en {duration(record.ended_at - record.opened_at)}"
        lines.append(f"#{record.id} · {opened:%d/%m/%Y %H:%M} · {state}")
    return "\n".join(lines)
