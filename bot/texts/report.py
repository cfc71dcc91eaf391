"""Steps 1–2: the alert, the incident's live status card."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.protocol.incident_view import CheckHints, IncidentView, Relapse, SectorCount
from bot.texts.allclear import ack_line
from bot.texts.common import NO_SECTOR, clock_time, duration, esc, isolated, mention, quoted, who
from bot.texts.coordination import message_left_line, status_update_line
from bot.texts.local import LOCAL_CAUSES
from bot.texts.validation import validation_line
from models.incident import (
    CLOSED,
    CONFIRMING,
    DISMISSED,
    GENERAL,
    IN_PROGRESS,
    PROBABLY_LOCAL,
    RESOLVED,
    UNCONFIRMED,
    VALIDATING,
)

__all__ = [
    "FORWARDED_REPORT",
    "JOINED_NAMES_MAX",
    "JOINED_NAME_MAX",
    "JOINED_REACTION",
    "LATE_ALREADY",
    "LATE_STILL_FAILS",
    "LATE_WORKS",
    "REPORT_IN_GROUP",
    "STATUS_LINES",
    "card",
    "check_hint_lines",
    "joined_many",
    "joined_name",
    "joined_one",
    "late_line",
    "late_report_question",
    "late_works",
    "photo_caption",
]


STATUS_LINES: dict[str, str] = {
    CONFIRMING: "⏳ Confirmando si le pasa a más gente (hasta las {until}).",
    GENERAL: "🚨 <b>Falla general confirmada</b>: hay que reclamar a soporte (/soporte).",
    PROBABLY_LOCAL: "🟡 A los demás les funciona: parece un problema local de quien reportó.",
    UNCONFIRMED: "❔ Nadie más respondió todavía.",
    IN_PROGRESS: "🛠️ Soporte está trabajando en el problema.",
    VALIDATING: "🔎 Soporte terminó: cada sector confirma si FLEXUS funciona.",
    RESOLVED: "✅ Resuelto a las {closed} (caído {down}).",
    CLOSED: "✅ Resuelto a las {closed} (caído {down}).",
    DISMISSED: "⚪ Descartado: {cause}.",
}


def _counts(counts: list[SectorCount]) -> str:
    if not counts:
        return "—"
    return ", ".join(f"{esc(c.sector or NO_SECTOR)} {c.people}" for c in counts)


def card(
    view: IncidentView, tz: ZoneInfo, description_limit: int, opening: str | None = None
) -> str:
    """The alert: the incident's live status card, edited in place as it moves on.
    `opening`: when support opens next ("hoy a las 10:00"), while it is closed."""
    header = "🔴 FLEXUS con problemas" if view.is_open else "FLEXUS"
    sector = f" ({esc(view.reporter_sector)})" if view.reporter_sector else ""
    reported = f"Reportó {who(view.reporter_name)}{sector} a las {clock_time(view.opened_at, tz)}"
    if view.description:
        reported += f": {quoted(view.description, description_limit)}"
    lines = [f"<b>{header} — incidente #{view.id}</b>"]
    if view.relapse is not None:
        lines.extend(relapse_lines(view.relapse, tz))
    lines.append(reported)
    if view.during_maintenance:
        lines.append("🛠️ Reportado durante un mantenimiento programado: es otra cosa.")
    if view.received_at is not None:
        lines.append(late_line(view.received_at, tz))
    if view.has_photo:
        lines.append("📷 Adjuntó una foto del error.")
    lines.append(
        STATUS_LINES[view.status].format(
            until=clock_time(view.confirm_until, tz),
            closed=clock_time(view.closed_at, tz) if view.closed_at else "",
            down=duration(view.closed_at - view.opened_at) if view.closed_at else "",
            cause=LOCAL_CAUSES.get(view.local_cause or "", "sin detalle"),
        )
    )
    lines.extend(_progress_lines(view, tz, opening))
    if view.last_update is not None and view.is_open:
        lines.append(status_update_line(view.last_update, tz))
    if view.checks is not None:
        lines.extend(check_hint_lines(view.checks, tz))
    if view.asks_for_votes:
        lines.append("¿Te pasa lo mismo? Respondé con los botones.")
    lines.append(f"Afectados: {_counts(view.affected)} · Les funciona: {_counts(view.works)}")
    return "\n".join(lines)


def check_hint_lines(hints: CheckHints, tz: ZoneInfo) -> list[str]:
    """What the bot's own checks see, under the card."""
    lines = [
        f"🔎 Chequeo automático: {esc(name)} no responde desde las {clock_time(since, tz)}."
        for name, since in hints.flexus_down
    ]
    if not hints.flexus_down and hints.flexus_up:
        lines.append(
            "🔎 Los chequeos automáticos ven FLEXUS funcionando: puede ser algo de tu PC o "
            "tu conexión."
        )
    if hints.office_down is not None:
        lines.append(
            f"🔌 La oficina no responde al bot desde las {clock_time(hints.office_down, tz)}: "
            "la oficina no tiene internet o luz."
        )
    return lines


def relapse_lines(relapse: Relapse, tz: ZoneInfo) -> list[str]:
    """FLEXUS failed again soon after an all-clear: which incident, and its coordinator first."""
    resolved = (
        f" se había resuelto a las {clock_time(relapse.resolved_at, tz)}"
        if relapse.resolved_at
        else " se había resuelto hace un rato"
    )
    lines = [f"🔁 FLEXUS volvió a fallar: el incidente #{relapse.incident_id}{resolved}."]
    if relapse.coordinator_id is not None and relapse.coordinator_name:
        lines.append(
            f"{mention(relapse.coordinator_id, relapse.coordinator_name)}, coordinaste el "
            f"#{relapse.incident_id}: ¿lo tomás de nuevo?"
        )
    return lines


def _progress_lines(view: IncidentView, tz: ZoneInfo, opening: str | None) -> list[str]:
    lines = []
    if view.coordinator_name:
        lines.append(f"👤 Coordina: {who(view.coordinator_name)}")
    elif view.status in (GENERAL, IN_PROGRESS, VALIDATING):
        lines.append("👤 Nadie gestiona el reclamo todavía.")
    if view.support_contacted_at:
        ref = f" (reclamo {esc(view.support_ref)})" if view.support_ref else ""
        lines.append(
            f"📞 Soporte contactado a las {clock_time(view.support_contacted_at, tz)} "
            f"por {who(view.support_contacted_by)}{ref}."
        )
    elif view.support_message_left_at and view.is_open:
        lines.append(message_left_line(view, tz, opening))
    if view.access_granted_at:
        lines.append(
            f"🖥️ Acceso al servidor: dado por {who(view.access_granted_by)} "
            f"({esc(view.access_tool)}) a las {clock_time(view.access_granted_at, tz)}."
        )
    elif view.access_requested_at:
        lines.append(
            f"🖥️ Acceso al servidor: pedido a Gerencia a las {clock_time(view.access_requested_at, tz)}."
        )
    if view.validation is not None:
        lines.append(f"🔎 Validación: {validation_line(view.validation)}")
    if view.acks is not None:
        lines.append(f"👍 Leyeron el aviso: {ack_line(view.acks)}")
    return lines


def late_line(received_at: datetime, tz: ZoneInfo) -> str:
    return f"⏰ Recibido a las {clock_time(received_at, tz)}: el bot estuvo fuera de servicio."


def late_report_question(name: str, written: datetime, received: datetime, tz: ZoneInfo) -> str:
    """A /caido read long after it was written: ask before alerting everyone."""
    return (
        f"⏰ {who(name)} avisó con /caido a las {clock_time(written, tz)}, pero lo recibí recién "
        f"a las {clock_time(received, tz)}: el bot estuvo fuera de servicio.\n"
        "¿FLEXUS sigue fallando? Si sigue, aviso a todos los sectores."
    )


LATE_STILL_FAILS = "Sí, sigue fallando"
LATE_WORKS = "Ya funciona"
LATE_ALREADY = "Ya lo anoté."


def late_works(name: str) -> str:
    return f"Anotado, {who(name)}: FLEXUS ya funciona, no aviso a nadie."


REPORT_IN_GROUP = "Reportá con /caido en el grupo del equipo, así se enteran todos a la vez."


def photo_caption(incident_id: int) -> str:
    return f"📷 Foto del error — incidente #{incident_id}"


JOINED_REACTION = "👍"  # on a /caido that joined the open incident: the card's tally says the rest


# Telegram takes 4096 characters of text (UTF-16 units): one "joined" message's names stay
# well below.
JOINED_NAMES_MAX = 3000
JOINED_NAME_MAX = 40


def joined_name(name: str) -> str:
    """A name as the "joined" message shows it (before HTML escaping)."""
    return name if len(name) <= JOINED_NAME_MAX else name[: JOINED_NAME_MAX - 1].rstrip() + "…"


def _and(last: str) -> str:
    """«y», or «e» before an i sound: «Juan e Inés», «Ana e Hilda», but «Ana y Hiedra»."""
    word = last.lower()
    vowel = word.startswith(("i", "í")) or (
        word.startswith(("hi", "hí")) and not word.startswith(("hia", "hie", "hio", "hiu"))
    )
    return "e" if vowel else "y"


def joined_many(names: list[str]) -> str:
    """Many /caido at once: one answer naming those whose 👍 would have come late."""
    shown = [isolated(esc(joined_name(n))) for n in names]
    listed = shown[0]
    if len(shown) > 1:
        listed = f"{', '.join(shown[:-1])} {_and(names[-1])} {shown[-1]}"
    return f"{JOINED_REACTION} Anoté también a {listed}: ya cuentan como afectados."


def joined_one(name: str | None) -> str:
    """In a group that does not take the 👍 reaction: the short reply that says the same."""
    to = f", {who(joined_name(name), JOINED_NAME_MAX)}" if name else ""
    return f"{JOINED_REACTION} Anotado{to}: ya contás entre los afectados."


FORWARDED_REPORT = (
    "Eso es un /caido reenviado: no lo cuento como aviso. Si a vos también te falla FLEXUS, "
    "escribí /caido vos, así sé quién está afectado."
)
