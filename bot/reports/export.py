"""The incident export: one row per incident, as CSV that opens in Excel set to Spanish (UTF-8
with BOM, ";" between columns, dates as "30/11/2026 14:05") or as JSON. Admin actions are not
incidents: they are never in it (`flexus-bot audit` shows them)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.core.config import SupportSpec
from bot.reports.records import IncidentRecord, Outcome, incident_records, waiting_for_support
from bot.support.hours import support_status_at

Format = Literal["csv", "json"]
COLUMNS = (
    "numero",
    "abierto",
    "cerrado",
    "estado",
    "tipo",
    "causa_local",
    "confirmado",
    "soporte_contactado",
    "acceso_dado",
    "herramienta_acceso",
    "restablecido",
    "minutos_caido",
    "durante_mantenimiento",
    "recaida_de",
    "fuera_de_horario",
    "minutos_esperando_soporte",
    "coordinador",
    "reclamo",
    "causa",
    "afectados",
    "sectores",
    "reporto",
    "sector",
    "descripcion",
)
EXCEL_DATE = "%d/%m/%Y %H:%M"
# A cell starting like a formula is shown as text, not run (user text goes in the file).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def export_records(
    session: AsyncSession, *, since: date | None, until: date | None, spec: SupportSpec
) -> list[IncidentRecord]:
    """Incidents opened from `since` to `until`, both days included (local dates)."""
    start = datetime.combine(since, time(0), tzinfo=spec.tz) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=spec.tz) if until else None
    return await incident_records(session, since=start, until=end)


def _minutes(delta: timedelta | None) -> int | None:
    return int(delta.total_seconds() // 60) if delta is not None else None


def row_of(record: IncidentRecord, *, now: datetime, spec: SupportSpec) -> dict[str, Any]:
    """One incident's values (datetimes aware, local; None where there is nothing)."""
    general = record.outcome == Outcome.GENERAL
    restored = record.restored_at
    outside = general and not support_status_at(record.opened_at, spec).is_open

    def local(instant: datetime | None) -> datetime | None:
        return instant.astimezone(spec.tz) if instant is not None else None

    return {
        "numero": record.id,
        "abierto": local(record.opened_at),
        "cerrado": local(record.ended_at),
        "estado": texts.EXPORT_STATUS.get(record.status, record.status),
        "tipo": texts.EXPORT_OUTCOMES[record.outcome],
        "causa_local": texts.SHORT_CAUSES.get(record.local_cause or "")
        if record.outcome != Outcome.GENERAL
        else None,
        "confirmado": local(record.confirmed_at),
        "soporte_contactado": local(record.support_contacted_at),
        "acceso_dado": local(record.access_granted_at),
        "herramienta_acceso": record.access_tool,
        "restablecido": local(restored),
        "minutos_caido": _minutes(restored - min(record.down_from, restored)) if restored else None,
        "durante_mantenimiento": record.maintenance is not None,
        "recaida_de": record.relapse_of,
        "fuera_de_horario": outside if general else None,
        "minutos_esperando_soporte": _minutes(waiting_for_support(record, now, spec))
        if outside
        else None,
        "coordinador": record.coordinator,
        "reclamo": record.support_ref,
        "causa": record.cause,
        "afectados": record.affected,
        "sectores": record.sectors,
        "reporto": record.reporter,
        "sector": record.reporter_sector,
        "descripcion": record.description,
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return texts.EXPORT_YES if value else texts.EXPORT_NO
    if isinstance(value, datetime):
        return value.strftime(EXCEL_DATE)
    if isinstance(value, list):
        value = ", ".join(value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(records: list[IncidentRecord], *, now: datetime, spec: SupportSpec) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        row = row_of(record, now=now, spec=spec)
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def to_json(records: list[IncidentRecord], *, now: datetime, spec: SupportSpec) -> bytes:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    rows = [
        {key: plain(value) for key, value in row_of(r, now=now, spec=spec).items()} for r in records
    ]
    return (json.dumps(rows, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render(
    records: list[IncidentRecord], fmt: Format, *, now: datetime, spec: SupportSpec
) -> bytes:
    return (to_csv if fmt == "csv" else to_json)(records, now=now, spec=spec)


def file_name(now: datetime, spec: SupportSpec, fmt: Format = "csv") -> str:
    return f"flexus-incidentes-{now.astimezone(spec.tz):%Y-%m-%d}.{fmt}"
