"""Every text a person reads, in Argentine Spanish. Formatting only: no decisions here.

All messages use Telegram's HTML parse mode, so every piece of user text goes through `esc`.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.incidents import IncidentView, SectorCount
from bot.support_window import SupportStatus, Window
from models.incident import CONFIRMING, DISMISSED, GENERAL, PROBABLY_LOCAL, RESOLVED, UNCONFIRMED

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
        return f"{name} de domingos y feriados — feriado: {esc(holiday)}"
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
    GENERAL: "🚨 <b>Falla general confirmada</b>: hay que llamar a soporte.",
    PROBABLY_LOCAL: "🟡 A los demás les funciona: parece un problema local de quien reportó.",
    UNCONFIRMED: "❔ Nadie más respondió todavía.",
    RESOLVED: "✅ Resuelto a las {closed} (caído {down}).",
    DISMISSED: "⚪ Descartado: era un problema local ({cause}).",
}
LOCAL_CAUSES = {
    "pc": "conexiones de la PC",
    "internet": "conexión a internet",
    "power": "corte de energía",
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
    if view.is_open:
        lines.append("¿Te pasa lo mismo? Respondé con los botones.")
    lines.append(f"Afectados: {_counts(view.affected)} · Les funciona: {_counts(view.works)}")
    return "\n".join(lines)


BUTTON_FAILS = "A mí también me falla"
BUTTON_WORKS = "A mí me funciona"


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
    "pc": "🔌 Era la PC / cables",
    "internet": "🌐 Era internet",
    "power": "⚡ Fue un corte de luz",
}
BUTTON_STILL_FAILS = "❗ Revisé todo y sigue fallando"


def unconfirmed(view: IncidentView, minutes: float) -> str:
    return (
        f"❔ <b>Incidente #{view.id}: nadie más respondió en {_minutes(minutes)}.</b>\n"
        "¿A alguien más le falla FLEXUS? Respondé en la alerta con los botones.\n"
        f"{mention(view.reporter_id, view.reporter_name)}, si sigue fallando podés escalar igual."
    )


BUTTON_ESCALATE = "🚨 Escalar igual: llamar a soporte"


def _minutes(minutes: float) -> str:
    if minutes < 1:
        return f"{round(minutes * 60)} s"
    return f"{minutes:g} min"


def dismissed(view: IncidentView) -> str:
    cause = LOCAL_CAUSES.get(view.local_cause or "", "sin detalle")
    return (
        f"⚪ Incidente #{view.id} cerrado: era un problema local ({cause}) "
        f"del puesto de {esc(view.reporter_name, 64)}.\nFLEXUS funciona para el resto."
    )


def all_clear(incident_id: int, down_for: timedelta, instruction: str | None, limit: int) -> str:
    lines = [
        f"✅ <b>FLEXUS nuevamente operativo</b> (incidente #{incident_id}, caído {duration(down_for)})"
    ]
    if instruction:
        lines.append(f"👉 {esc(instruction, limit)}")
    lines.append("Ya pueden retomar el trabajo normal.")
    return "\n".join(lines)


# --- replies -------------------------------------------------------------------------------


def joined(incident_id: int, affected_people: int) -> str:
    return f"➕ Sumado al incidente #{incident_id}. Ya son {affected_people} afectados."


def already_joined(incident_id: int) -> str:
    return f"Ya estás anotado como afectado en el incidente #{incident_id}."


VOTE_FAILS = "Anotado: a vos también te falla."
VOTE_WORKS = "Anotado: a vos te funciona."
VOTE_SAME = "Ya tenías esa respuesta."
ESCALATED_OK = "Listo: se trata como falla general."
DISMISSED_OK = "Listo: incidente cerrado como problema local."


def ask_sector(user_id: int, name: str) -> str:
    return f"{mention(user_id, name)}, ¿de qué sector sos? Así el conteo sale por sector."


SECTOR_PROMPT = "¿De qué sector sos? Tocá el tuyo (lo elegís una sola vez, se puede cambiar)."


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
    "6. Cuando vuelva, quien gestionó el reclamo avisa con /resuelto y dice si hay que reiniciar sesión.\n\n"
    "Comandos: /caido reportar · /estado cómo está · /soporte horario y teléfono · "
    "/sector elegir tu sector · /resuelto avisar que volvió"
)

CLOSED_VOTE = "Esta votación ya cerró: el incidente está cerrado."
STALE_BUTTON = "Este botón ya no sirve. Usá /estado para ver cómo está."
NOT_ENABLED = "Este grupo no está habilitado para FLEXUS Guardia. Pedile a un admin que lo agregue."
PRIVATE_NOT_MEMBER = (
    "Este bot es para el equipo que usa FLEXUS. Si sos del equipo, escribile primero en el grupo."
)
REPORT_IN_GROUP = "Reportá con /caido en el grupo del equipo, así se enteran todos a la vez."
RESOLVE_USAGE_NONE = "No hay ningún incidente abierto."
NOT_ALLOWED_GENERIC = "No tenés permiso para hacer eso."

REFUSALS = {
    "closed": "Ese incidente ya está cerrado.",
    "unknown_incident": "No encuentro ese incidente.",
    "no_open_incident": "No hay ningún incidente abierto.",
    "reporter_or_admin": "Solo quien reportó o un admin puede hacer eso.",
    "already_general": "Ya se trata como falla general: hay que llamar a soporte.",
}
SOMETHING_FAILED = (
    "⚠️ Algo falló de mi lado y no pude hacerlo. Probá de nuevo en un momento.\n"
    "Si FLEXUS está caído, avisá en el grupo y llamá a soporte (/soporte)."
)

COMMANDS = (
    ("caido", "Avisar que FLEXUS falla"),
    ("estado", "Cómo está FLEXUS ahora"),
    ("soporte", "Horario y teléfono de soporte"),
    ("resuelto", "Avisar que FLEXUS volvió"),
    ("sector", "Elegir mi sector"),
    ("ayuda", "Qué hacer si FLEXUS falla"),
)
