"""The setup agrees with itself: what /habilitar and `admins add` stored is what `check`, `check
--online` and the start-up read; ADMIN_USER_IDS in .env counts without a restart; a mistaken
TELEGRAM_API_URL is named; a backlog after /habilitar is handled as the chat then is."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.bot_process import (
    ADMIN_ID,
    GROUP_ADMIN,
    GROUP_CAJA,
    TOKEN,
    BotProcess,
    MembersAPI,
    bot_env,
    cli,
    sent_to,
)
from tests.support.fakebotapi import FakeBotAPI, command_update, user

ADMIN = user(ADMIN_ID, "Admin")
ANA = user(101, "Ana", "Gómez")
NICO = user(555, "Nico", "Sistemas")


def test_chats_enabled_from_the_chat_are_what_check_and_the_start_read(tmp_path: Path) -> None:
    api = MembersAPI(TOKEN).start()
    api.default_member_status = "member"
    bot = BotProcess(api=api, workdir=tmp_path, env=bot_env(api, tmp_path, TEAM_CHAT_IDS=""))
    try:
        for chat in (GROUP_CAJA, GROUP_ADMIN):
            api.bot_rights[chat] = {"status": "administrator", "can_pin_messages": True}
        bot.start()
        assert "no team chat is enabled yet" in bot.log()
        for chat, sector in ((GROUP_CAJA, "Caja"), (GROUP_ADMIN, "Administración")):
            mark = api.mark()
            api.push(command_update(chat, ADMIN, f"/habilitar {sector}"))
            sent_to(api, chat, "habilitado", after=mark)
        bot.stop()
        env = {
            k: v
            for k, v in bot.env.items()
            if k.startswith(("TELEGRAM_", "DATABASE_", "FLEXUS_", "ADMIN_"))
        }
        env["TEAM_CHAT_IDS"] = ""
        offline = cli(tmp_path, "check", **env)
        assert offline.returncode == 0, offline.stderr
        assert f"team chats: {GROUP_CAJA} (Caja)" in offline.stdout.replace(", ", "\n") or (
            str(GROUP_CAJA) in offline.stdout and str(GROUP_ADMIN) in offline.stdout
        )
        assert "TEAM_CHAT_IDS is empty" not in offline.stdout + offline.stderr
        assert "none (write /habilitar" not in offline.stdout
        online = cli(tmp_path, "check", "--online", **env)
        assert online.returncode == 0, online.stdout + online.stderr
        assert (
            f"✓ Grupo {GROUP_CAJA}" in online.stdout and f"✓ Grupo {GROUP_ADMIN}" in online.stdout
        )
        bot.start()
        assert "FLEXUS Guardia started: 2 team chats" in bot.log()
        assert "no team chat is enabled yet" not in bot.log().split("FLEXUS Guardia started")[-2]
        bot.stop()
    finally:
        if bot.process is not None:
            bot.kill()
        api.stop()


def test_admin_user_ids_changed_in_env_counts_without_a_restart(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    env = bot_env(fake_api, tmp_path, SETTINGS_RELOAD_SECONDS="0.5")
    del env["ADMIN_USER_IDS"]
    (tmp_path / ".env").write_text(f"ADMIN_USER_IDS={ADMIN_ID}\n", encoding="utf-8")
    bot = BotProcess(api=fake_api, workdir=tmp_path, env=env)
    try:
        bot.start()
        mark = fake_api.mark()
        fake_api.push(command_update(GROUP_CAJA, NICO, "/habilitar Caja"))
        refusal = sent_to(fake_api, GROUP_CAJA, "Solo un admin", after=mark)
        assert "<code>555</code>" in refusal.text
        (tmp_path / ".env").write_text(f"ADMIN_USER_IDS={ADMIN_ID},555\n", encoding="utf-8")
        deadline = time.monotonic() + 15
        while "ADMIN_USER_IDS changed in .env" not in bot.log():
            assert time.monotonic() < deadline, bot.log()[-2000:]
            time.sleep(0.1)
        mark = fake_api.mark()
        fake_api.push(command_update(GROUP_CAJA, NICO, "/habilitar Caja"))
        # Nico is an admin now: the command is carried out (the group was enabled already)
        assert (
            "ya estaba habilitado" in sent_to(fake_api, GROUP_CAJA, "habilitado", after=mark).text
        )
    finally:
        bot.kill()


def test_an_api_url_ending_in_bot_is_named_as_the_mistake(tmp_path: Path) -> None:
    for url in ("https://api.telegram.org/bot", f"https://api.telegram.org/bot{TOKEN}/"):
        result = cli(tmp_path, "check", TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=url)
        assert result.returncode == 2, result.stdout
        assert "TELEGRAM_API_URL must be the API's root" in result.stderr
        assert "token" not in result.stderr.split("root")[0].lower()


def test_a_backlog_after_habilitar_is_handled_once_it_took_effect(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    """Telegram kept the updates while the bot was down: an admin enabled the group and, a
    moment later, Ana reported. After the restart, Ana's report is handled in an enabled group."""
    bot = BotProcess(
        api=fake_api,
        workdir=tmp_path,
        env=bot_env(fake_api, tmp_path, TEAM_CHAT_IDS=str(GROUP_ADMIN)),
    )
    try:
        bot.start()
        bot.stop()
        fake_api.push(command_update(GROUP_CAJA, ADMIN, "/habilitar Caja"))
        fake_api.push(command_update(GROUP_CAJA, ANA, "/caido no factura"))
        fake_api.push(command_update(GROUP_CAJA, ANA, "/estado"))
        bot.start()
        sent_to(fake_api, GROUP_CAJA, "habilitado")
        sent_to(fake_api, GROUP_CAJA, "con problemas")
        fake_api.settled()
        assert not [c for c in fake_api.sent(GROUP_CAJA) if "no está habilitado" in c.text]
    finally:
        if bot.process is not None:
            bot.kill()
