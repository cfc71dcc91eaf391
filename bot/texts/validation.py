"""Step 7: each sector confirms FLEXUS works before going back to work."""

from __future__ import annotations

from bot.texts.common import esc, mention, who
from bot.validation import ValidationState
from bot.vocab import CheckState

__all__ = [
    "BUTTON_FAILS_HERE",
    "BUTTON_OVERRIDE",
    "BUTTON_VALIDATE",
    "BUTTON_WORKS_HERE",
    "CHECK_MARKS",
    "override_done",
    "override_prompt",
    "validation_complete",
    "validation_failed",
    "validation_line",
    "validation_noted",
    "validation_request",
]


CHECK_MARKS = {CheckState.PENDING: "⏳", CheckState.WORKS: "✅", CheckState.FAILS: "❌"}


def validation_line(state: ValidationState) -> str:
    if not state.checks:
        return "no hay sectores con gente anotada (/sector)"
    return " · ".join(f"{esc(c.sector)} {CHECK_MARKS[c.state]}" for c in state.checks)


BUTTON_VALIDATE = "✅ Soporte terminó, validar"


BUTTON_WORKS_HERE = "✅ Funciona"


BUTTON_FAILS_HERE = "❌ Sigue fallando"


BUTTON_OVERRIDE = "⏭️ Seguir sin los que faltan"


def validation_noted(sector: str) -> str:
    return f"Anotado para {sector}."


def validation_request(incident_id: int, state: ValidationState) -> str:
    return (
        f"🔎 <b>Soporte terminó (incidente #{incident_id}). ¿FLEXUS funciona en tu sector?</b>\n"
        "Probalo y respondé con los botones (una respuesta por sector).\n"
        f"{validation_line(state)}"
    )


def validation_failed(incident_id: int, sector: str, name: str) -> str:
    return (
        f"❌ En {esc(sector)} FLEXUS sigue fallando (avisó {who(name)}), incidente #{incident_id}.\n"
        "Se sigue trabajando: hay que avisarle a soporte y, cuando terminen, validar de nuevo."
    )


def validation_complete(
    incident_id: int, coordinator_id: int | None, coordinator: str | None
) -> str:
    addressed = (
        mention(coordinator_id, coordinator) if coordinator_id and coordinator else "Coordinación"
    )
    return (
        f"✅ Todos los sectores confirmaron que FLEXUS funciona (incidente #{incident_id}).\n"
        f"{addressed}, mandá el aviso con /resuelto (podés sumar una indicación: "
        "<code>/resuelto Cerrá FLEXUS y volvé a abrirlo</code>)."
    )


def override_prompt(user_id: int, name: str, missing: list[str]) -> str:
    return (
        f"{mention(user_id, name)}, ¿por qué seguimos sin {esc(', '.join(missing))}? "
        "Respondé a este mensaje con el motivo."
    )


def override_done(missing: list[str], reason: str) -> str:
    return (
        f"Anotado: seguimos sin {esc(', '.join(missing) or '—')} ({esc(reason, 200)}).\n"
        "Mandá el aviso con /resuelto."
    )
