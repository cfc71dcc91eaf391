"""Step 7: each sector confirms FLEXUS works before going back to work."""

from __future__ import annotations

from bot.protocol.validation import ValidationState
from bot.texts.common import esc, mention, who
from models.vocab import CheckState

__all__ = [
    "BUTTON_FAILS_HERE",
    "BUTTON_OTHER_REASON",
    "BUTTON_OVERRIDE",
    "BUTTON_VALIDATE",
    "BUTTON_VALIDATE_AGAIN",
    "BUTTON_WORKS_HERE",
    "CHECK_MARKS",
    "SKIP_REASONS",
    "override_done",
    "override_prompt",
    "override_question",
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


BUTTON_VALIDATE_AGAIN = "🔎 Validar de nuevo"


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


def validation_complete(incident_id: int) -> str:
    """The news on top of the coordinator's panel: the next step is the all-clear."""
    return f"🔔 Todos los sectores respondieron (incidente #{incident_id})."


def override_question(missing: list[str]) -> str:
    return f"¿Por qué seguimos sin {esc(', '.join(missing))}?"


# The usual reasons to go on without a silent sector, offered as buttons ("Otro motivo": typed).
SKIP_REASONS = ["No abre hoy", "No usa FLEXUS", "No contesta"]
BUTTON_OTHER_REASON = "✏️ Otro motivo"


def override_prompt(user_id: int, name: str, missing: list[str]) -> str:
    return (
        f"{mention(user_id, name)}, ¿por qué seguimos sin {esc(', '.join(missing))}? "
        "Respondé a este mensaje con el motivo."
    )


def override_done(missing: list[str], reason: str) -> str:
    return f"Anotado: seguimos sin {', '.join(missing) or '—'} ({reason[:100]})."
