"""Memory: /historial, /informe, /metricas, /proveedor, the monthly report and the export."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.protocol.maintenance import Planned
from bot.reports.records import IncidentRecord, Metrics, Outcome, Period
from bot.reports.targets import TargetCheck
from bot.texts.common import (
    MESSAGE_LIMIT,
    NO_SECTOR,
    clock_time,
    duration,
    esc,
    mention,
    quoted,
    who,
)
from bot.texts.local import SHORT_CAUSES
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
    "CHART_CLOSED",
    "CHART_EMPTY",
    "CHART_HOURS",
    "CHART_MINUTES",
    "CHART_OPEN",
    "EXPORT_ADMIN_ONLY",
    "EXPORT_COMING",
    "EXPORT_HOW",
    "EXPORT_NO",
    "EXPORT_OUTCOMES",
    "EXPORT_SENT_PRIVATELY",
    "EXPORT_STATUS",
    "EXPORT_YES",
    "HISTORY_EMPTY",
    "HISTORY_HOW",
    "INFORME_HOW",
    "MEMORY_COMMANDS",
    "MONTHS",
    "PERIOD_HOW",
    "SHORT_WEEKDAYS",
    "chart_caption",
    "chart_label",
    "chart_title",
    "day_time",
    "export_caption",
    "export_press_start",
    "history",
    "history_line",
    "informe",
    "informe_unknown",
    "metricas",
    "monthly_report",
    "period_name",
    "proveedor",
]


# The bot's command list (Telegram's menu) also offers the memory commands.
MEMORY_COMMANDS = (
    ("historial", "Últimos incidentes"),
    ("informe", "Resumen completo de un incidente"),
    ("metricas", "Cuántas fallas y cuánto tardó soporte"),
    ("proveedor", "Informe para el proveedor de FLEXUS"),
    ("pendientes", "Seguimientos que quedaron pendientes"),
)


MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip


SHORT_WEEKDAYS = ("lun", "mar", "mié", "jue", "vie", "sáb", "dom")


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
    if record.outcome == Outcome.GENERAL:
        if record.ended_at is None:
            parts += ["falla general, sigue abierta", f"{down} hasta ahora"]
        else:
            parts += ["falla general", down]
        if record.coordinator:
            verb = "coordina" if record.ended_at is None else "coordinó"
            parts.append(f"{verb} {who(record.coordinator, 40)}")
        if record.support_ref:
            parts.append(f"reclamo {esc(record.support_ref, 30)}")
        if record.cause:
            parts.append(f"causa {quoted(record.cause, 60)}")
    elif record.outcome == Outcome.LOCAL:
        cause = SHORT_CAUSES.get(record.local_cause or "", record.local_cause or "")
        parts += [f"local ({esc(cause)})", sector, down]
    elif record.outcome == Outcome.FALSE_ALARM:
        parts += ["falsa alarma", sector, down]
    elif record.outcome == Outcome.UNCONFIRMED:
        parts += ["nadie confirmó", "cerrado solo"]
    else:
        parts += ["confirmando si es general", f"{down} hasta ahora"]
    if record.relapse_of is not None:
        parts.append(f"recaída de #{record.relapse_of}")
    if record.maintenance is not None:
        parts.append("durante un mantenimiento")
    return " · ".join(parts)


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".replace(".", ",") + " %"


def availability_line(data: Metrics) -> str | None:
    """FLEXUS as the bot's own checks measured it, next to what people reported."""
    found = data.availability
    if found is None or found.overall is None:
        return None
    working = (
        f"{_percent(found.working_hours)} en horario de trabajo · "
        if found.working_hours is not None
        else ""
    )
    return f"📶 Según los chequeos automáticos, FLEXUS anduvo {working}{_percent(found.overall)} en total."


def maintenance_figures(data: Metrics) -> str | None:
    """Planned maintenance, apart from the failures (it is not downtime)."""
    figures = data.maintenance
    if not figures.windows:
        return None
    count = "1 mantenimiento" if figures.windows == 1 else f"{figures.windows} mantenimientos"
    line = f"🛠️ {count} programado{'s' if figures.windows > 1 else ''}: {duration(figures.total)}"
    if figures.ran_over:
        line += f", {figures.ran_over} se extendi{'ó' if figures.ran_over == 1 else 'eron'}"
    if figures.reports:
        line += f" · {figures.reports} aviso{'s' if figures.reports > 1 else ''} durante"
    return line + " (no cuenta como caído)."


def history(
    records: list[IncidentRecord],
    now: datetime,
    tz: ZoneInfo,
    windows: list[Planned] | None = None,
) -> str:
    """Newest first, one line each; older lines give way until it fits one message. The
    planned maintenance of the same span follows, apart (it is not an incident)."""
    if not records:
        return HISTORY_EMPTY
    text = _incident_lines(records, now, tz)
    if windows:
        planned = [_window_line(w, now, tz) for w in reversed(windows[-HISTORY_WINDOWS:])]
        extra = "\n🛠️ <b>Mantenimientos programados</b>\n" + "\n".join(planned)
        if len(text) + len(extra) <= MESSAGE_LIMIT:
            text = text.replace(
                "\nDetalle de uno: /informe N", extra + "\nDetalle de uno: /informe N"
            )
    return text


HISTORY_WINDOWS = 5


def _window_line(planned: Planned, now: datetime, tz: ZoneInfo) -> str:
    parts = [
        f"#{planned.id}",
        f"{day_time(planned.starts_at, tz, now)}–{clock_time(planned.ends_at, tz)}",
        esc(planned.reason, 60),
    ]
    if planned.ran_over:
        parts.append(f"se extendió (anunciado hasta las {clock_time(planned.announced_end, tz)})")
    return " · ".join(parts)


def _incident_lines(records: list[IncidentRecord], now: datetime, tz: ZoneInfo) -> str:
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


def _fallas(count: int, kind: str = "") -> str:
    """ "1 falla general", "2 fallas generales", "0 fallas": the noun and its adjective agree."""
    if count == 1:
        return f"1 falla {kind}".rstrip()
    plural = {"general": "generales", "local": "locales"}.get(kind, kind)
    return f"{count} fallas {plural}".rstrip()


def _summary_word(count: int) -> str:
    """Over one failure there is no median: its own times are shown."""
    return "Tiempos" if count == 1 else "Mediana"


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
    if data.unconfirmed == 1:
        others.append("1 sin confirmar (se cerró sola)")
    elif data.unconfirmed:
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
            f"{_summary_word(data.general)}: confirmar {_optional(data.median_confirm)} · "
            f"llamar a soporte "
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
            still = "sigue abierta" if data.still_open == 1 else "siguen abiertas"
            lines.append(f"({_fallas(data.still_open)} {still}: cuenta hasta ahora.)")
    if data.relapses:
        lines.append(f"🔁 Recaídas: {data.relapses} (volvió a fallar poco después del aviso).")
    planned = maintenance_figures(data)
    if planned:
        lines.append(planned)
    measured = availability_line(data)
    if measured:
        lines.append(measured)
    shares = target_shares_line(data)
    if shares:
        lines.append(shares)
    if data.general:
        lines.append(f"Detalle para el proveedor: /proveedor {_period_arg(data.period)}")
    return "\n".join(lines)


TARGET_NAMES = {"answer": "atender", "connect": "conectarse", "restore": "restablecer"}


def _target(check: TargetCheck) -> str:
    mark = "✅" if check.met else "❌"
    return (
        f"{TARGET_NAMES[check.kind]} {mark} {duration(check.taken)} "
        f"(objetivo {duration(check.target)})"
    )


def target_shares_line(data: Metrics) -> str:
    """The period's share of failures that met each of the vendor's targets."""
    measured = [s for s in data.target_shares if s.measured]
    if not measured:
        return ""
    parts = [f"{TARGET_NAMES[s.kind]} {s.met} de {s.measured} ({s.percent} %)" for s in measured]
    return (
        "🎯 Objetivos del proveedor cumplidos, contando solo el horario de soporte: "
        + " · ".join(parts)
    )


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
    planned = maintenance_figures(data)
    if not data.failures:
        return "\n".join(
            [head[0], "No hubo fallas generales en el período.", *filter(None, [planned])]
        )
    head.append(f"{_fallas(data.general, 'general')} · caído en total {duration(data.down)}")
    if data.relapses:
        head.append(f"Recaídas: {data.relapses}")
    if planned:
        head.append(planned)
    measured = availability_line(data)
    if measured:
        head.append(measured)
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
        if record.cause:
            second += f" · causa {quoted(record.cause, 80)}"
        if record.id in data.checks_down:
            second += f" · los chequeos lo vieron caído {duration(data.checks_down[record.id])}"
        block = f"{first}\n{second}"
        if data.targets.get(record.id):
            block += "\n   🎯 " + " · ".join(_target(c) for c in data.targets[record.id])
        blocks.append(block)
    shares = target_shares_line(data)
    if shares:
        head.append(shares)
    medians = "Tiempos" if data.general == 1 else "Medianas"
    tail = (
        f"{medians}: contactar a soporte {_optional(data.median_contact)} · acceso "
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
EXPORT_COMING = "📎 Acá va la exportación que pediste en el grupo."


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


# The export's words (CSV for Excel and JSON): what the incident turned out to be, its state.
EXPORT_OUTCOMES = {
    Outcome.GENERAL: "falla general",
    Outcome.LOCAL: "local",
    Outcome.FALSE_ALARM: "falsa alarma",
    Outcome.UNCONFIRMED: "sin confirmar",
    Outcome.OPEN: "confirmándose",
}


EXPORT_STATUS: dict[str, str] = {
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
