"""Every text a person reads, in Argentine Spanish. Formatting only: no decisions here.

All messages use Telegram's HTML parse mode, so every piece of user text goes through `esc`.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.allclear import AckState, AllClear, Summary
from bot.lifecycle import (
    Refused,
)
from bot.support_window import COMPANY_HOLIDAY, SupportStatus, Window
from bot.validation import ValidationState
from bot.views import IncidentView, SectorCount
from bot.vocab import CheckState, EventKind, LocalCause, Refusal, VoteChoice
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

WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
NO_SECTOR = "sin sector"


def esc(text: str | None, limit: int | None = None) -> str:
    """User text, shown exactly as typed: cut to `limit` characters and escaped for HTML."""
    text = text or ""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=False)


def mention(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={user_id}">{esc(name, 64)}</a>'


def clock_time(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%H:%M")


def when(instant: datetime, now: datetime, tz: ZoneInfo) -> str:
    """A moment as people say it: "hoy a las 10:00", "mañana a las 08:00", "el sábado 28/11 a las 13:00"."""
    local, today = instant.astimezone(tz), now.astimezone(tz).date()
    at = f"a las {local:%H:%M}"
    if local.date() == today:
        return f"hoy {at}"
    if local.date() == today + timedelta(days=1):
        return f"mañana {at}"
    return f"el {WEEKDAYS[local.weekday()]} {local:%d/%m} {at}"


def duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "menos de 1 min"
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


# --- support windows -----------------------------------------------------------------------

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


# --- the alert card ------------------------------------------------------------------------

STATUS_LINES = {
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
# Keyed by enum members; typed by str so a stored value (a plain string) looks them up.
LOCAL_CAUSES: dict[str, str] = {
    LocalCause.PC: "era un problema local (conexiones de la PC)",
    LocalCause.INTERNET: "era un problema local (conexión a internet)",
    LocalCause.POWER: "era un problema local (corte de energía)",
    LocalCause.WORKS: "falsa alarma, ya funciona",
    LocalCause.EXPIRED: "nadie confirmó la falla",
}


def _counts(counts: list[SectorCount]) -> str:
    if not counts:
        return "—"
    return ", ".join(f"{esc(c.sector or NO_SECTOR)} {c.people}" for c in counts)


def card(view: IncidentView, tz: ZoneInfo, description_limit: int) -> str:
    """The alert: the incident's live status card, edited in place as it moves on."""
    header = "🔴 FLEXUS con problemas" if view.is_open else "FLEXUS"
    sector = f" ({esc(view.reporter_sector)})" if view.reporter_sector else ""
    reported = (
        f"Reportó {esc(view.reporter_name, 64)}{sector} a las {clock_time(view.opened_at, tz)}"
    )
    if view.description:
        reported += f": «{esc(view.description, description_limit)}»"
    lines = [f"<b>{header} — incidente #{view.id}</b>", reported]
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
    lines.extend(_progress_lines(view, tz))
    if view.asks_for_votes:
        lines.append("¿Te pasa lo mismo? Respondé con los botones.")
    lines.append(f"Afectados: {_counts(view.affected)} · Les funciona: {_counts(view.works)}")
    return "\n".join(lines)


def _progress_lines(view: IncidentView, tz: ZoneInfo) -> list[str]:
    lines = []
    if view.coordinator_name:
        lines.append(f"👤 Coordina: {esc(view.coordinator_name, 64)}")
    elif view.status in (GENERAL, IN_PROGRESS, VALIDATING):
        lines.append("👤 Nadie gestiona el reclamo todavía.")
    if view.support_contacted_at:
        ref = f" (reclamo {esc(view.support_ref)})" if view.support_ref else ""
        lines.append(
            f"📞 Soporte contactado a las {clock_time(view.support_contacted_at, tz)} "
            f"por {esc(view.support_contacted_by, 64)}{ref}."
        )
    if view.access_granted_at:
        lines.append(
            f"🖥️ Acceso al servidor: dado por {esc(view.access_granted_by, 64)} "
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


CHECK_MARKS = {CheckState.PENDING: "⏳", CheckState.WORKS: "✅", CheckState.FAILS: "❌"}


def validation_line(state: ValidationState) -> str:
    if not state.checks:
        return "no hay sectores con gente anotada (/sector)"
    return " · ".join(f"{esc(c.sector)} {CHECK_MARKS[c.state]}" for c in state.checks)


def ack_line(state: AckState) -> str:
    parts = []
    for sector in state.sectors:
        label = esc(sector.sector or NO_SECTOR)
        parts.append(f"{label} {len(sector.names)}/{sector.members}")
    return " · ".join(parts) or "—"


BUTTON_FAILS = "A mí también me falla"
BUTTON_WORKS = "A mí me funciona"
VOTE_BUTTONS = {VoteChoice.FAILS: BUTTON_FAILS, VoteChoice.WORKS: BUTTON_WORKS}


# --- outcomes ------------------------------------------------------------------------------


def _call_now(support_open: bool) -> str:
    if support_open:
        return "👉 Hay que llamar a soporte ahora."
    return "👉 Soporte no atiende ahora: llamá apenas abra."


def general(view: IncidentView, block: str, support_open: bool) -> str:
    people = "1 persona" if view.affected_people == 1 else f"{view.affected_people} personas"
    sectors = view.affected_sectors
    scope = f"{people} de {sectors} sector{'es' if sectors != 1 else ''}" if sectors else people
    return (
        f"🚨 <b>Falla general de FLEXUS — incidente #{view.id}</b>\n"
        f"Le pasa a {scope}.\n"
        f"{_call_now(support_open)}\n{block}"
    )


def escalated(view: IncidentView, block: str, support_open: bool) -> str:
    return (
        f"🚨 <b>Incidente #{view.id}: {esc(view.reporter_name, 64)} revisó y FLEXUS sigue fallando.</b>\n"
        f"Se trata como falla general.\n{_call_now(support_open)}\n{block}"
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
    return (
        f"❔ <b>Incidente #{view.id}: nadie más respondió en {_minutes(minutes)}.</b>\n"
        "¿A alguien más le falla FLEXUS? Respondé en la alerta con los botones.\n"
        f"{mention(view.reporter_id, view.reporter_name)}, si te sigue fallando, "
        "tocá «Llamar a soporte igual»."
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
        f"⚪ Incidente #{view.id} cerrado ({esc(view.reporter_name, 64)}): {cause}.\n"
        "FLEXUS funciona para el resto."
    )


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
    EventKind.ACCESS_REQUESTED: "pidió acceso al servidor",
    EventKind.ACCESS_REQUESTED_AGAIN: "volvió a pedir acceso al servidor",
    EventKind.ACCESS_GRANTED: "dio acceso al servidor por {d}",
    EventKind.ACCESS_UNANSWERED: "Gerencia no respondió al pedido de acceso",
    EventKind.VALIDATION_STARTED: "pidió validar a los sectores (ronda {d})",
    EventKind.VALIDATION_OK: "confirmó que funciona en {d}",
    EventKind.VALIDATION_FAILED: "avisó que sigue fallando en {d}",
    EventKind.VALIDATED: "todos los sectores confirmaron",
    EventKind.VALIDATION_OVERRIDE: "siguió sin esperar a {d}",
    EventKind.RESOLVED: "avisó que FLEXUS funciona: «{d}»",
    EventKind.ACK_REMINDER: "recordatorio de confirmar el aviso a {d}",
    EventKind.CLOSED: "cierre",
    EventKind.DISMISSED: "cerró como problema local ({d})",
}


_TIMELINE_BARE: dict[str, str] = {
    EventKind.SUPPORT_CONTACTED: "contactó a soporte",
    EventKind.RESOLVED: "avisó que FLEXUS funciona",
    EventKind.DISMISSED: "cerró como problema local",
}


def _timeline_text(kind: str, detail: str | None) -> str:
    template = TIMELINE.get(kind, kind)
    if "{d}" not in template:
        return template
    if not detail:
        return _TIMELINE_BARE.get(kind, template.replace("{d}", "").strip())
    return template.replace("{d}", esc(detail, 80))


_TIMELINE_LIMIT = 40
_NAMES_PER_SECTOR = 8
MESSAGE_LIMIT = 4000  # Telegram's limit is 4096 characters


def summary(data: Summary, tz: ZoneInfo) -> str:
    """The summary, shortening the timeline until it fits in one Telegram message."""
    limit = _TIMELINE_LIMIT
    text = _summary(data, tz, limit)
    while len(text) > MESSAGE_LIMIT and limit > 5:
        limit -= 5
        text = _summary(data, tz, limit)
    return text[:MESSAGE_LIMIT]


def _summary(data: Summary, tz: ZoneInfo, timeline_limit: int) -> str:
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
        lines.append(f"👤 Coordinó: {esc(data.coordinator, 64)}{ref}")
    if data.access_by:
        lines.append(f"🖥️ Acceso al servidor: {esc(data.access_by, 64)} por {esc(data.access_tool)}")
    lines.append("<b>Línea de tiempo</b>")
    entries = data.timeline
    shown = entries if len(entries) <= timeline_limit else entries[: timeline_limit - 1]
    for entry in shown:
        who = f"{esc(entry.actor, 64)} " if entry.actor else ""
        lines.append(f"{clock_time(entry.at, tz)} {who}{_timeline_text(entry.kind, entry.detail)}")
    if len(shown) < len(entries):
        last = entries[-1]
        lines.append(f"… ({len(entries) - len(shown) - 1} pasos más)")
        who = f"{esc(last.actor, 64)} " if last.actor else ""
        lines.append(f"{clock_time(last.at, tz)} {who}{_timeline_text(last.kind, last.detail)}")
    lines.append("<b>Leyeron el aviso</b>")
    for sector in data.acks.sectors:
        names = ", ".join(esc(n, 40) for n in sector.names[:_NAMES_PER_SECTOR]) or "nadie"
        if len(sector.names) > _NAMES_PER_SECTOR:
            names += f" y {len(sector.names) - _NAMES_PER_SECTOR} más"
        lines.append(f"{esc(sector.sector or NO_SECTOR)}: {names}")
    return "\n".join(lines)


# --- replies -------------------------------------------------------------------------------


VOTE_FAILS = "Anotado: a vos también te falla."
VOTE_WORKS = "Anotado: a vos te funciona."
VOTE_NOTED = {VoteChoice.FAILS: VOTE_FAILS, VoteChoice.WORKS: VOTE_WORKS}
VOTE_SAME = "Ya tenías esa respuesta."
ESCALATED_OK = "Listo: se trata como falla general."
DISMISSED_OK = "Listo: incidente cerrado."


def ask_sector(user_id: int, name: str) -> str:
    return f"{mention(user_id, name)}, ¿de qué sector sos? Así el conteo sale por sector."


def ask_sectors(people: list[tuple[int, str]]) -> str:
    """One question for everyone who still has no sector (at most one a minute per group)."""
    if len(people) == 1:
        return ask_sector(*people[0])
    names = ", ".join(mention(user_id, name) for user_id, name in people)
    return f"{names}: ¿de qué sector son? Tocá cada uno el suyo, así el conteo sale por sector."


SECTOR_PROMPT = "¿De qué sector sos? Tocá el tuyo. Si cambiás de sector, usá /sector de nuevo."


def sector_set(sector: str) -> str:
    return f"Listo: quedaste en {sector}."


def estado_ok() -> str:
    return "🟢 FLEXUS operativo: no hay incidentes abiertos.\nSi falla, avisá con /caido."


AYUDA = (
    "<b>Si FLEXUS no funciona o da error:</b>\n"
    "1. Avisá a todos: escribí <code>/caido</code> y lo que ves en el grupo "
    "(también sirve una foto del error con /caido como texto).\n"
    "2. Si a vos también te pasa, tocá «A mí también me falla» en la alerta; si te anda, «A mí me funciona».\n"
    "3. Si es solo tu puesto, revisá cables de la PC, internet y la luz.\n"
    "4. Si es general, llamá a soporte dentro de su horario: /soporte.\n"
    "5. El acceso al servidor es solo desde la PC de Gerencia, por AnyDesk o TeamViewer.\n"
    "6. Cuando soporte termine, cada sector confirma que FLEXUS funciona.\n"
    "7. Quien gestionó el reclamo avisa a todos con /resuelto y dice si hay que reiniciar sesión: "
    "tocá «Entendido» cuando lo leas.\n\n"
    "Comandos: /caido reportar · /estado cómo está · /soporte horario y teléfono · "
    "/sector elegir tu sector · /contactado anotar que llamaste a soporte · "
    "/resuelto avisar que volvió"
)

CLOSED_VOTE = "Esta votación ya cerró: el incidente está cerrado."
STALE_BUTTON = "Este botón ya no sirve. Usá /estado para ver cómo está."
PRIVATE_NOT_MEMBER = (
    "Este bot es solo para el equipo que usa FLEXUS, y no te encuentro en ningún grupo del equipo."
)
NOT_A_PERSON = "Para esto escribí con tu usuario (desactivá «Permanecer anónimo»)"
REPORT_IN_GROUP = "Reportá con /caido en el grupo del equipo, así se enteran todos a la vez."

REFUSALS = {
    Refusal.CLOSED: "Ese incidente ya está cerrado.",
    Refusal.VOTE_CLOSED: CLOSED_VOTE,
    Refusal.UNKNOWN_INCIDENT: "No encuentro ese incidente.",
    Refusal.NO_OPEN_INCIDENT: "No hay ningún incidente abierto.",
    Refusal.REPORTER_OR_ADMIN: "Solo quien reportó ({who}) o un admin puede hacer eso.",
    Refusal.ALREADY_GENERAL: "Ya se trata como falla general: hay que llamar a soporte.",
    Refusal.COORDINATOR_OR_ADMIN: "Solo quien coordina el reclamo ({who}) o un admin puede hacer eso.",
    Refusal.CLAIM_FIRST: "Primero alguien tiene que tomar el reclamo: tocá «Yo gestiono el reclamo» en la alerta.",
    Refusal.ALREADY_CLAIMED: "El reclamo ya lo gestiona {who}.",
    Refusal.GERENCIA_ONLY: "Solo Gerencia ({who}) o un admin puede marcar el acceso al servidor.",
    Refusal.ACCESS_ALREADY_GRANTED: "El acceso al servidor ya está dado.",
    Refusal.NOT_GENERAL_YET: "Todavía no se confirmó que sea una falla general.",
    Refusal.VALIDATION_CLOSED: "Esta validación ya cerró.",
    Refusal.NO_SECTOR: "Primero elegí tu sector con /sector, así tu respuesta cuenta para tu sector.",
    Refusal.VALIDATION_RUNNING: "Todavía falta que confirmen: {who}. Esperá su respuesta, o tocá «⏭️ Seguir sin los que faltan» en la pregunta de validación.",
    Refusal.NOT_VALIDATED: "Antes del aviso, cada sector tiene que confirmar que FLEXUS funciona: tocá «Soporte terminó, validar».",
    Refusal.UNKNOWN_PERSON: "No encuentro a esa persona.",
    Refusal.ALREADY_ANNOUNCED: "El aviso de FLEXUS operativo ya se mandó.",
}


def refusal(refused: Refused) -> str:
    return REFUSALS[refused.reason].format(who=esc(refused.who or "—", 64))


ALERT_LIMIT = 200  # Telegram's limit for a button's answer


def alert(text: str) -> str:
    """Button answers are plain text (no HTML) of at most 200 characters."""
    text = html.unescape(re.sub(r"</?[a-z]+[^>]*>", "", text))
    return text if len(text) <= ALERT_LIMIT else text[: ALERT_LIMIT - 1] + "…"


# --- coordination, support, server access ------------------------------------------------

BUTTON_CLAIM = "🙋 Yo gestiono el reclamo"
BUTTON_CONTACTED = "📞 Soporte contactado"
BUTTON_ACCESS = "🖥️ Soporte necesita acceso al servidor"
BUTTON_VALIDATE = "✅ Soporte terminó, validar"
BUTTON_HANDOVER = "🔁 Pasar coordinación"
BUTTON_WORKS_HERE = "✅ Funciona"
BUTTON_FAILS_HERE = "❌ Sigue fallando"
BUTTON_OVERRIDE = "⏭️ Seguir sin los que faltan"


def granted_button(tool: str) -> str:
    return f"Acceso otorgado por {tool}"


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


def photo_caption(incident_id: int) -> str:
    return f"📷 Foto del error — incidente #{incident_id}"


def claimed(name: str, incident_id: int) -> str:
    return f"🙋 {esc(name, 64)} gestiona el reclamo del incidente #{incident_id}."


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
    return f"📞 {esc(name, 64)} habló con soporte a las {at} (incidente #{incident_id}).{ref}"


def reference_prompt(user_id: int, name: str) -> str:
    return (
        f"{mention(user_id, name)}, ¿te dieron número de reclamo? "
        "Respondé a este mensaje con el número (si no hay, ignoralo)."
    )


NOBODY_TO_HAND_OVER = "No hay nadie más anotado a quien pasarle la coordinación."


def reference_saved(reference: str) -> str:
    return f"Anotado el reclamo {esc(reference)}."


def access_request(
    incident_id: int, contact: str, coordinator: str | None, tools: list[str], reminder: int
) -> str:
    again = f"🔁 Recordatorio {reminder}: " if reminder else ""
    who = f"\nCoordina: {esc(coordinator, 64)}." if coordinator else ""
    return (
        f"🖥️ {again}<b>Soporte de FLEXUS necesita entrar al servidor</b> (incidente #{incident_id}).\n"
        f"La única PC con acceso es la de Gerencia: {esc(contact, 64)}, abrí "
        f"{esc(' o '.join(tools))} y dale el acceso a soporte.{who}\n"
        "Cuando lo hayas dado, tocá el botón."
    )


def access_in_group(
    incident_id: int,
    contacts: list[tuple[int, str]],
    tools: list[str],
    bot_username: str,
    reminder: int,
) -> str:
    who = ", ".join(mention(uid, name) if uid else esc(name, 64) for uid, name in contacts)
    again = f"🔁 Recordatorio {reminder}: " if reminder else ""
    text = (
        f"🖥️ {again}{who}: <b>soporte necesita acceso al servidor</b> desde la PC de Gerencia "
        f"(incidente #{incident_id}), por {esc(' o '.join(tools))}."
    )
    if any(uid for uid, _ in contacts):
        text += (
            f"\nNo te pude escribir en privado: abrí @{esc(bot_username)} y tocá «Iniciar» "
            "para que pueda avisarte."
        )
    else:
        text += "\nAvisale en persona o por teléfono; quien coordina toca el botón cuando esté."
    return text


def access_requested(names: list[str]) -> str:
    return f"Pedí acceso a Gerencia ({esc(', '.join(names), 200)}). Te aviso cuando lo den."


def access_escalated(names: list[str]) -> str:
    return f"⚠️ Gerencia no respondió: también le pedí acceso a {esc(', '.join(names), 200)}."


ACCESS_NO_ANSWER = "⚠️ Gerencia no respondió al pedido de acceso al servidor. Llamalos por teléfono."


def access_granted(name: str, tool: str, incident_id: int, at: str) -> str:
    return f"🖥️ {esc(name, 64)} dio acceso al servidor por {esc(tool)} a las {at} (incidente #{incident_id})."


ACCESS_THANKS = "Gracias: avisé al equipo."
HANDOVER_PROMPT = "¿A quién le pasás la coordinación?"


def handed_over(name: str, incident_id: int) -> str:
    return f"🔁 Ahora {esc(name, 64)} gestiona el reclamo del incidente #{incident_id}."


def validation_noted(sector: str) -> str:
    return f"Anotado para {sector}."


DONE = "👍"


def validation_request(incident_id: int, state: ValidationState) -> str:
    return (
        f"🔎 <b>Soporte terminó (incidente #{incident_id}). ¿FLEXUS funciona en tu sector?</b>\n"
        "Probalo y respondé con los botones (una respuesta por sector).\n"
        f"{validation_line(state)}"
    )


def validation_failed(incident_id: int, sector: str, name: str) -> str:
    return (
        f"❌ En {esc(sector)} FLEXUS sigue fallando (avisó {esc(name, 64)}), incidente #{incident_id}.\n"
        "Se sigue trabajando: hay que avisarle a soporte y, cuando terminen, validar de nuevo."
    )


def validation_complete(
    incident_id: int, coordinator_id: int | None, coordinator: str | None
) -> str:
    who = mention(coordinator_id, coordinator) if coordinator_id and coordinator else "Coordinación"
    return (
        f"✅ Todos los sectores confirmaron que FLEXUS funciona (incidente #{incident_id}).\n"
        f"{who}, mandá el aviso con /resuelto (podés sumar una indicación: "
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


SOMETHING_FAILED = (
    "⚠️ Algo falló de mi lado y no pude hacerlo. Probá de nuevo en un momento.\n"
    "Si FLEXUS está caído, avisá en el grupo y llamá a soporte (/soporte)."
)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("caido", "Avisar que FLEXUS falla"),
    ("estado", "Cómo está FLEXUS ahora"),
    ("soporte", "Horario y teléfono de soporte"),
    ("contactado", "Anotar que llamaste a soporte"),
    ("resuelto", "Avisar que FLEXUS volvió"),
    ("sector", "Elegir mi sector"),
    ("ayuda", "Qué hacer si FLEXUS falla"),
)


# --- delivery: chats that stop answering ---------------------------------------------------------

JOINED_REACTION = "👍"  # on a /caido that joined the open incident: the card's tally says the rest


def chat_unreachable(chat_id: int, error: str) -> str:
    return (
        f"⚠️ No puedo escribir en el grupo del equipo <code>{chat_id}</code> "
        f"({esc(error, 120)}).\nRevisá que el bot siga en el grupo y pueda escribir: "
        "hasta entonces ese sector no recibe los avisos."
    )


def unreachable_list(chats: list[tuple[int, str | None, str | None]]) -> str:
    lines = [
        f"• <code>{chat_id}</code> {esc(title or '', 60)} — {esc(error or '', 80)}".rstrip(" —")
        for chat_id, title, error in chats
    ]
    return "⚠️ Grupos del equipo que no reciben mensajes:\n" + "\n".join(lines)


# --- administration from the chat ------------------------------------------------------------------


def not_enabled(chat_id: int) -> str:
    return (
        f"Este grupo no está habilitado para FLEXUS Guardia (id <code>{chat_id}</code>). "
        "Un admin del bot puede habilitarlo escribiendo /habilitar acá."
    )


ADMIN_ONLY = "Solo un admin del bot puede hacer eso."
HABILITAR_IN_GROUP = "Escribí /habilitar (o /deshabilitar) en el grupo que querés cambiar."


def enabled(title: str | None, sector: str | None, changed: bool) -> str:
    where = f" (sector {esc(sector, 40)})" if sector else ""
    if not changed:
        return f"Este grupo ya estaba habilitado{where}."
    return (
        f"✅ Grupo «{esc(title or 'este grupo', 60)}» habilitado{where}: "
        "acá llegan las alertas de FLEXUS. Para reportar: /caido."
    )


def disabled(changed: bool) -> str:
    if not changed:
        return "Este grupo ya no estaba habilitado."
    return "Grupo deshabilitado: ya no recibe alertas ni puede reportar."


def unknown_sector(sectors: list[str]) -> str:
    return "No conozco ese sector. Los sectores son: " + esc(", ".join(sectors), 300) + "."


def whoami(user_id: int, is_admin: bool, is_gerencia: bool) -> str:
    roles = [r for r, on in (("admin del bot", is_admin), ("de Gerencia", is_gerencia)) if on]
    role = f"Sos {' y '.join(roles)}." if roles else "No sos admin ni de Gerencia."
    return f"Tu id de Telegram: <code>{user_id}</code>. {role}"


GERENCIA_HOW = (
    "Respondé al mensaje de la persona con /gerencia para anotarla como Gerencia "
    "(/gerencia respaldo: como respaldo; /gerencia quitar: sacarla)."
)


def gerencia_set(name: str, backup: bool) -> str:
    role = "respaldo de Gerencia" if backup else "Gerencia"
    return (
        f"✅ {esc(name, 64)} quedó anotado/a como {role}: le pido el acceso al servidor en "
        "privado (tiene que haber tocado «Iniciar» en el chat con el bot)."
    )


def gerencia_removed(name: str, removed: bool, in_file: bool) -> str:
    if not removed and in_file:
        return f"{esc(name, 64)} figura en el archivo del protocolo: sacalo/a de ahí."
    if not removed:
        return f"{esc(name, 64)} no estaba anotado/a como Gerencia."
    return f"{esc(name, 64)} ya no es contacto de Gerencia."


# --- history and reports -------------------------------------------------------------------------
# (imported here, not at the top, so this section stays self-contained)

from datetime import date  # noqa: E402

from bot.reports import (  # noqa: E402
    FALSE_ALARM,
    GENERAL,
    LOCAL,
    UNCONFIRMED,
    IncidentRecord,
    Metrics,
    Period,
)

# The bot's command list (Telegram's menu) also offers the memory commands.
COMMANDS = (
    *COMMANDS,
    ("historial", "Últimos incidentes"),
    ("informe", "Resumen completo de un incidente"),
    ("metricas", "Cuántas fallas y cuánto tardó soporte"),
    ("proveedor", "Informe para el proveedor de FLEXUS"),
)

MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip
SHORT_WEEKDAYS = ("lun", "mar", "mié", "jue", "vie", "sáb", "dom")
SHORT_CAUSES: dict[str, str] = {
    LocalCause.PC: "PC",
    LocalCause.INTERNET: "internet",
    LocalCause.POWER: "corte de luz",
}


def period_name(period: Period) -> str:
    if period.unit == "year":
        return str(period.start.year)
    return f"{MONTHS[period.start.month - 1]} {period.start.year}"


def day_time(instant: datetime, tz: ZoneInfo, now: datetime | None = None) -> str:
    """ "mar 24/11 08:42" (with the year when it is not this year's)."""
    local = instant.astimezone(tz)
    year = "" if now is None or now.astimezone(tz).year == local.year else f"/{local:%y}"
    return f"{SHORT_WEEKDAYS[local.weekday()]} {local:%d/%m}{year} {local:%H:%M}"


def _then(instant: datetime, since: datetime, tz: ZoneInfo) -> str:
    """A later moment of the same incident: the time, and the day too when it is another day."""
    local = instant.astimezone(tz)
    if local.date() == since.astimezone(tz).date():
        return f"{local:%H:%M}"
    return f"{SHORT_WEEKDAYS[local.weekday()]} {local:%d/%m %H:%M}"


def _optional(delta: timedelta | None) -> str:
    return duration(delta) if delta is not None else "—"


HISTORY_EMPTY = "📚 Todavía no hubo incidentes."
HISTORY_HOW = "Usá /historial o /historial 20 (hasta 30 incidentes)."


def history_line(record: IncidentRecord, now: datetime, tz: ZoneInfo) -> str:
    parts = [f"#{record.id}", day_time(record.opened_at, tz, now)]
    down = duration(record.down_for(now))
    sector = esc(record.reporter_sector or NO_SECTOR, 30)
    if record.kind == GENERAL:
        if record.ended_at is None:
            parts += ["falla general, sigue abierta", f"{down} hasta ahora"]
        else:
            parts += ["falla general", down]
        if record.coordinator:
            verb = "coordina" if record.ended_at is None else "coordinó"
            parts.append(f"{verb} {esc(record.coordinator, 40)}")
        if record.support_ref:
            parts.append(f"reclamo {esc(record.support_ref, 30)}")
    elif record.kind == LOCAL:
        cause = SHORT_CAUSES.get(record.local_cause or "", record.local_cause or "")
        parts += [f"local ({esc(cause)})", sector, down]
    elif record.kind == FALSE_ALARM:
        parts += ["falsa alarma", sector, down]
    elif record.kind == UNCONFIRMED:
        parts += ["nadie confirmó", "cerrado solo"]
    else:
        parts += ["confirmando si es general", f"{down} hasta ahora"]
    return " · ".join(parts)


def history(records: list[IncidentRecord], now: datetime, tz: ZoneInfo) -> str:
    """Newest first, one line each; older lines give way until it fits one message."""
    if not records:
        return HISTORY_EMPTY
    lines = [history_line(r, now, tz) for r in reversed(records)]
    shown = len(lines)
    text = "📚 <b>Últimos incidentes</b>\n" + "\n".join(lines)
    while len(text) > MESSAGE_LIMIT and shown > 1:
        shown -= 1
        text = (
            "📚 <b>Últimos incidentes</b>\n"
            + "\n".join(lines[:shown])
            + f"\n… ({len(lines) - shown} más no entran en un mensaje)"
        )
    text += "\nDetalle de uno: /informe N"
    return text


INFORME_HOW = "Decime qué incidente: /informe 12 (el número sale en /historial)."


def informe_unknown(number: int) -> str:
    return f"No hay un incidente #{number}. Los últimos están en /historial."


def informe(summary_text: str, *, still_open: bool, announced: bool) -> str:
    """The closing summary's format; an open incident says so first. One that never had an
    all-clear has no "who read it" part."""
    text = summary_text
    if not announced:
        text = text.removesuffix("\n<b>Leyeron el aviso</b>")
    if still_open:
        # The summary keeps under MESSAGE_LIMIT; this line still fits Telegram's 4096.
        text = "⏳ Este incidente sigue abierto: esto es lo que pasó hasta ahora.\n" + text
    return text


PERIOD_HOW = (
    "No entendí el período. Probá /metricas (este mes), /metricas anterior, "
    "/metricas año o /metricas 2026-11."
)


def _fallas(count: int) -> str:
    return "1 falla" if count == 1 else f"{count} fallas"


def metricas(data: Metrics) -> str:
    name = period_name(data.period)
    lines = [f"📊 <b>FLEXUS en {name}</b>"]
    if data.general:
        lines.append(
            f"Fallas generales: {data.general} · locales: {data.local} · "
            f"caído en total: {duration(data.down)}"
        )
    else:
        lines.append(f"Sin fallas generales 🎉 · locales: {data.local}")
    others = []
    if data.unconfirmed:
        others.append(f"{data.unconfirmed} sin confirmar (se cerraron solas)")
    if data.false_alarms:
        alarms = "falsa alarma" if data.false_alarms == 1 else "falsas alarmas"
        others.append(f"{data.false_alarms} {alarms}")
    if data.still_confirming:
        others.append(f"{data.still_confirming} confirmándose ahora")
    if others:
        lines.append("Además: " + " · ".join(others))
    if data.general:
        lines.append(
            f"Mediana: confirmar {_optional(data.median_confirm)} · llamar a soporte "
            f"{_optional(data.median_contact)} · acceso al servidor "
            f"{_optional(data.median_access)} · volver a andar {_optional(data.median_restore)}"
        )
        outside = f"fuera de horario: {_fallas(data.outside_hours)}"
        if data.outside_hours:
            outside += f", {duration(data.waiting)} esperando que abra"
        lines.append(f"En horario de soporte: {_fallas(data.inside_hours)} · {outside}.")
        if data.down_closed:
            lines.append(f"Caído con soporte cerrado: {duration(data.down_closed)} en total.")
        if data.still_open:
            lines.append(f"({_fallas(data.still_open)} sigue abierta: cuenta hasta ahora.)")
        lines.append(f"Detalle para el proveedor: /proveedor {_period_arg(data.period)}")
    return "\n".join(lines)


def _period_arg(period: Period) -> str:
    if period.unit == "year":
        return str(period.start.year)
    return f"{period.start:%Y-%m}"


def monthly_report(data: Metrics) -> str:
    return "🗓️ <b>Informe del mes</b>\n" + metricas(data)


def chart_title(period: Period) -> str:
    per = "mes" if period.unit == "year" else "semana"
    return f"Tiempo caído por {per} · {period_name(period)}"


def chart_label(start: date, end: date, period: Period) -> str:
    """A bar's label: the month ("nov") in a year, the days ("1–7") in a month."""
    if period.unit == "year":
        return MONTHS[start.month - 1][:3]
    last = end - timedelta(days=1)
    return f"{start.day}–{last.day}" if last != start else str(start.day)


CHART_OPEN = "con soporte abierto"
CHART_CLOSED = "con soporte cerrado"
CHART_EMPTY = "Sin fallas generales"
CHART_HOURS = "horas caído"
CHART_MINUTES = "minutos caído"


def chart_caption(period: Period) -> str:
    return f"Tiempo caído por {'mes' if period.unit == 'year' else 'semana'}, {period_name(period)}. Rayado: con soporte cerrado."


def proveedor(data: Metrics, tz: ZoneInfo) -> str:
    """Each general failure: when support was called, when access was given, when it worked."""
    head = [f"🧾 <b>Informe para el proveedor de FLEXUS · {period_name(data.period)}</b>"]
    if not data.failures:
        return head[0] + "\nNo hubo fallas generales en el período."
    head.append(f"{_fallas(data.general)} generales · caído en total {duration(data.down)}")
    blocks = []
    for record in data.failures:
        opened = record.opened_at

        def step(instant: datetime | None, opened: datetime = opened) -> str:
            if instant is None:
                return "—"
            return f"{_then(instant, opened, tz)} ({duration(instant - opened)})"

        restored = record.restored_at
        first = f"#{record.id} · {day_time(opened, tz)} → " + (
            f"volvió a andar {step(restored)}" if restored else "sigue abierta"
        )
        access = step(record.access_granted_at)
        if record.access_tool and record.access_granted_at:
            access = access[:-1] + f", {esc(record.access_tool, 20)})"
        second = f"   soporte contactado {step(record.support_contacted_at)} · acceso {access}"
        if record.support_ref:
            second += f" · reclamo {esc(record.support_ref, 30)}"
        blocks.append(f"{first}\n{second}")
    tail = (
        f"Medianas: contactar a soporte {_optional(data.median_contact)} · acceso "
        f"{_optional(data.median_access)} · volver a andar {_optional(data.median_restore)}"
    )
    shown = len(blocks)
    while True:
        more = len(blocks) - shown
        extra = [f"… y {more} más (el detalle completo: /exportar, admins)"] if more else []
        text = "\n".join([*head, *blocks[:shown], *extra, tail])
        if len(text) <= MESSAGE_LIMIT or shown <= 1:
            return text  # one block is a few hundred characters: never cut inside a tag
        shown -= 1


EXPORT_ADMIN_ONLY = "Solo un admin del bot puede exportar los incidentes."
EXPORT_HOW = "Usá /exportar, o con fechas: /exportar 2026-01-01 2026-06-30 (o 01/01/2026)."
EXPORT_SENT_PRIVATELY = "📎 Te mandé la exportación por privado."


def export_caption(count: int, since: date | None, until: date | None) -> str:
    span = ""
    if since and until:
        span = f" del {since:%d/%m/%Y} al {until:%d/%m/%Y}"
    elif since:
        span = f" desde el {since:%d/%m/%Y}"
    elif until:
        span = f" hasta el {until:%d/%m/%Y}"
    incidentes = "1 incidente" if count == 1 else f"{count} incidentes"
    return f"📎 {incidentes}{span}. Se abre con Excel (separado por «;»)."


def export_press_start(user_id: int, name: str) -> str:
    return (
        f"{mention(user_id, name)}: no te puedo escribir por privado. Abrí el chat con el bot, "
        "tocá «Iniciar» y pedí /exportar de nuevo."
    )


# The export's words (CSV for Excel and JSON): the kind of incident and its state.
EXPORT_KINDS = {
    GENERAL: "falla general",
    LOCAL: "local",
    FALSE_ALARM: "falsa alarma",
    UNCONFIRMED: "sin confirmar",
    "open": "confirmándose",
}
EXPORT_STATUS = {
    CONFIRMING: "confirmando",
    GENERAL: "falla general",
    PROBABLY_LOCAL: "parece local",
    UNCONFIRMED: "sin confirmar",
    IN_PROGRESS: "soporte trabajando",
    VALIDATING: "validando",
    RESOLVED: "resuelto",
    CLOSED: "cerrado",
    DISMISSED: "descartado",
}
EXPORT_YES, EXPORT_NO = "sí", "no"


def downtime(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """To the admins after a restart: 'Estuve fuera de servicio de 14:02 a 14:31'."""
    start, end = start.astimezone(tz), end.astimezone(tz)
    if start.date() == end.date():
        return f"Estuve fuera de servicio de {start:%H:%M} a {end:%H:%M}"
    return f"Estuve fuera de servicio del {start:%d/%m %H:%M} al {end:%d/%m %H:%M}"
