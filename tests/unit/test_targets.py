"""The vendor's targets ([vendor.targets]) against each failure, counted in support hours only:
across a weekend and a holiday, met and missed, the period's shares, and how they read.
Support windows: Mon–Sat 08:00–22:00, Sundays and holidays 10:00–22:00 (2026-11-23 is a
holiday Monday)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import texts
from bot.core.config import SupportSpec, VendorTargets, load_protocol
from bot.reports.records import IncidentRecord, Outcome, compute_metrics, month, with_targets
from bot.reports.targets import Instants, checks_of

TZ = ZoneInfo("America/Argentina/Cordoba")
SPEC = SupportSpec()
TARGETS = VendorTargets(answer_minutes=15, restore_minutes=240)


def local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ).astimezone(UTC)


def failure(number: int, confirmed: str, contacted: str, restored: str | None) -> IncidentRecord:
    return IncidentRecord(
        id=number,
        status="closed" if restored else "in_progress",
        outcome=Outcome.GENERAL,
        opened_at=local(confirmed) - timedelta(minutes=2),
        local_cause=None,
        confirmed_at=local(confirmed),
        support_contacted_at=local(contacted),
        access_granted_at=None,
        access_tool=None,
        ended_at=local(restored) if restored else None,
        coordinator=None,
        support_ref=None,
        reporter="Ana",
        reporter_sector="Caja",
        affected=2,
    )


def test_targets_count_support_hours_only_across_a_weekend_and_a_holiday() -> None:
    # Sunday 21:50 → the holiday Monday 10:05: 10 min on Sunday, 5 on the holiday (it opens
    # at 10:00): 15 min, met, though 12 h 15 min went by.
    weekend = Instants(
        local("2026-11-22 21:50"), local("2026-11-23 10:05"), None, local("2026-11-23 14:05")
    )
    answer, restore = checks_of(weekend, TARGETS, SPEC)
    assert (answer.kind, answer.taken, answer.met) == ("answer", timedelta(minutes=15), True)
    assert (restore.kind, restore.taken, restore.met) == ("restore", timedelta(hours=4), True)
    # Tuesday 21:50 → Wednesday 08:10: 10 + 10 min: missed by five.
    night = Instants(local("2026-11-24 21:50"), local("2026-11-25 08:10"), None, None)
    [late] = checks_of(night, TARGETS, SPEC)  # not restored yet: only the answer is measured
    assert (late.taken, late.met) == (timedelta(minutes=20), False)
    # Without access given, "connect" is not measured even when set.
    assert [c.kind for c in checks_of(night, VendorTargets(connect_minutes=60), SPEC)] == []


def test_the_period_shows_each_failure_and_the_share_met() -> None:
    records = [
        failure(1, "2026-11-22 21:50", "2026-11-23 10:05", "2026-11-23 14:05"),
        failure(2, "2026-11-24 21:50", "2026-11-25 08:10", "2026-11-25 13:10"),
    ]
    now = local("2026-11-30 12:00")
    data = with_targets(
        compute_metrics(records, month(2026, 11), now=now, spec=SPEC), TARGETS, SPEC
    )
    [answer, restore] = data.target_shares
    assert (answer.kind, answer.met, answer.measured, answer.percent) == ("answer", 1, 2, 50)
    assert (restore.kind, restore.met, restore.measured) == ("restore", 1, 2)  # 5 h: missed
    report = texts.proveedor(data, TZ)
    assert "🎯 atender ✅ 15 min (objetivo 15 min) · restablecer ✅ 4 h (objetivo 4 h)" in report
    assert "🎯 atender ❌ 20 min (objetivo 15 min) · restablecer ❌ 5 h" in report
    share = (
        "🎯 Objetivos del proveedor cumplidos, contando solo el horario de soporte: "
        "atender 1 de 2 (50 %) · restablecer 1 de 2 (50 %)"
    )
    assert share in report and share in texts.monthly_report(data)
    # No targets in the protocol file: nothing of this shows.
    plain = with_targets(
        dataclasses.replace(data, targets={}, target_shares=[]), VendorTargets(), SPEC
    )
    assert "🎯" not in texts.proveedor(plain, TZ) and "🎯" not in texts.metricas(plain)


def test_the_protocol_file_sets_the_targets(tmp_path: Path) -> None:
    path = tmp_path / "protocol.toml"
    path.write_text(
        "[vendor.targets]\nanswer_minutes = 15\nconnect_minutes = 60\nrestore_minutes = 240\n",
        encoding="utf-8",
    )
    targets = load_protocol(path).vendor.targets
    assert targets.minutes() == {"answer": 15, "connect": 60, "restore": 240}
    assert load_protocol().vendor.targets.minutes() == {}
