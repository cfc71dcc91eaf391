"""Step 5's support block: the phone, whether support answers now, and when it opens next."""

from __future__ import annotations

from bot.support.hours import COMPANY_HOLIDAY, SupportStatus, Window
from bot.texts.common import esc, when

__all__ = ["WINDOW_NAMES", "soporte", "support_block"]


WINDOW_NAMES = {"comercial": "horario comercial", "guardia": "guardia"}


def _window_label(window: Window, holiday: str | None) -> str:
    name = WINDOW_NAMES[window.kind]
    if holiday:
        holiday = "feriado de la empresa" if holiday == COMPANY_HOLIDAY else f"feriado: {holiday}"
        return f"{name} de domingos y feriados — {esc(holiday)}"
    if window.kind == "guardia" and window.start.weekday() == 6:
        return f"{name} de domingos y feriados"
    return name


def support_block(status: SupportStatus, phone: str) -> str:
    """Phone, whether support answers right now, and when it opens next."""
    lines = [f"📞 Soporte FLEXUS: <b>{esc(phone)}</b>"]
    current = status.current
    if current is not None:
        line = f"🟢 Soporte disponible: {_window_label(current, status.holiday_name)} hasta las {current.end:%H:%M}"
        if status.following is not None:
            line += f" (después, {WINDOW_NAMES[status.following.kind]} hasta las {status.following.end:%H:%M})"
        lines.append(line + ".")
    elif status.next_opening is not None:
        opening = status.next_opening
        lines.append("🔴 Fuera de horario: ahora soporte no atiende.")
        lines.append(
            f"Abre {when(opening.start, status.at, opening.start.tzinfo)} "  # type: ignore[arg-type]
            f"({_window_label(opening, status.opening_holiday_name)})."
        )
    else:
        lines.append("🔴 Fuera de horario: no hay horarios de soporte configurados.")
    return "\n".join(lines)


def soporte(block: str) -> str:
    return block + "\n\nSi FLEXUS falla: avisá con /caido en el grupo antes de llamar."
