"""Reports against the stored timeline of twenty incidents (tests/support/report_fixture.py
lists them with their minutes). Every expected figure below is worked out by hand there and
here, never recomputed by the code under test."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot import texts
from bot.core.config import Protocol
from bot.protocol import access, allclear, coordination, incidents, validation
from bot.reports import export, records
from bot.reports.records import Outcome, month, year
from models import Timer
from models.vocab import TimerKind
from tests.support.report_fixture import TZ, local, store_incidents
from tests.support.steps import Sessions, at, call, claim, person, report

NOW = local("2026-12-15 12:00")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
async def stored(sessions: Sessions) -> Sessions:
    await store_incidents(sessions)
    return sessions


async def metrics_of(
    sessions: Sessions, protocol: Protocol, period: records.Period
) -> records.Metrics:
    async with sessions() as session:
        return await records.metrics(session, period, now=NOW, protocol=protocol)


async def test_november(stored: Sessions, protocol: Protocol) -> None:
    data = await metrics_of(stored, protocol, month(2026, 11))
    # General: #2 #4 #6 #8 #10 #13 #16 (#1 began in October, #18 in December).
    assert [r.id for r in data.failures] == [2, 4, 6, 8, 10, 13, 16]
    assert (data.general, data.local, data.unconfirmed, data.false_alarms) == (7, 5, 3, 1)
    # 85 + 90 + 180 + 60 + 40 + 720 + 30
    assert data.down == minutes(1205)
    # #4 22:00–23:00 (60), #6 08:30–10:00 (90), #8 all (60), #13 23:00–10:00 (660)
    assert data.down_closed == minutes(870)
    # confirm 1 2 2 [3] 4 5 7 · contact 5 6 [9 10] 95 660 · access 11 15 [20] 110 680
    # restore 30 40 60 [85] 90 180 720
    assert data.median_confirm == minutes(3)
    assert data.median_contact == minutes(9.5)
    assert data.median_access == minutes(20)
    assert data.median_restore == minutes(85)
    # Began while closed: #6 (holiday 08:30), #8 (02:00), #13 (Sunday 23:00, holiday after)
    assert (data.inside_hours, data.outside_hours) == (4, 3)
    assert data.waiting == minutes(90 + 60 + 660)
    assert [(b.start.day, b.down_open, b.down_closed) for b in data.buckets] == [
        (1, minutes(85 + 30), minutes(60)),
        (8, minutes(90), minutes(90 + 60)),
        (15, minutes(40), minutes(0)),
        (22, minutes(60), minutes(660)),
        (29, minutes(30), minutes(0)),
    ]
    assert texts.metricas(data).splitlines() == [
        "📊 <b>FLEXUS en noviembre 2026</b>",
        "Fallas generales: 7 · locales: 5 · caído en total: 20 h 5 min",
        "Además: 3 sin confirmar (se cerraron solas) · 1 falsa alarma",
        "Mediana: confirmar 3 min · llamar a soporte 9 min · acceso al servidor 20 min · "
        "volver a andar 1 h 25 min",
        "En horario de soporte: 4 fallas · fuera de horario: 3 fallas, 13 h 30 min esperando "
        "que abra.",
        "Caído con soporte cerrado: 14 h 30 min en total.",
        "Detalle para el proveedor: /proveedor 2026-11",
    ]


async def test_a_failure_crossing_into_a_new_month_belongs_to_the_month_it_began(
    stored: Sessions, protocol: Protocol
) -> None:
    october = await metrics_of(stored, protocol, month(2026, 10))
    # #1: Saturday 31/10 23:30 → Sunday 01/11 10:30; Sunday support opens at 10:00.
    assert (october.general, october.down, october.down_closed) == (1, minutes(660), minutes(630))
    assert (october.outside_hours, october.waiting) == (1, minutes(630))
    assert october.median_access is None
    assert "acceso al servidor —" in texts.metricas(october)
    december = await metrics_of(stored, protocol, month(2026, 12))
    # #18 Tue 00:10 (opens 08:00) and #19 on the Monday holiday 09:00 (opens 10:00).
    assert [r.id for r in december.failures] == [18, 19]
    assert (december.down, december.waiting, december.local) == (minutes(710), minutes(530), 1)


async def test_the_year(stored: Sessions, protocol: Protocol) -> None:
    data = await metrics_of(stored, protocol, year(2026))
    assert (data.general, data.local, data.unconfirmed, data.false_alarms) == (10, 6, 3, 1)
    assert data.down == minutes(1205 + 660 + 530 + 180)
    assert data.waiting == minutes(810 + 630 + 470 + 60)
    assert (data.inside_hours, data.outside_hours) == (4, 6)
    # confirm 1 2 2 2 [3 3] 4 5 5 7 · contact 5 6 9 10 [62] 95 475 630 660
    # access 11 15 [20 90] 110 680 · restore 30 40 60 85 [90 180] 180 530 660 720
    assert (data.median_confirm, data.median_contact) == (minutes(3), minutes(62))
    assert (data.median_access, data.median_restore) == (minutes(55), minutes(135))
    assert len(data.buckets) == 12
    assert [(b.start.month, b.down_open, b.down_closed) for b in data.buckets if b.down] == [
        (10, minutes(30), minutes(630)),
        (11, minutes(335), minutes(870)),
        (12, minutes(180), minutes(530)),
    ]


async def test_the_chart_of_a_month_draws_one_bar_per_week(
    stored: Sessions, protocol: Protocol
) -> None:
    from bot.reports.charts import metrics_chart
    from tests.support.charts import bars_in, pixels

    chart = metrics_chart(await metrics_of(stored, protocol, month(2026, 11)))
    assert (chart.slots, chart.bars, bars_in(pixels(chart))) == (5, 5, 5)


async def test_history_lines(stored: Sessions) -> None:
    async with stored() as session:
        found = await records.incident_records(session, last=10)
    assert [r.id for r in found] == list(range(11, 21))
    lines = texts.history(found, NOW, TZ).splitlines()
    assert lines[0] == "📚 <b>Últimos incidentes</b>"
    assert lines[1:4] == [
        "#20 · jue 10/12 12:00 · local (corte de luz) · Caja · 15 min",
        "#19 · lun 07/12 09:00 · falla general · 3 h · coordinó Luis Pérez · reclamo R-19",
        "#18 · mar 01/12 00:10 · falla general · 8 h 50 min · coordinó Luis Pérez · reclamo R-18",
    ]
    assert "#15 · jue 26/11 03:00 · nadie confirmó · cerrado solo" in lines
    assert "#11 · mié 18/11 09:00 · local (corte de luz) · Caja · 25 min" in lines
    assert lines[-1] == "Detalle de uno: /informe N"
    assert len(lines) == 12


async def test_vendor_report(stored: Sessions, protocol: Protocol) -> None:
    text = texts.proveedor(await metrics_of(stored, protocol, month(2026, 11)), TZ)
    lines = text.splitlines()
    assert lines[1] == "7 fallas generales · caído en total 20 h 5 min"
    assert lines[2:4] == [
        "#2 · lun 02/11 08:42 → volvió a andar 10:07 (1 h 25 min)",
        "   soporte contactado 08:48 (6 min) · acceso 08:53 (11 min, AnyDesk) · reclamo R-2",
    ]
    assert "#13 · dom 22/11 23:00 → volvió a andar lun 23/11 11:00 (12 h)" in lines
    assert "   soporte contactado — · acceso —" in lines  # #8: it came back by itself
    assert lines[-1] == (
        "Medianas: contactar a soporte 9 min · acceso 20 min · volver a andar 1 h 25 min"
    )


async def test_export_csv_opens_in_excel_in_spanish(stored: Sessions, protocol: Protocol) -> None:
    async with stored() as session:
        records = await export.export_records(
            session, since=date(2026, 11, 30), until=date(2026, 12, 1), spec=protocol.support
        )
    data = export.to_csv(records, now=NOW, spec=protocol.support)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(export.COLUMNS)
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["numero"] for r in table] == ["16", "17", "18"]  # the last day is included
    general, local_pc, night = table
    assert general["abierto"] == "30/11/2026 17:00"
    assert general["restablecido"] == "30/11/2026 17:30"
    assert (general["tipo"], general["minutos_caido"], general["fuera_de_horario"]) == (
        "falla general",
        "30",
        "no",
    )
    assert (general["afectados"], general["sectores"]) == ("2", "Administración, Caja")
    assert (general["coordinador"], general["reclamo"]) == ("Luis Pérez", "R-16")
    assert (local_pc["tipo"], local_pc["causa_local"], local_pc["minutos_caido"]) == (
        "local",
        "PC",
        "",
    )
    assert local_pc["cerrado"] == "30/11/2026 22:40"
    assert (night["fuera_de_horario"], night["minutos_esperando_soporte"]) == ("sí", "470")


async def test_export_keeps_user_text_from_running_as_a_formula(
    stored: Sessions, protocol: Protocol
) -> None:
    async with stored() as session:
        records = await export.export_records(
            session, since=date(2026, 11, 2), until=date(2026, 11, 2), spec=protocol.support
        )
    rows = list(
        csv.reader(
            io.StringIO(export.to_csv(records, now=NOW, spec=protocol.support).decode("utf-8-sig")),
            delimiter=";",
        )
    )
    assert rows[1][export.COLUMNS.index("descripcion")] == "'=falla 2"


async def test_export_json(stored: Sessions, protocol: Protocol) -> None:
    async with stored() as session:
        records = await export.export_records(
            session, since=None, until=None, spec=protocol.support
        )
    rows = json.loads(export.to_json(records, now=NOW, spec=protocol.support))
    assert len(rows) == 20
    first = rows[0]
    assert first["numero"] == 1 and first["abierto"] == "2026-10-31T23:30:00-03:00"
    assert (first["minutos_caido"], first["fuera_de_horario"], first["sectores"]) == (
        660,
        True,
        ["Administración", "Caja"],
    )
    assert rows[2]["fuera_de_horario"] is None  # a local problem: not a FLEXUS outage


async def test_what_the_services_store_is_what_reports_read(
    sessions: Sessions, protocol: Protocol
) -> None:
    """One incident driven through the real services, from /caido to the all-clear."""
    opened = await report(sessions, protocol, 1, sector="Caja")  # 08:42
    incident_id = opened.incident_id
    await call(
        sessions,
        incidents.cast_vote,
        incident_id=incident_id,
        person=person(2),
        chat_sector="Administración",
        choice="fails",
        now=at(2),
        protocol=protocol,
    )
    await claim(sessions, protocol, incident_id, 3, at(3))
    await call(
        sessions,
        coordination.contact_support,
        incident_id=incident_id,
        person=person(3),
        is_admin=False,
        chat_id=-100,
        reference="R-4471",
        now=at(6),
        protocol=protocol,
    )
    await call(
        sessions,
        access.grant_access,
        incident_id=incident_id,
        person=person(5),
        is_admin=True,
        tool="TeamViewer",
        now=at(11),
        protocol=protocol,
    )
    await call(
        sessions,
        validation.start_validation,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        now=at(60),
        protocol=protocol,
    )
    for who, sector in ((1, "Caja"), (2, "Administración")):
        await call(
            sessions,
            validation.answer_validation,
            incident_id=incident_id,
            round_number=1,
            person=person(who),
            chat_sector=sector,
            works=True,
            now=at(70),
            protocol=protocol,
        )
    await call(
        sessions,
        allclear.send_all_clear,
        incident_id=incident_id,
        user_id=3,
        is_admin=False,
        restart_session=False,
        now=at(85),
        protocol=protocol,
    )
    local_one = await report(sessions, protocol, 7, sector="Caja", when=at(120))
    await call(
        sessions,
        incidents.dismiss_as_local,
        incident_id=local_one.incident_id,
        user_id=7,
        is_admin=False,
        cause="internet",
        now=at(132),
    )
    async with sessions() as session:
        general, local_problem = await records.incident_records(session)
    assert general.outcome == Outcome.GENERAL and general.coordinator == "Persona 3"
    assert (general.confirmed_at, general.support_contacted_at) == (at(2), at(6))
    assert (general.access_granted_at, general.access_tool) == (at(11), "TeamViewer")
    assert (general.restored_at, general.support_ref, general.affected) == (at(85), "R-4471", 2)
    assert general.down_for(at(500)) == minutes(85)
    assert local_problem.outcome == Outcome.LOCAL and local_problem.local_cause == "internet"
    assert local_problem.down_for(at(500)) == minutes(12) and local_problem.restored_at is None


async def test_one_monthly_report_timer_while_on_none_while_off(
    sessions: Sessions, protocol: Protocol
) -> None:
    on = protocol.model_copy(
        update={"reports": protocol.reports.model_copy(update={"monthly": True})}
    )
    now = local("2026-12-15 12:00")

    async def schedule(p: Protocol) -> bool:
        async with sessions() as session:
            added = await records.schedule_monthly_report(session, protocol=p, now=now)
            await session.commit()
            return added

    async def timers_of_kind() -> list[tuple[str, object]]:
        async with sessions() as session:
            rows = await session.scalars(
                select(Timer).where(Timer.kind == TimerKind.MONTHLY_REPORT).order_by(Timer.id)
            )
            return [(t.status, t.due_at) for t in rows.all()]

    assert await schedule(protocol) is False
    assert await timers_of_kind() == []
    assert await schedule(on) is True
    assert await schedule(on) is False  # started again: still one
    assert await timers_of_kind() == [("pending", local("2027-01-04 09:00"))]
    assert await schedule(protocol) is False  # turned off in the protocol file
    assert await timers_of_kind() == [("cancelled", local("2027-01-04 09:00"))]
