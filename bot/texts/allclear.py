"""Step 8: the all-clear, its acknowledgements, and the closing summary."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.protocol.allclear import AckState, AllClear, Summary
from bot.texts.common import NO_SECTOR, clock_time, duration, esc, mention, quoted, who
from models.vocab import EventKind

__all__ = [
    "ACK_ALREADY",
    "ACK_THANKS",
    "ALL_CLEAR_SENT",
    "BUTTON_ACK",
    "BUTTON_ALL_CLEAR",
    "BUTTON_RESTART_NO",
    "BUTTON_RESTART_YES",
    "BUTTON_SKIP_CAUSE",
    "CAUSE_QUESTION",
    "CAUSE_SAVED",
    "CAUSE_SKIPPED",
    "RESTART_QUESTION",
    "TIMELINE",
    "TIMELINE_LIMIT",
    "ack_line",
    "ack_reminder",
    "all_clear",
    "summary",
    "summary_short",
    "timeline_step",
]


def ack_line(state: AckState) -> str:
    parts = []
    for sector in state.sectors:
        label = esc(sector.sector or NO_SECTOR)
        parts.append(f"{label} {len(sector.names)}/{sector.members}")
    return " · ".join(parts) or "—"


def all_clear(clear: AllClear, limit: int) -> str:
    lines = [
        f"✅ <b>FLEXUS nuevamente operativo</b> (incidente #{clear.incident_id}, "
        f"caído {duration(clear.closed_at - clear.opened_at)})"
    ]
    if clear.restart_session:
        lines.append("🔁 <b>Reiniciá sesión en FLEXUS</b> antes de seguir.")
    else:
        lines.append("No hace falta reiniciar sesión: podés seguir trabajando.")
    if clear.instruction:
        lines.append(f"👉 {esc(clear.instruction, limit)}")
    lines.append("Tocá «Entendido» para confirmar que lo leíste.")
    return "\n".join(lines)


BUTTON_ACK = "👍 Entendido"


ACK_THANKS = "Gracias, quedó registrado."


ACK_ALREADY = "Ya lo tenías confirmado. Gracias."


RESTART_QUESTION = "¿Hay que reiniciar sesión en FLEXUS antes de seguir?"


BUTTON_RESTART_YES = "🔁 Sí, reiniciar sesión"


BUTTON_RESTART_NO = "No hace falta"


ALL_CLEAR_SENT = "Listo: avisé a todos que FLEXUS funciona."
CAUSE_QUESTION = (
    "🔎 ¿Qué dijo soporte que pasó? Respondé a este mensaje con la causa: queda en el resumen y "
    "en el historial."
)
BUTTON_SKIP_CAUSE = "Saltar"
CAUSE_SAVED = "✅ Anotado: queda en el resumen y en el historial."
CAUSE_SKIPPED = "Listo, sin causa."


BUTTON_ALL_CLEAR = "📣 Avisar que FLEXUS volvió"


def summary_short(data: Summary, tz: ZoneInfo) -> str:
    """The summary a group gets: one phone screen (at most 8 lines); the whole timeline is in
    /informe and goes privately to the coordinator and the admins."""
    down = duration(data.restored_at - data.opened_at) if data.restored_at else "—"
    until = clock_time(data.restored_at, tz) if data.restored_at else "—"
    lines = [
        f"📋 <b>Resumen del incidente #{data.incident_id}</b>",
        f"⏱️ FLEXUS estuvo caído {down} ({clock_time(data.opened_at, tz)} → {until}).",
    ]
    if data.access_by:
        lines.append(f"🛠️ Soporte lo arregló en el servidor (acceso por {esc(data.access_tool)}).")
    elif data.support_contacted_at:
        lines.append("🛠️ Soporte lo arregló.")
    if data.coordinator:
        ref = f" · Reclamo: {esc(data.support_ref)}" if data.support_ref else ""
        lines.append(f"👤 Coordinó: {who(data.coordinator)}{ref}")
    if data.cause:
        lines.append(f"🔎 Según soporte: {quoted(data.cause, 160)}")
    if data.acks.missing:
        lines.append(f"⚠️ Faltó confirmar el aviso: {esc(', '.join(data.acks.missing))}.")
    else:
        lines.append("✅ Todos los sectores leyeron el aviso.")
    if data.restart_session:
        lines.append("🔁 Si todavía no lo hiciste, reiniciá sesión en FLEXUS.")
    elif data.instruction:
        lines.append(f"👉 {esc(data.instruction, 120)}")
    else:
        lines.append("👉 Seguí trabajando normalmente en FLEXUS.")
    lines.append(f"Detalle completo: /informe {data.incident_id}")
    return "\n".join(lines)


def ack_reminder(incident_id: int, missing: list[str], people: list[tuple[int, str]]) -> str:
    names = ", ".join(mention(uid, name) for uid, name in people[:20])
    return (
        f"⏰ Falta que confirmen el aviso de FLEXUS operativo (incidente #{incident_id}): "
        f"{esc(', '.join(missing))}.\n{names + ', ' if names else ''}tocá «Entendido» en el aviso."
    )


# What each timeline event says; "{d}" is the event's detail (left out when there is none).
TIMELINE: dict[str, str] = {
    EventKind.OPENED: "reportó la falla",
    EventKind.JOINED: "se sumó: también le falla",
    EventKind.GENERAL: "se confirmó falla general",
    EventKind.PROBABLY_LOCAL: "parecía un problema local",
    EventKind.UNCONFIRMED: "nadie más respondió",
    EventKind.ESCALATED: "avisó que le sigue fallando: se llama a soporte",
    EventKind.EXPIRED: "se cerró solo: nadie confirmó la falla",
    EventKind.CLAIMED: "tomó el reclamo",
    EventKind.HANDED_OVER: "pasó la coordinación a {d}",
    EventKind.SUPPORT_CONTACTED: "contactó a soporte (reclamo {d})",
    EventKind.SUPPORT_REFERENCE: "anotó el reclamo {d}",
    EventKind.SUPPORT_NOTE: "anotó sobre el reclamo: {d}",
    EventKind.CAUSE_TOLD: "contó qué dijo soporte que pasó: {d}",
    EventKind.FOLLOW_UP_ADDED: "anotó un seguimiento: {d}",
    EventKind.FOLLOW_UP_DONE: "cerró el seguimiento: {d}",
    EventKind.DRILL_ENDED: "terminó el simulacro",
    EventKind.SUPPORT_MESSAGE_LEFT: "dejó mensaje a soporte (no atendía)",
    EventKind.ACCESS_REQUESTED: "pidió acceso al servidor",
    EventKind.ACCESS_REQUESTED_AGAIN: "volvió a pedir acceso al servidor",
    EventKind.ACCESS_GRANTED: "dio acceso al servidor por {d}",
    EventKind.ACCESS_UNANSWERED: "Gerencia no respondió al pedido de acceso",
    EventKind.VALIDATION_STARTED: "pidió validar a los sectores (ronda {d})",
    EventKind.VALIDATION_OK: "confirmó que funciona en {d}",
    EventKind.VALIDATION_FAILED: "avisó que sigue fallando en {d}",
    EventKind.VALIDATED: "todos los sectores confirmaron",
    EventKind.VALIDATION_OVERRIDE: "siguió sin esperar a {d}",
    EventKind.RESOLVED: "avisó que FLEXUS funciona: “{d}”",
    EventKind.ACK_REMINDER: "recordatorio de confirmar el aviso a {d}",
    EventKind.CLOSED: "cierre",
    EventKind.DISMISSED: "cerró como problema local ({d})",
    EventKind.RELAPSE: "FLEXUS volvió a fallar después del incidente #{d}",
    EventKind.FAILED_AGAIN: "FLEXUS volvió a fallar: incidente #{d}",
    EventKind.STATUS_UPDATE: "contó novedades: “{d}”",
    EventKind.ESCALATED_TO: "nadie tomó el reclamo: se avisó a {d}",
}


_TIMELINE_BARE: dict[str, str] = {
    EventKind.SUPPORT_CONTACTED: "contactó a soporte",
    EventKind.RESOLVED: "avisó que FLEXUS funciona",
    EventKind.DISMISSED: "cerró como problema local",
}


def timeline_step(kind: str, detail: str | None) -> str:
    template = TIMELINE.get(kind, kind)
    if "{d}" not in template:
        return template
    if not detail:
        return _TIMELINE_BARE.get(kind, template.replace("{d}", "").strip())
    return template.replace("{d}", esc(detail, 80))


TIMELINE_LIMIT = 40  # steps of the timeline a summary shows at most


_NAMES_PER_SECTOR = 8


def summary(data: Summary, tz: ZoneInfo, timeline_limit: int) -> str:
    """The closing summary, showing at most `timeline_limit` steps of the timeline (the first
    ones and the last): handlers.kit.cards.summary_text fits it in one message."""

    def since_open(instant: datetime | None) -> str:
        return duration(instant - data.opened_at) if instant else "—"

    lines = [
        f"📋 <b>Resumen del incidente #{data.incident_id}</b>",
        f"Caído {since_open(data.restored_at)} ({clock_time(data.opened_at, tz)} → "
        f"{clock_time(data.restored_at, tz) if data.restored_at else '—'}). "
        f"Afectados: {data.affected_people}.",
        f"⏱️ Confirmar la falla: {since_open(data.confirmed_at)} · Contactar a soporte: "
        f"{since_open(data.support_contacted_at)} · Restablecer: {since_open(data.restored_at)}",
    ]
    if data.coordinator:
        ref = f" · Reclamo: {esc(data.support_ref)}" if data.support_ref else ""
        lines.append(f"👤 Coordinó: {who(data.coordinator)}{ref}")
    if data.access_by:
        lines.append(f"🖥️ Acceso al servidor: {who(data.access_by)} por {esc(data.access_tool)}")
    if data.cause:
        lines.append(f"🔎 Qué pasó, según soporte: {quoted(data.cause)}")
    lines.append("<b>Línea de tiempo</b>")
    entries = data.timeline
    shown = entries if len(entries) <= timeline_limit else entries[: timeline_limit - 1]
    for entry in shown:
        actor = f"{who(entry.actor)} " if entry.actor else ""
        lines.append(f"{clock_time(entry.at, tz)} {actor}{timeline_step(entry.kind, entry.detail)}")
    if len(shown) < len(entries):
        last = entries[-1]
        lines.append(f"… ({len(entries) - len(shown) - 1} pasos más)")
        actor = f"{who(last.actor)} " if last.actor else ""
        lines.append(f"{clock_time(last.at, tz)} {actor}{timeline_step(last.kind, last.detail)}")
    lines.append("<b>Leyeron el aviso</b>")
    for sector in data.acks.sectors:
        names = ", ".join(who(n, 40) for n in sector.names[:_NAMES_PER_SECTOR]) or "nadie"
        if len(sector.names) > _NAMES_PER_SECTOR:
            names += f" y {len(sector.names) - _NAMES_PER_SECTOR} más"
        lines.append(f"{esc(sector.sector or NO_SECTOR)}: {names}")
    return "\n".join(lines)
