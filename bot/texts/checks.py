"""The bot's own checks of FLEXUS and of the office: what they say, in the card, to the
coordinator, before the workday, and in /chequeos."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.config import CheckSpec
from bot.ops.monitor import Seen
from bot.support.hours import SupportStatus
from bot.texts.common import clock_time, esc
from models.vocab import CheckFailure, CheckHealth

__all__ = [
    "CHECK_FAILURES",
    "CHECK_REPORTER",
    "check_back_up",
    "checks_list",
    "detected_by_check",
    "morning_all_good",
    "morning_problem",
]

# The name under which the bot reports an outage its own check found.
CHECK_REPORTER = "FLEXUS Guardia (chequeo automático)"

CHECK_FAILURES = {
    CheckFailure.TIMEOUT: "no contesta a tiempo",
    CheckFailure.REFUSED: "rechaza la conexión",
    CheckFailure.DNS: "no se encuentra el nombre (DNS)",
    CheckFailure.TLS: "falla el certificado (TLS)",
    CheckFailure.HTTP_STATUS: "contesta con error",
    CheckFailure.TEXT_MISSING: "la página no muestra lo esperado",
    CheckFailure.NETWORK: "error de red",
    CheckFailure.NO_PUSH: "la oficina dejó de avisar (sin internet o sin luz)",
}
_STATES = {
    CheckHealth.UP: "✅ responde",
    CheckHealth.DOWN: "🔴 no responde",
    CheckHealth.UNKNOWN: "⏳ sin datos todavía",
}


def detected_by_check(name: str, since: datetime, tz: ZoneInfo) -> str:
    """The description of an incident the bot opened itself."""
    return (
        f"Detectado por el chequeo automático: {name} no responde desde las {clock_time(since, tz)}"
    )


def check_back_up(name: str, since: datetime, tz: ZoneInfo) -> str:
    """To the coordinator, on top of the panel: the check answers again (the check never
    closes an incident: the sectors validate)."""
    return (
        f"🔎 {esc(name)} responde de nuevo desde las {clock_time(since, tz)}. "
        "Si soporte terminó, pedí que validen los sectores."
    )


def morning_problem(
    failing: list[tuple[CheckSpec, CheckFailure | None]],
    now: datetime,
    tz: ZoneInfo,
    support: SupportStatus,
) -> str:
    lines = [
        f"☀️ {clock_time(now, tz)}: {esc(spec.name)} {CHECK_FAILURES.get(reason, 'no responde') if reason else 'no responde'}."
        for spec, reason in failing
    ]
    if support.is_open and support.current is not None:
        lines.append(
            f"Soporte atiende ahora ({support.current.kind}, hasta las {support.current.end:%H:%M})."
        )
    elif support.next_opening is not None:
        opening = support.next_opening
        lines.append(f"Soporte abre a las {clock_time(opening.start, tz)} ({opening.kind}).")
    lines.append("Si al llegar FLEXUS no anda, avisá con /caido.")
    return "\n".join(lines)


def morning_all_good(now: datetime, tz: ZoneInfo) -> str:
    return f"☀️ {clock_time(now, tz)}: los chequeos ven FLEXUS funcionando. Buen día."


def checks_list(states: list[tuple[CheckSpec, Seen | None]], now: datetime, tz: ZoneInfo) -> str:
    if not states:
        return "🔎 No hay chequeos automáticos configurados (ver [[check]] en el archivo de protocolo)."
    lines = ["🔎 <b>Chequeos automáticos</b>"]
    for spec, seen in states:
        state = seen.state if seen is not None else CheckHealth.UNKNOWN
        parts = [f"{esc(spec.name)}: {_STATES[state]}"]
        if seen is not None and state is not CheckHealth.UNKNOWN:
            parts.append(f"desde las {clock_time(seen.since, tz)}")
        if seen is not None and seen.reason is not None and state is CheckHealth.DOWN:
            parts.append(CHECK_FAILURES[seen.reason])
        if seen is not None and seen.last_ok_at is not None:
            parts.append(f"última respuesta {clock_time(seen.last_ok_at, tz)}")
        lines.append(" · ".join(parts))
    return "\n".join(lines)
