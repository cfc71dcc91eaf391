"""After the incident: follow-ups (`/seguimiento`, `/pendientes`) and their reminders."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from bot.texts.common import esc, quoted, who

if TYPE_CHECKING:
    from bot.protocol.follow_ups import FollowUpView

__all__ = [
    "BUTTON_FOLLOW_UP_DONE",
    "FOLLOW_UP_BAD_DATE",
    "FOLLOW_UP_HOW",
    "NO_FOLLOW_UPS",
    "follow_up_added",
    "follow_up_closed",
    "follow_up_reminder",
    "follow_ups_in_report",
    "pending_follow_ups",
]

FOLLOW_UP_HOW = (
    "Para anotar algo que quedó pendiente de un incidente: <code>/seguimiento 12 pedir al "
    "proveedor el informe del corte para 15/12</code> (respondiendo al mensaje de alguien, "
    "queda a su cargo). Para cerrarlo: <code>/seguimiento hecho 3</code>. Los abiertos: /pendientes."
)
FOLLOW_UP_BAD_DATE = "Esa fecha no existe: escribila como <code>para 15/12</code>."
NO_FOLLOW_UPS = "✅ No hay seguimientos pendientes."
BUTTON_FOLLOW_UP_DONE = "✅ Hecho"


def _due(due_on: date | None) -> str:
    return f"para el {due_on:%d/%m}" if due_on is not None else "sin fecha"


def follow_up_added(view: FollowUpView) -> str:
    reminder = " Ese día se lo recuerdo." if view.due_on is not None else ""
    return (
        f"📌 Seguimiento {view.id} del incidente #{view.incident_id}: {quoted(view.text, 200)}, "
        f"a cargo de {who(view.owner_name)}, {_due(view.due_on)}.{reminder}"
    )


def follow_up_closed(view: FollowUpView, already: bool) -> str:
    if already:
        return f"El seguimiento {view.id} ya estaba hecho."
    return f"✅ Seguimiento {view.id} hecho: {quoted(view.text, 120)}."


def follow_up_reminder(view: FollowUpView) -> str:
    return (
        f"📌 Hoy vence un seguimiento del incidente #{view.incident_id}: "
        f"{quoted(view.text, 300)}.\nCuando esté hecho, tocá «{BUTTON_FOLLOW_UP_DONE}» o "
        f"escribí <code>/seguimiento hecho {view.id}</code>."
    )


def pending_follow_ups(views: list[FollowUpView], today: date) -> str:
    lines = [f"📌 <b>Seguimientos pendientes ({len(views)})</b>"]
    for view in views:
        late = " ⚠️ vencido" if view.overdue(today) else ""
        lines.append(
            f"{view.id}. #{view.incident_id} {quoted(view.text, 90)} — {who(view.owner_name, 40)}, "
            f"{_due(view.due_on)}{late}"
        )
    lines.append("Para cerrar uno: el botón, o <code>/seguimiento hecho N</code>.")
    return "\n".join(lines)


def follow_ups_in_report(views: list[FollowUpView]) -> str:
    """The follow-ups block of /informe."""
    if not views:
        return ""
    lines = ["<b>Seguimientos</b>"]
    for view in views:
        state = "✅ hecho" if view.done else "pendiente"
        lines.append(
            f"{view.id}. {quoted(view.text, 120)} — {who(view.owner_name, 40)}, "
            f"{_due(view.due_on)} · {esc(state)}"
        )
    return "\n".join(lines)
