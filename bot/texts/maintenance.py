"""Planned maintenance: what the team hears when one is planned, before, at start and at end."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.protocol.maintenance import Planned, Problem
from bot.texts.common import WEEKDAYS, clock_time, duration, esc

__all__ = [
    "MAINTENANCE_ENDED",
    "MAINTENANCE_NONE",
    "MAINTENANCE_ONLY_ADMINS",
    "MAINTENANCE_REPORT_ANYWAY",
    "maintenance_cancelled",
    "maintenance_held_report",
    "maintenance_list",
    "maintenance_moved",
    "maintenance_planned",
    "maintenance_problem",
    "maintenance_reminder",
    "maintenance_span",
    "maintenance_started",
]

MAINTENANCE_ONLY_ADMINS = "Solo un admin o Gerencia puede programar mantenimientos de FLEXUS."
MAINTENANCE_NONE = (
    "🛠️ No hay mantenimientos de FLEXUS programados.\n"
    "Para programar uno: <code>/mantenimiento 20:00-22:00 Actualización de FLEXUS</code>"
)
MAINTENANCE_REPORT_ANYWAY = "Es otra cosa: reportar igual"

_EXAMPLES = (
    "<code>/mantenimiento 20:00-22:00 Actualización de FLEXUS</code>, "
    "<code>/mantenimiento 28/12 20:00-23:30 …</code> o <code>/mantenimiento ahora 45m …</code>"
)
_PROBLEMS = {
    Problem.FORMAT: f"No entendí el mantenimiento. Por ejemplo: {_EXAMPLES}",
    Problem.DATE: "No entendí la fecha: usá día/mes, por ejemplo <code>/mantenimiento 28/12 20:00-23:30 …</code>",
    Problem.TIME: "No entendí la hora: usá HH:MM, por ejemplo <code>/mantenimiento 20:00-22:00 …</code>",
    Problem.DURATION: "No entendí la duración: por ejemplo <code>/mantenimiento ahora 45m …</code> o <code>ahora 1h30m</code>",
    Problem.PAST: "Ese horario ya pasó: poné uno que todavía no terminó, por ejemplo <code>/mantenimiento ahora 45m …</code>",
    Problem.END_BEFORE_START: "El fin tiene que ser después del inicio, por ejemplo <code>/mantenimiento 20:00-22:00 …</code>",
    Problem.TOO_LONG: "Un mantenimiento dura como mucho 24 horas: partilo en dos, por ejemplo <code>/mantenimiento 28/12 20:00-23:59 …</code>",
    Problem.NOT_RUNNING: "No hay un mantenimiento en curso. Los programados: <code>/mantenimiento</code>",
    Problem.UNKNOWN: "No hay un mantenimiento pendiente con ese número. Los programados: <code>/mantenimiento</code>",
}


def maintenance_span(planned: Planned, tz: ZoneInfo) -> str:
    """ "el sábado 28/12 de 20:00 a 23:30" (the end's day too when it is another one)."""
    start, end = planned.starts_at.astimezone(tz), planned.ends_at.astimezone(tz)
    day = f"el {WEEKDAYS[start.weekday()]} {start:%d/%m}"
    if end.date() != start.date():
        return f"{day} de {start:%H:%M} al {WEEKDAYS[end.weekday()]} {end:%d/%m} a las {end:%H:%M}"
    return f"{day} de {start:%H:%M} a {end:%H:%M}"


def maintenance_problem(problem: Problem, other: Planned | None, tz: ZoneInfo) -> str:
    if problem is Problem.OVERLAP and other is not None:
        return (
            f"Se superpone con el mantenimiento #{other.id} ({maintenance_span(other, tz)}): "
            f"elegí otro horario o cancelalo con <code>/mantenimiento cancelar {other.id}</code>"
        )
    return _PROBLEMS.get(problem, _PROBLEMS[Problem.FORMAT])


def maintenance_planned(planned: Planned, tz: ZoneInfo) -> str:
    return (
        f"🛠️ <b>Mantenimiento programado de FLEXUS</b> (#{planned.id})\n"
        f"{maintenance_span(planned, tz).capitalize()}: {esc(planned.reason)}.\n"
        "Mientras dure no hace falta avisar con /caido."
    )


def maintenance_reminder(planned: Planned, now: datetime, tz: ZoneInfo) -> str:
    left = duration(max(planned.starts_at - now, timedelta(0)))
    return (
        f"🛠️ En {left} empieza el mantenimiento de FLEXUS "
        f"({clock_time(planned.starts_at, tz)} a {clock_time(planned.ends_at, tz)}): "
        f"{esc(planned.reason)}."
    )


def maintenance_started(planned: Planned, tz: ZoneInfo) -> str:
    return (
        f"🛠️ <b>Mantenimiento de FLEXUS hasta las {clock_time(planned.ends_at, tz)}</b>: "
        f"{esc(planned.reason)}; no hace falta avisar con /caido."
    )


def maintenance_moved(planned: Planned, tz: ZoneInfo) -> str:
    verb = "se extiende" if planned.ran_over else "termina"
    return f"🛠️ El mantenimiento de FLEXUS {verb} hasta las {clock_time(planned.ends_at, tz)}."


MAINTENANCE_ENDED = "✅ Terminó el mantenimiento de FLEXUS. Si FLEXUS no anda, avisá con /caido."


def maintenance_cancelled(planned: Planned, reason: str, tz: ZoneInfo) -> str:
    why = f": {esc(reason)}" if reason else ""
    return (
        f"🛠️ Se canceló el mantenimiento de FLEXUS #{planned.id} "
        f"({maintenance_span(planned, tz)}){why}."
    )


def maintenance_held_report(planned: Planned, tz: ZoneInfo) -> str:
    return (
        f"🛠️ Hay un mantenimiento programado de FLEXUS hasta las "
        f"{clock_time(planned.ends_at, tz)}: {esc(planned.reason)}.\n"
        "Si lo que ves es otra cosa, tocá el botón y aviso a todos."
    )


def maintenance_list(windows: list[Planned], now: datetime, tz: ZoneInfo) -> str:
    if not windows:
        return MAINTENANCE_NONE
    lines = ["🛠️ <b>Mantenimientos de FLEXUS</b>"]
    for planned in windows:
        running = " · <b>en curso</b>" if planned.running(now) else ""
        lines.append(
            f"#{planned.id} {maintenance_span(planned, tz)} · {esc(planned.reason)}{running}"
        )
    lines.append("Cancelar: <code>/mantenimiento cancelar N motivo</code>")
    return "\n".join(lines)
