"""`flexus-bot check --online`: try the configuration for real, one Spanish line per check.

Telegram (the token, each team chat, each Gerencia contact) and the database (reachable, at
which migration). Every failed check says what to do, in the words the operator reads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from bot.core.causes import cause_of
from bot.core.config import Config, GerenciaContact
from bot.storage.db import HEAD_REVISION, database_state, where
from bot.team.admin import ChatRow

TIMEOUT = 15.0


@dataclass(frozen=True)
class CheckResult:
    line: str
    failed: bool = False
    note: bool = False  # neither good nor bad: worth knowing

    def render(self) -> str:
        mark = "✗" if self.failed else ("·" if self.note else "✓")
        return f"  {mark} {self.line}"


def ok(line: str) -> CheckResult:
    return CheckResult(line)


def bad(line: str) -> CheckResult:
    return CheckResult(line, failed=True)


def note(line: str) -> CheckResult:
    return CheckResult(line, note=True)


class ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


class TelegramClient:
    """Just enough Bot API for the checks: one JSON POST a method."""

    def __init__(self, config: Config, client: httpx.AsyncClient) -> None:
        settings = config.settings
        self._base = f"{settings.telegram_api_url.rstrip('/')}/bot{settings.telegram_bot_token}"
        self._client = client

    async def call(self, method: str, **params: Any) -> Any:
        response = await self._client.post(f"{self._base}/{method}", json=params)
        try:
            body = response.json()
        except ValueError:
            raise ApiError(response.status_code, f"HTTP {response.status_code}") from None
        if not body.get("ok"):
            raise ApiError(
                int(body.get("error_code") or response.status_code), body.get("description", "")
            )
        return body.get("result")


@dataclass(frozen=True)
class StoredSetup:
    """What /habilitar, /gerencia and `flexus-bot admins add` stored, read for the checks."""

    chats: dict[int, ChatRow]  # enabled team chats, with their alert topic
    admins: set[int]


async def stored_setup(config: Config) -> StoredSetup:
    """The team chats and admins stored in the database (none when it is not there yet),
    together with TEAM_CHAT_IDS and ADMIN_USER_IDS: what the bot would use if it started."""
    from bot.storage.db import make_engine, make_session_factory
    from bot.team import admin

    settings = config.settings
    chats: dict[int, ChatRow] = {}
    admins = set(settings.admin_user_ids)
    try:
        state = await asyncio.wait_for(database_state(settings.database_url), timeout=TIMEOUT)
    except Exception:
        state = None
    if state is not None and state.revision == HEAD_REVISION:
        engine = make_engine(settings.database_url)
        try:
            async with make_session_factory(engine)() as session:
                chats = {c.chat_id: c for c in await admin.chats(session) if c.enabled}
                admins |= await admin.admin_ids(session)
        finally:
            await engine.dispose()
    for chat_id in settings.team_chat_ids:
        chats.setdefault(chat_id, ChatRow(chat_id, None, True, None, True, None))
    return StoredSetup(chats, admins)


async def run_online_checks(config: Config) -> list[CheckResult]:
    results = [await check_database(config)]
    setup = await stored_setup(config)
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        api = TelegramClient(config, client)
        me = await check_token(api, results)
        if me is not None:
            for chat in setup.chats.values():
                results.append(await check_team_chat(api, chat, me["id"]))
            if not setup.chats:
                results.append(
                    bad(
                        "No hay grupos del equipo: escribí /habilitar en cada grupo (como admin "
                        "del bot) o poné sus ids en TEAM_CHAT_IDS; hasta entonces el bot "
                        "rechaza todos los grupos."
                    )
                )
            for contact in config.protocol.gerencia:
                results.append(await check_gerencia(api, contact, me.get("username", "")))
    return results


async def check_token(api: TelegramClient, results: list[CheckResult]) -> dict[str, Any] | None:
    try:
        me = await api.call("getMe")
    except ApiError as exc:
        if exc.code in (401, 404):
            results.append(
                bad(
                    "Telegram rechazó el token (TELEGRAM_BOT_TOKEN): copiá de nuevo el token que "
                    "da @BotFather (/mybots → API Token) en .env."
                )
            )
        else:
            results.append(bad(f"Telegram respondió con un error a getMe ({exc.description})."))
        return None
    except (httpx.HTTPError, OSError) as exc:
        results.append(
            bad(
                f"No puedo conectarme con Telegram: {cause_of(exc, spanish=True, telegram=True)}. "
                "Revisá la conexión a internet; detrás de un proxy, poné HTTPS_PROXY en .env."
            )
        )
        return None
    results.append(ok(f"Telegram acepta el token: el bot es @{me.get('username', '?')}."))
    return dict(me)


async def check_team_chat(api: TelegramClient, chat: ChatRow, bot_id: int) -> CheckResult:
    result = await _check_membership(api, chat.chat_id, bot_id)
    if result.failed or not chat.alert_topic_id:
        return result
    name = f"«{chat.alert_topic_name}» " if chat.alert_topic_name else ""
    return CheckResult(
        f"{result.line} Las alertas van al tema {name}(id {chat.alert_topic_id}).", note=result.note
    )


async def _check_membership(api: TelegramClient, chat_id: int, bot_id: int) -> CheckResult:
    try:
        member = await api.call("getChatMember", chat_id=chat_id, user_id=bot_id)
    except ApiError as exc:
        return bad(
            f"Grupo {chat_id}: el bot no está en el grupo o el id es incorrecto "
            f"(Telegram: {exc.description}). Agregá el bot al grupo o corregí TEAM_CHAT_IDS."
        )
    except (httpx.HTTPError, OSError) as exc:
        return bad(f"Grupo {chat_id}: no pude consultarlo ({cause_of(exc, spanish=True)}).")
    status = member.get("status")
    if status in ("left", "kicked"):
        how = "lo expulsaron del grupo" if status == "kicked" else "no es miembro del grupo"
        return bad(f"Grupo {chat_id}: el bot {how}. Agregalo de nuevo al grupo.")
    if status == "creator":
        return ok(f"Grupo {chat_id}: el bot es dueño del grupo.")
    if status == "restricted" and not member.get("can_send_messages"):
        return bad(
            f"Grupo {chat_id}: el bot no tiene permiso de escribir en el grupo. Hacelo "
            "administrador (o dale permiso de enviar mensajes): si no, ese sector no recibe avisos."
        )
    if status != "administrator":
        return bad(
            f"Grupo {chat_id}: el bot es miembro pero no administrador. Hacelo administrador con "
            "el permiso «Fijar mensajes» (para fijar la alerta y ver quién entra y sale)."
        )
    if not member.get("can_pin_messages"):
        return bad(
            f"Grupo {chat_id}: el bot es administrador pero no puede fijar mensajes. "
            "Activale el permiso «Fijar mensajes» en la administración del grupo."
        )
    return ok(f"Grupo {chat_id}: el bot es administrador y puede fijar mensajes.")


async def check_gerencia(
    api: TelegramClient, contact: GerenciaContact, bot_name: str
) -> CheckResult:
    if not contact.telegram_id:
        return note(
            f"Gerencia: {contact.name} no tiene telegram_id; se lo menciona por nombre en el grupo."
        )
    # A chat action is the one harmless call that fails when the person never started the bot.
    try:
        await api.call("sendChatAction", chat_id=contact.telegram_id, action="typing")
    except ApiError as exc:
        return bad(
            f"Gerencia: {contact.name} ({contact.telegram_id}) no inició el bot "
            f"(Telegram: {exc.description}). Que abra @{bot_name} y toque «Iniciar»; "
            "mientras tanto los pedidos de acceso van al grupo."
        )
    except (httpx.HTTPError, OSError) as exc:
        return bad(
            f"Gerencia: {contact.name}: no pude consultarlo ({cause_of(exc, spanish=True)})."
        )
    return ok(f"Gerencia: {contact.name} inició el bot y puede recibir mensajes privados.")


async def check_database(config: Config) -> CheckResult:
    url = config.settings.database_url
    try:
        state = await asyncio.wait_for(database_state(url), timeout=TIMEOUT)
    except Exception as exc:
        return bad(
            f"No puedo conectarme a la base de datos en {where(url)}: "
            f"{cause_of(exc, spanish=True)}. Revisá que PostgreSQL esté en marcha y DATABASE_URL."
        )
    head = HEAD_REVISION
    if not state.exists or state.revision is None:
        return note(
            f"La base de datos en {where(url)} todavía no existe: el primer `flexus-bot run` "
            "la crea (o `flexus-bot db upgrade --create`)."
        )
    if state.revision != head:
        return bad(
            f"La base de datos está en la migración {state.revision} y el bot usa la {head}: "
            "ejecutá `flexus-bot db upgrade` (o reiniciá el bot, que migra al arrancar)."
        )
    return ok(f"Base de datos en {where(url)}: al día (migración {head}).")
