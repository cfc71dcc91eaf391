"""Memory through the real process and the fake Bot API: /historial, /informe, /metricas with
its chart, /proveedor, /exportar (admins, privately), the monthly report, and refusals."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
from matplotlib import image

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    BotProcess,
    db_rows,
    seed,
    sent_to,
    write_protocol,
)
from tests.support.charts import bars_in
from tests.support.fakebotapi import Call, FakeBotAPI, command_update, user

ADMIN = user(ADMIN_ID, "Sofía", "Admin")
ANA = user(101, "Ana", "Gómez")
OUTSIDER_GROUP = -1009009
MID_DECEMBER = "2026-12-15T12:00:00-03:00"


def uploads(bot: BotProcess, method: str, chat_id: int) -> list[tuple[bytes, str]]:
    """The files the bot sent to a chat and their captions, as stored in its outbox (what
    went to Telegram; the fake Bot API reads multipart captions as ASCII)."""
    sql = f"select payload from outbox where method = '{method}' and chat_id = {chat_id}"
    found = [json.loads(payload) for (payload,) in db_rows(bot, sql + " order by id")]
    return [(base64.b64decode(p["data"]), p["caption"]) for p in found]


def uploaded(bot: BotProcess, method: str, chat_id: int) -> list[bytes]:
    return [data for data, _ in uploads(bot, method, chat_id)]


def wait_call(api: FakeBotAPI, method: str, chat_id: int, after: int = 0) -> Call:
    return api.wait_for(
        lambda c: c.method == method and c.chat_id == chat_id and c.result is not None,
        after=after,
    )


def test_history_informe_metrics_and_vendor_report(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    seed(bot)
    bot.start(FLEXUS_NOW=MID_DECEMBER)

    fake_api.push(command_update(GROUP_CAJA, ANA, "/historial"))
    history = sent_to(fake_api, GROUP_CAJA, "Últimos incidentes")
    lines = history.text.splitlines()
    assert lines[1] == "#20 · jue 10/12 12:00 · local (corte de luz) · Caja · 15 min"
    assert lines[2] == (
        "#19 · lun 07/12 09:00 · falla general · 3 h · coordinó Luis Pérez · reclamo R-19"
    )
    assert len(lines) == 12 and len(history.text) < 4096

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/historial 3"))
    three = sent_to(fake_api, GROUP_CAJA, "Últimos incidentes", after=mark)
    assert [line.split(" · ")[0] for line in three.text.splitlines()[1:4]] == ["#20", "#19", "#18"]
    assert len(three.text.splitlines()) == 5

    # An admin action before /informe: it never shows there.
    mark = fake_api.mark()
    fake_api.push(command_update(OUTSIDER_GROUP, ADMIN, "/habilitar"))
    sent_to(fake_api, OUTSIDER_GROUP, "habilitado", after=mark)
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/informe 13"))
    informe = sent_to(fake_api, GROUP_CAJA, "Resumen del incidente #13", after=mark)
    assert "Caído 12 h (23:00 → 11:00)" in informe.text
    for step in (
        "23:00 Ana Gómez reportó la falla",
        "23:01 se confirmó falla general",
        "23:01 Luis Pérez tomó el reclamo",
        "10:00 Luis Pérez contactó a soporte (reclamo R-13)",
        "10:20 Marta Díaz dio acceso al servidor por AnyDesk",
        "11:00 Luis Pérez avisó que FLEXUS funciona",
    ):
        assert step in informe.text
    assert "habilit" not in informe.text and "Sofía" not in informe.text

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/informe 3"))
    local_one = sent_to(fake_api, GROUP_CAJA, "Resumen del incidente #3", after=mark)
    assert "Ana Gómez cerró como problema local (internet)" in local_one.text
    assert "Leyeron el aviso" not in local_one.text  # no all-clear was ever sent
    # One still open: so it says.
    fake_api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
    sent_to(fake_api, GROUP_CAJA, "incidente #21")
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/informe 21"))
    still = sent_to(fake_api, GROUP_CAJA, "Resumen del incidente #21", after=mark)
    assert still.text.startswith("⏳ Este incidente sigue abierto")
    assert "12:00 Ana Gómez reportó la falla" in still.text
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/informe 99"))
    assert "No hay un incidente #99" in sent_to(fake_api, GROUP_CAJA, "#99", after=mark).text

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/metricas 2026-11"))
    figures = sent_to(fake_api, GROUP_CAJA, "FLEXUS en noviembre 2026", after=mark)
    assert "Fallas generales: 7 · locales: 5 · caído en total: 20 h 5 min" in figures.text
    assert "fuera de horario: 3 fallas, 13 h 30 min esperando que abra" in figures.text
    photo = wait_call(fake_api, "sendPhoto", GROUP_CAJA, after=mark)
    assert "Rayado: con soporte cerrado" in photo.params["caption"]
    assert photo.at > figures.at  # the figures first, then the chart
    (png,) = uploaded(bot, "upload_photo", GROUP_CAJA)
    assert photo.params["photo"] == png  # the bytes Telegram received
    picture = np.asarray(image.imread(io.BytesIO(png), format="png"))
    assert picture.shape[:2] == (720, 1080) and bars_in(picture) == 5

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_ADMIN, ANA, "/metricas año"))
    year = sent_to(fake_api, GROUP_ADMIN, "FLEXUS en 2026", after=mark)
    assert "Fallas generales: 10 · locales: 6" in year.text
    wait_call(fake_api, "sendPhoto", GROUP_ADMIN, after=mark)
    (year_png,) = uploaded(bot, "upload_photo", GROUP_ADMIN)
    assert bars_in(np.asarray(image.imread(io.BytesIO(year_png), format="png"))) == 3

    # A month with no general failure says so, and sends no empty chart
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/metricas 2026-03"))
    assert "Sin fallas generales" in sent_to(fake_api, GROUP_CAJA, "FLEXUS en", after=mark).text
    fake_api.settled()
    assert [
        c for c in fake_api.calls_of("sendPhoto", GROUP_CAJA) if fake_api.calls.index(c) > mark
    ] == []

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/metricas ayer"))
    assert "No entendí el período" in sent_to(fake_api, GROUP_CAJA, "período", after=mark).text

    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ANA, "/proveedor 2026-11"))
    vendor = sent_to(fake_api, GROUP_CAJA, "Informe para el proveedor", after=mark)
    assert "#13 · dom 22/11 23:00 → volvió a andar lun 23/11 11:00 (12 h)" in vendor.text
    assert "soporte contactado 08:48 (6 min) · acceso 08:53 (11 min, AnyDesk)" in vendor.text

    # Off by default: no monthly report is waiting.
    assert db_rows(bot, "select count(*) from timers where kind = 'monthly_report'") == [(0,)]


def test_history_is_for_team_chats_only(bot: BotProcess, fake_api: FakeBotAPI) -> None:
    seed(bot)
    bot.start(FLEXUS_NOW=MID_DECEMBER)
    for text in ("/historial", "/informe 13", "/metricas", "/proveedor"):
        mark = fake_api.mark()
        fake_api.push(command_update(OUTSIDER_GROUP, ANA, text))
        refusal = sent_to(fake_api, OUTSIDER_GROUP, "no está habilitado", after=mark)
        assert "#13" not in refusal.text and "falla" not in refusal.text
    fake_api.settled()
    assert fake_api.calls_of("sendPhoto") == []
    assert db_rows(bot, "select count(*) from outbox where method like 'upload_%'") == [(0,)]


def test_exportar_sends_the_csv_privately_to_admins_only(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    seed(bot)
    bot.start(FLEXUS_NOW=MID_DECEMBER)

    # Anyone else: a clear refusal, no file made, nothing stored but the answer.
    fake_api.push(command_update(GROUP_CAJA, ANA, "/exportar"))
    refusal = sent_to(fake_api, GROUP_CAJA, "Solo un admin")
    assert refusal.text == "Solo un admin del bot puede exportar los incidentes."
    fake_api.push(command_update(101, ANA, "/exportar"))
    sent_to(fake_api, 101, "Solo un admin")
    fake_api.settled()
    assert fake_api.calls_of("sendDocument") == []
    assert db_rows(bot, "select count(*) from outbox where method = 'upload_document'") == [(0,)]
    assert db_rows(bot, "select count(*) from admin_actions") == [(0,)]

    # An admin in the group: the file goes privately; the group hears only that.
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ADMIN, "/exportar 2026-11-30 30/11/2026"))
    assert "por privado" in sent_to(fake_api, GROUP_CAJA, "por privado", after=mark).text
    document = wait_call(fake_api, "sendDocument", ADMIN_ID, after=mark)
    assert "2 incidentes del 30/11/2026 al 30/11/2026" in document.params["caption"]
    assert fake_api.calls_of("sendDocument", GROUP_CAJA) == []
    # The caption comes once, on the file; the word before it is another one
    privately = [c.text for c in fake_api.sent(ADMIN_ID)]
    assert privately == ["📎 Acá va la exportación que pediste en el grupo."]
    ((data, caption),) = uploads(bot, "upload_document", ADMIN_ID)
    assert (
        caption
        == "📎 2 incidentes del 30/11/2026 al 30/11/2026. Se abre con Excel (separado por «;»)."
    )
    assert data.startswith(b"\xef\xbb\xbfnumero;abierto;cerrado;estado;tipo;")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert [(r[0], r[1], r[4]) for r in rows[1:]] == [
        ("16", "30/11/2026 17:00", "falla general"),
        ("17", "30/11/2026 22:30", "local"),
    ]

    # In private: everything (no dates).
    mark = fake_api.mark()
    fake_api.push(command_update(ADMIN_ID, ADMIN, "/exportar"))
    everything = wait_call(fake_api, "sendDocument", ADMIN_ID, after=mark)
    assert "20 incidentes. Se abre con Excel" in everything.params["caption"]

    mark = fake_api.mark()
    fake_api.push(command_update(ADMIN_ID, ADMIN, "/exportar el lunes"))
    assert "/exportar 2026-01-01" in sent_to(fake_api, ADMIN_ID, "Usá /exportar", after=mark).text


def test_exportar_to_an_admin_who_never_started_the_bot(
    bot: BotProcess, fake_api: FakeBotAPI
) -> None:
    seed(bot)
    bot.start(FLEXUS_NOW=MID_DECEMBER)
    for method in ("sendMessage", "sendDocument"):
        fake_api.fail(
            method,
            chat_id=ADMIN_ID,
            code=403,
            description="Forbidden: bot can't initiate conversation with a user",
        )
    mark = fake_api.mark()
    fake_api.push(command_update(GROUP_CAJA, ADMIN, "/exportar"))
    press_start = sent_to(fake_api, GROUP_CAJA, "Iniciar", after=mark)
    assert f'<a href="tg://user?id={ADMIN_ID}">Sofía Admin</a>' in press_start.text
    assert "pedí /exportar de nuevo" in press_start.text


def test_monthly_report_on_the_first_working_day(
    bot: BotProcess, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    write_protocol(tmp_path / "protocol.toml", "[reports]\nmonthly = true\n")
    seed(bot)
    # Tuesday 1 December 2026, a working day: the report is due at 09:00.
    bot.start(FLEXUS_NOW="2026-12-01T08:59:57-03:00")
    for chat_id in (GROUP_CAJA, GROUP_ADMIN):
        text = sent_to(fake_api, chat_id, "Informe del mes")
        assert "FLEXUS en noviembre 2026" in text.text
        assert "Fallas generales: 7 · locales: 5 · caído en total: 20 h 5 min" in text.text
        photo = wait_call(fake_api, "sendPhoto", chat_id)
        assert "noviembre 2026" in photo.params["caption"]
    # The next one: Monday 4 January 2027 (the 1st is a holiday, then the weekend).
    pending = "select due_at from timers where kind = 'monthly_report' and status = 'pending'"
    assert [row[0][:16] for row in db_rows(bot, pending)] == ["2027-01-04 12:00"]
    bot.stop()
    bot.start(FLEXUS_NOW="2026-12-02T10:00:00-03:00")
    fake_api.push(command_update(GROUP_CAJA, ANA, "/historial 1"))
    sent_to(fake_api, GROUP_CAJA, "Últimos incidentes")
    assert len(db_rows(bot, pending)) == 1  # a restart never adds a second one
    assert len(uploaded(bot, "upload_photo", GROUP_CAJA)) == 1
