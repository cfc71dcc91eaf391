"""Step 5: the coordinator's panel, claiming the case, calling support, handing it over, reminders."""

from __future__ import annotations

from datetime import timedelta

from bot.texts.common import duration, esc, mention, who

__all__ = [
    "BUTTON_CLAIM",
    "BUTTON_CONTACTED",
    "BUTTON_HANDOVER",
    "HANDOVER_PROMPT",
    "NOBODY_TO_HAND_OVER",
    "already_yours",
    "claimed",
    "coordinator_panel",
    "handed_over",
    "nudge",
    "reference_prompt",
    "reference_saved",
    "support_contacted",
    "support_opened",
]


BUTTON_CLAIM = "🙋 Yo gestiono el reclamo"


BUTTON_CONTACTED = "📞 Soporte contactado"


BUTTON_HANDOVER = "🔁 Pasar coordinación"


def coordinator_panel(incident_id: int, block: str, support_open: bool, opening: str | None) -> str:
    lines = [f"🙋 <b>Gestionás el reclamo del incidente #{incident_id}.</b>", block]
    if support_open:
        lines.append(
            "Llamá ahora y, cuando hables con soporte, tocá «Soporte contactado» "
            "(o escribí /contactado y el número de reclamo)."
        )
    elif opening:
        lines.append(f"Te aviso {opening}, cuando abra soporte.")
    return "\n".join(lines)


def claimed(name: str, incident_id: int) -> str:
    return f"🙋 {who(name)} gestiona el reclamo del incidente #{incident_id}."


def already_yours(incident_id: int) -> str:
    return f"Ya gestionás el reclamo del incidente #{incident_id}."


def nudge(incident_id: int, down_for: timedelta, *, coordinated: bool, validated: bool) -> str:
    if validated:
        return (
            f"⏰ Todos los sectores confirmaron que FLEXUS funciona (incidente #{incident_id}). "
            "Falta el aviso: mandalo con /resuelto."
        )
    if coordinated:
        return (
            f"⏰ FLEXUS sigue caído hace {duration(down_for)} (incidente #{incident_id}). "
            "¿Novedades? Tocá el paso que sigue."
        )
    return (
        f"⏰ FLEXUS sigue caído hace {duration(down_for)} (incidente #{incident_id}) "
        "y nadie gestiona el reclamo. ¿Quién llama a soporte?"
    )


def support_opened(incident_id: int, block: str) -> str:
    return (
        f"📞 <b>Soporte ya atiende</b> (incidente #{incident_id}): hay que llamar ahora.\n{block}\n"
        "Cuando hables con soporte, tocá «Soporte contactado»."
    )


def support_contacted(name: str, incident_id: int, reference: str | None, at: str) -> str:
    ref = f" Reclamo: {esc(reference)}." if reference else ""
    return f"📞 {who(name)} habló con soporte a las {at} (incidente #{incident_id}).{ref}"


def reference_prompt(user_id: int, name: str) -> str:
    return (
        f"{mention(user_id, name)}, ¿te dieron número de reclamo? "
        "Respondé a este mensaje con el número (si no hay, ignoralo)."
    )


NOBODY_TO_HAND_OVER = "No hay nadie más anotado a quien pasarle la coordinación."


def reference_saved(reference: str) -> str:
    return f"Anotado el reclamo {esc(reference)}."


HANDOVER_PROMPT = "¿A quién le pasás la coordinación?"


def handed_over(name: str, incident_id: int) -> str:
    return f"🔁 Ahora {who(name)} gestiona el reclamo del incidente #{incident_id}."
