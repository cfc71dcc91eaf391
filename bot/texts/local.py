"""Step 4: what the classification means for the team; the local checklist and its causes."""

from __future__ import annotations

from bot.protocol.incident_view import IncidentView
from bot.texts.common import esc, mention, who
from models.vocab import LocalCause

__all__ = [
    "BUTTON_ESCALATE",
    "BUTTON_STILL_FAILS",
    "CHECK_BUTTONS",
    "DISMISSED_OK",
    "ESCALATED_OK",
    "LOCAL_CAUSES",
    "SHORT_CAUSES",
    "dismissed",
    "escalated",
    "general",
    "local_checklist",
    "unconfirmed",
]


# Keyed by enum members; typed by str so a stored value (a plain string) looks them up.
LOCAL_CAUSES: dict[str, str] = {
    LocalCause.PC: "era un problema local (conexiones de la PC)",
    LocalCause.INTERNET: "era un problema local (conexión a internet)",
    LocalCause.POWER: "era un problema local (corte de energía)",
    LocalCause.WORKS: "falsa alarma, ya funciona",
    LocalCause.EXPIRED: "nadie confirmó la falla",
}
# In history lines and the export: the causes found at the reporter's desk, in a word or two.
SHORT_CAUSES: dict[str, str] = {
    LocalCause.PC: "PC",
    LocalCause.INTERNET: "internet",
    LocalCause.POWER: "corte de luz",
}


def _one_person(view: IncidentView, phone: str, open_until: str | None, opening: str | None) -> str:
    """Exactly one person acts: who, and the number to call (said once)."""
    if view.coordinator_name:
        return f"👤 {who(view.coordinator_name)} gestiona el reclamo."
    if open_until:
        return (
            "👉 Una sola persona: tocá «Yo gestiono el reclamo» y llamá al "
            f"<b>{esc(phone)}</b> (soporte atiende hasta las {open_until})."
        )
    when = f"abre {opening}" if opening else "no tiene horarios configurados"
    return (
        "👉 Una sola persona: tocá «Yo gestiono el reclamo». "
        f"Soporte no atiende ahora ({when}): le aviso para llamar al <b>{esc(phone)}</b>."
    )


def general(view: IncidentView, phone: str, open_until: str | None, opening: str | None) -> str:
    """Step 4, every group: it is general; one person takes it (the button is on this message).
    `open_until`: "18:00" while support answers; else `opening`: "hoy a las 10:00"."""
    people = "1 persona" if view.affected_people == 1 else f"{view.affected_people} personas"
    sectors = view.affected_sectors
    scope = f"{people} de {sectors} sector{'es' if sectors != 1 else ''}" if sectors else people
    return (
        f"🚨 <b>Falla general de FLEXUS — incidente #{view.id}</b>\n"
        f"Le pasa a {scope}.\n"
        f"{_one_person(view, phone, open_until, opening)}"
    )


def escalated(view: IncidentView, phone: str, open_until: str | None, opening: str | None) -> str:
    return (
        f"🚨 <b>Incidente #{view.id}: {who(view.reporter_name)} revisó y FLEXUS sigue fallando.</b>\n"
        f"Se trata como falla general.\n{_one_person(view, phone, open_until, opening)}"
    )


def local_checklist(view: IncidentView) -> str:
    return (
        f"🟡 <b>Incidente #{view.id}: a los demás FLEXUS les funciona.</b>\n"
        f"{mention(view.reporter_id, view.reporter_name)}, puede ser algo de tu puesto. Revisá:\n"
        "1. 🔌 Cables de la PC (red y corriente) bien conectados.\n"
        "2. 🌐 Internet: ¿abren otras páginas?\n"
        "3. ⚡ Luz: ¿hubo un corte de energía?\n"
        "Tocá lo que encontraste."
    )


CHECK_BUTTONS = {
    LocalCause.PC: "🔌 Era la PC / cables",
    LocalCause.INTERNET: "🌐 Era internet",
    LocalCause.POWER: "⚡ Fue un corte de luz",
    LocalCause.WORKS: "✅ Ya me funciona",
}


BUTTON_STILL_FAILS = "❗ Revisé todo y sigue fallando"


def unconfirmed(view: IncidentView, minutes: float) -> str:
    """To the reporter alone: the groups' card already asks whether it fails for them."""
    return (
        f"❔ <b>Incidente #{view.id}: nadie más respondió en {_minutes(minutes)}.</b>\n"
        f"{mention(view.reporter_id, view.reporter_name)}, si te sigue fallando, "
        "tocá «Llamar a soporte igual»; si ya funciona, «Ya me funciona»."
    )


BUTTON_ESCALATE = "🚨 Llamar a soporte igual"


def _minutes(minutes: float) -> str:
    if minutes < 1:
        return f"{round(minutes * 60)} s"
    return f"{minutes:g} min"


def dismissed(view: IncidentView) -> str:
    if view.local_cause == LocalCause.EXPIRED:
        return (
            f"⚪ Incidente #{view.id} cerrado: nadie confirmó la falla.\n"
            "Si FLEXUS te falla, avisá de nuevo con /caido."
        )
    cause = LOCAL_CAUSES.get(view.local_cause or "", "sin detalle")
    return (
        f"⚪ Incidente #{view.id} cerrado ({who(view.reporter_name)}): {cause}.\n"
        "FLEXUS funciona para el resto."
    )


ESCALATED_OK = "Listo: se trata como falla general."


DISMISSED_OK = "Listo: incidente cerrado."
