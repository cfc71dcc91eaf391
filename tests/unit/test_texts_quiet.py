"""The texts of a quiet group and a coordinator on a phone: one person acts, counts agree in
number, the summary fits a screen, user text never nests in the bot's «», the panel says the
next step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from bot.protocol.allclear import AckState, SectorAcks, Summary
from bot.protocol.incident_view import IncidentView, SectorCount
from bot.protocol.validation import SectorCheck, ValidationState
from bot.reports.records import IncidentRecord, Metrics, Outcome, month
from models.incident import GENERAL, IN_PROGRESS, RESOLVED, VALIDATING
from models.vocab import CheckState

TZ = ZoneInfo("America/Argentina/Cordoba")
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 09:00 in Córdoba


def view(**changes: object) -> IncidentView:
    base = IncidentView(
        id=1,
        status=GENERAL,
        reporter_id=101,
        reporter_name="Ana Gómez",
        reporter_sector="Caja",
        opened_at=T0,
        received_at=None,
        confirm_until=T0 + timedelta(minutes=3),
        description="",
        has_photo=False,
        affected=[SectorCount("Caja", 1), SectorCount("Administración", 1)],
        works=[],
        local_cause=None,
        instruction=None,
        closed_at=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- one clear next step ------------------------------------------------------------------------


def test_the_general_failure_names_one_person_and_says_support_hours_once() -> None:
    open_ = texts.general(view(), "0351-5685000", "18:30", None)
    assert "👉 Una sola persona: tocá «Yo gestiono el reclamo» y llamá al" in open_
    assert open_.count("0351-5685000") == 1 and "hasta las 18:30" in open_
    closed = texts.general(view(), "0351-5685000", None, "mañana a las 08:00")
    assert "Soporte no atiende ahora (abre mañana a las 08:00)" in closed
    assert closed.count("atiende") == 1 and "Fuera de horario" not in closed
    taken = texts.general(view(coordinator_name="Luis Pérez"), "0351-5685000", "18:30", None)
    assert "👤 Luis Pérez gestiona el reclamo." in taken and "Una sola persona" not in taken


@pytest.mark.parametrize(
    ("people", "sectors", "scope"),
    [
        ([SectorCount("Caja", 1)], 1, "1 persona de 1 sector"),
        ([SectorCount("Caja", 2)], 1, "2 personas de 1 sector"),
        ([SectorCount("Caja", 1), SectorCount("Administración", 1)], 2, "2 personas de 2 sectores"),
    ],
)
def test_the_general_failure_counts_agree(
    people: list[SectorCount], sectors: int, scope: str
) -> None:
    assert f"Le pasa a {scope}." in texts.general(view(affected=people), "1", "18:30", None)


def test_gerencia_not_answering_gives_the_phone_and_one_person_is_one_person() -> None:
    one = texts.access_no_answer([("Diego Alvarado", "351-555-0101")])
    assert one.startswith("⚠️ Diego Alvarado (Gerencia) no respondió")
    assert "Llamalo al <b>351-555-0101</b>." in one
    assert "Llamalo por teléfono." in texts.access_no_answer([("Diego Alvarado", "")])
    two = texts.access_no_answer([("Diego", "351-1"), ("Laura", "")])
    assert "Llamalos: Diego: <b>351-1</b>." in two
    asked_one = texts.access_in_group(1, [(301, "Diego")], ["AnyDesk"], "bot", 0)
    assert "No te pude escribir" in asked_one and "No les" not in asked_one
    asked_two = texts.access_in_group(1, [(301, "Diego"), (302, "Laura")], ["AnyDesk"], "bot", 0)
    assert "No les pude escribir en privado: abran" in asked_two
    by_name = texts.access_in_group(1, [(0, "Diego"), (0, "Laura")], ["AnyDesk"], "bot", 0)
    assert "Avisales en persona" in by_name


# --- the panel ------------------------------------------------------------------------------------


def test_the_panel_says_the_next_step_at_each_stage() -> None:
    block = "📞 Soporte FLEXUS: <b>0351</b>\n🔴 Fuera de horario: ahora soporte no atiende."
    closed = texts.coordinator_panel(view(), block, False, "hoy a las 10:00", TZ)
    assert "👉 Soporte abre hoy a las 10:00: te aviso para llamar." in closed
    assert "Fuera de horario" not in closed  # said once, in the next step
    left = view(support_message_left_at=T0 + timedelta(minutes=2))
    noted = texts.coordinator_panel(left, block, False, "hoy a las 10:00", TZ)
    assert "📨 Se dejó mensaje a soporte a las 09:02; abre hoy a las 10:00." in noted
    called = view(
        status=IN_PROGRESS, support_contacted_at=T0 + timedelta(minutes=4), support_ref=None
    )
    text = texts.coordinator_panel(called, "📞 0351\n🟢 abierto", True, None, TZ)
    assert "✅ Soporte contactado a las 09:04 · Sin número de reclamo" in text
    checks = [
        SectorCheck("Caja", CheckState.WORKS, "Ana"),
        SectorCheck("Adm", CheckState.PENDING, None),
    ]
    validating = replace(
        called, status=VALIDATING, validation=ValidationState(1, 1, checks, validated=False)
    )
    text = texts.coordinator_panel(validating, "", True, None, TZ)
    assert "🔎 Validación: 1 de 2 sectores confirmaron." in text
    assert "Seguir sin los que faltan" in text
    done = replace(validating, validation=ValidationState(1, 1, checks, validated=True))
    assert "«📣 Avisar que FLEXUS volvió»" in texts.coordinator_panel(done, "", True, None, TZ)
    over = replace(done, status=RESOLVED)
    assert "👉 Listo: el aviso ya salió." in texts.coordinator_panel(over, "", True, None, TZ)
    news = texts.coordinator_panel(done, "", True, None, TZ, news="🔔 Todos respondieron.")
    assert news.split("\n")[1] == "🔔 Todos respondieron."


# --- the summary in the groups ------------------------------------------------------------------


def summary(**changes: object) -> Summary:
    base = Summary(
        incident_id=3,
        opened_at=T0,
        confirmed_at=T0,
        support_contacted_at=T0 + timedelta(minutes=3),
        restored_at=T0 + timedelta(minutes=42),
        coordinator="Luis Pérez",
        support_ref="R-45871",
        access_by="Diego",
        access_tool="AnyDesk",
        affected_people=30,
        timeline=[],
        acks=AckState(
            sectors=[SectorAcks("Caja", ["Ana"], 3), SectorAcks("Administración", [], 2)],
            missing=["Administración"],
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_groups_summary_fits_one_screen_and_names_nobody_for_not_reading() -> None:
    text = texts.summary_short(summary(restart_session=True), TZ)
    lines = text.split("\n")
    assert len(lines) <= 8
    assert "⏱️ FLEXUS estuvo caído 42 min (09:00 → 09:42)." in lines
    assert "👤 Coordinó: Luis Pérez · Reclamo: R-45871" in lines
    assert "⚠️ Faltó confirmar el aviso: Administración." in lines
    assert "🔁 Si todavía no lo hiciste, reiniciá sesión en FLEXUS." in lines
    assert lines[-1] == "Detalle completo: /informe 3"
    assert "Ana" not in text
    everyone = summary(acks=AckState(sectors=[SectorAcks("Caja", ["Ana"], 3)], missing=[]))
    assert "✅ Todos los sectores leyeron el aviso." in texts.summary_short(everyone, TZ)
    told = texts.summary_short(summary(instruction="Cerrá <FLEXUS>"), TZ)
    assert "👉 Cerrá &lt;FLEXUS&gt;" in told


# --- number agreement, quotes ---------------------------------------------------------------------


def record(n: int) -> IncidentRecord:
    return IncidentRecord(
        id=n,
        status="closed",
        outcome=Outcome.GENERAL,
        opened_at=T0 + timedelta(days=n),
        local_cause=None,
        confirmed_at=T0 + timedelta(days=n),
        support_contacted_at=T0 + timedelta(days=n, minutes=5),
        access_granted_at=None,
        access_tool=None,
        ended_at=T0 + timedelta(days=n, minutes=40),
        coordinator="Luis",
        support_ref=None,
        reporter="Ana",
        reporter_sector="Caja",
        affected=2,
    )


def metrics(count: int) -> Metrics:
    minutes = timedelta(minutes=40 * count)
    median = timedelta(minutes=5) if count else None
    return Metrics(
        period=month(2026, 11),
        general=count,
        local=count,
        unconfirmed=count,
        false_alarms=count,
        still_confirming=0,
        still_open=count,
        down=minutes,
        down_closed=timedelta(0),
        median_confirm=median,
        median_contact=median,
        median_access=None,
        median_restore=median,
        inside_hours=count,
        outside_hours=count,
        waiting=timedelta(minutes=10 * count),
        buckets=[],
        failures=[record(n) for n in range(count)],
    )


@pytest.mark.parametrize("count", [0, 1, 2])
def test_every_count_agrees_in_number(count: int) -> None:
    shown = texts.metricas(metrics(count)) + "\n" + texts.proveedor(metrics(count), TZ)
    wrong = [
        "1 fallas",
        "1 falla generales",
        "1 sin confirmar (se cerraron",
        "1 falla sigue abierta" if count != 1 else "fallas sigue",
        "2 falla ",
        "2 fallas general ",
        "2 fallas sigue abierta",
        "1 falsas",
        "2 falsa alarma",
    ]
    assert not [w for w in wrong if w in shown], shown
    if count == 1:
        assert "1 falla general ·" in shown and "Tiempos:" in shown and "Mediana" not in shown
        assert "(1 falla sigue abierta" in shown and "1 sin confirmar (se cerró sola)" in shown
    if count == 2:
        assert "2 fallas generales ·" in shown and "Mediana:" in shown and "Medianas:" in shown
        assert "(2 fallas siguen abiertas" in shown
    if count == 0:
        assert "No hubo fallas generales en el período." in shown
    for n in (0, 1, 2):
        caption = texts.export_caption(n, date(2026, 11, 1), None)
        assert ("1 incidente " if n == 1 else f"{n} incidentes ") in caption


def test_what_a_person_wrote_never_nests_in_the_bots_quotes() -> None:
    card = texts.card(view(description="dice «error 500» al facturar"), TZ, 200)
    assert "“dice «error 500» al facturar”" in card
    assert "«dice" not in card
    assert texts.quoted("<b>Caja</b>") == "“&lt;b&gt;Caja&lt;/b&gt;”"


def test_a_cashier_is_told_what_they_can_do_not_what_they_are_not() -> None:
    text = texts.whoami(101, is_admin=False, is_gerencia=False)
    assert "No sos" not in text and "/caido" in text
    assert "<code>101</code>" in texts.admin_only(101)


@pytest.mark.parametrize(
    ("minutes", "label"), [(0.4, "1m"), (59.6, "1h00"), (61.2, "1h01"), (710.0, "11h50")]
)
def test_a_bars_label_never_rounds_down_below_it(minutes: float, label: str) -> None:
    from bot.reports.charts import _compact

    assert _compact(minutes) == label


def test_sectors_are_found_whatever_the_accents_or_case() -> None:
    from bot.core.config import load_protocol

    team = load_protocol(None).team
    assert team.find("atencion al cliente") == team.find("Atención al Cliente") is not None
    assert team.find("CAJA") == "Caja"
    assert team.find("Cajas") is None
