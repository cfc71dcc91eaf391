"""Administration from the chat, chats the bot cannot reach, and the bot's own downtime."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.texts.common import clock_time, esc, quoted, who

__all__ = [
    "BOT_MUTED",
    "BOT_REMOVED",
    "GERENCIA_HOW",
    "HABILITAR_IN_GROUP",
    "admin_only",
    "alert_topic",
    "alert_topic_gone",
    "back_in_group",
    "chat_unreachable",
    "disabled",
    "downtime",
    "enabled",
    "gerencia_removed",
    "gerencia_set",
    "message_refused",
    "not_enabled",
    "token_conflict",
    "took_over",
    "unknown_sector",
    "unreachable_list",
    "whoami",
]


def chat_unreachable(chat_id: int, error: str, title: str | None = None) -> str:
    name = f"{quoted(title, 60)} (<code>{chat_id}</code>)" if title else f"<code>{chat_id}</code>"
    return (
        f"⚠️ No puedo escribir en el grupo del equipo {name} "
        f"({esc(error, 120)}).\nRevisá que el bot siga en el grupo y pueda escribir: "
        "hasta entonces ese sector no recibe los avisos (los guardo y los mando cuando pueda)."
    )


def message_refused(chat_id: int, error: str, sector: str | None = None) -> str:
    """Telegram refused one message (not the chat): it is kept and tried again."""
    where = f"{esc(sector, 60)} (<code>{chat_id}</code>)" if sector else f"<code>{chat_id}</code>"
    return (
        f"⚠️ Telegram no acepta un aviso para el grupo {where} ({esc(error, 120)}).\n"
        "Lo guardo y lo intento de nuevo cada tanto; los demás mensajes a ese grupo siguen saliendo."
    )


BOT_REMOVED = "me sacaron del grupo"
BOT_MUTED = "me quitaron el permiso de escribir"


def alert_topic_gone(title: str, error: str) -> str:
    return (
        f"⚠️ El tema de alertas del grupo {quoted(title, 60)} está cerrado o ya no existe "
        f"({esc(error, 80)}): desde ahora mando los avisos al tema General.\n"
        "Para elegir otro tema, escribí /habilitar en ese tema."
    )


def back_in_group(title: str, held: int) -> str:
    """To the admins once the bot is back in a group and what waited there went out."""
    if held == 0:
        return f"✅ Volví al grupo {quoted(title, 60)}: no había avisos pendientes."
    what = "el aviso pendiente" if held == 1 else f"los {held} avisos pendientes"
    return f"✅ Volví al grupo {quoted(title, 60)}: envié {what}."


def unreachable_list(chats: list[tuple[int, str | None, str | None]]) -> str:
    lines = [
        f"• <code>{chat_id}</code> {esc(title or '', 60)} — {esc(error or '', 80)}".rstrip(" —")
        for chat_id, title, error in chats
    ]
    return "⚠️ Grupos del equipo que no reciben mensajes:\n" + "\n".join(lines)


def not_enabled(chat_id: int) -> str:
    return (
        f"Este grupo no está habilitado para FLEXUS Guardia (id <code>{chat_id}</code>). "
        "Un admin del bot puede habilitarlo escribiendo /habilitar acá."
    )


def admin_only(user_id: int) -> str:
    """An admin command from someone else: what they can do instead, and how to become one."""
    return (
        "Solo un admin del bot puede hacer eso. Tu id de Telegram es "
        f"<code>{user_id}</code>: si tenés que ser admin, pasáselo a quien instaló el bot "
        "(lo agrega con <code>.venv/bin/flexus-bot admins add ID</code> o en ADMIN_USER_IDS, "
        "sin reiniciar)."
    )


HABILITAR_IN_GROUP = "Escribí /habilitar (o /deshabilitar) en el grupo que querés cambiar."


def alert_topic(topic: int | None, name: str | None) -> str:
    """Where a group with topics gets its alerts, as /habilitar says it."""
    if not topic:
        return "al tema General"
    return f"a este tema ({quoted(name, 60)})" if name else "a este tema"


def enabled(title: str | None, sector: str | None, changed: bool, topic: str | None = None) -> str:
    """`topic`: in a group with topics, where alerts go ("a este tema (“Alertas”)")."""
    where = f" (sector {esc(sector, 40)})" if sector else ""
    arrive = (
        f"las alertas de FLEXUS llegan {topic}" if topic else "acá llegan las alertas de FLEXUS"
    )
    if not changed:
        return f"Este grupo ya estaba habilitado{where}: {arrive}."
    return (
        f"✅ Grupo {quoted(title or 'este grupo', 60)} habilitado{where}: "
        f"{arrive}. Para reportar: /caido."
    )


def disabled(changed: bool) -> str:
    if not changed:
        return "Este grupo ya no estaba habilitado."
    return "Grupo deshabilitado: ya no recibe alertas ni puede reportar."


def unknown_sector(sectors: list[str]) -> str:
    return "No conozco ese sector. Los sectores son: " + esc(", ".join(sectors), 300) + "."


def whoami(user_id: int, is_admin: bool, is_gerencia: bool) -> str:
    roles = [r for r, on in (("admin del bot", is_admin), ("de Gerencia", is_gerencia)) if on]
    role = (
        f"Sos {' y '.join(roles)}."
        if roles
        else "Podés avisar con /caido en el grupo y responder a las alertas con sus botones."
    )
    return f"Tu id de Telegram: <code>{user_id}</code>. {role}"


GERENCIA_HOW = (
    "Respondé al mensaje de la persona con /gerencia para anotarla como Gerencia "
    "(/gerencia respaldo: como respaldo; /gerencia quitar: sacarla)."
)


def gerencia_set(name: str, backup: bool) -> str:
    role = "respaldo de Gerencia" if backup else "Gerencia"
    return (
        f"✅ {who(name)} quedó anotado/a como {role}: le pido el acceso al servidor en "
        "privado (tiene que haber tocado «Iniciar» en el chat con el bot)."
    )


def gerencia_removed(name: str, removed: bool, in_file: bool) -> str:
    if not removed and in_file:
        return f"{who(name)} figura en el archivo del protocolo: sacalo/a de ahí."
    if not removed:
        return f"{who(name)} no estaba anotado/a como Gerencia."
    return f"{who(name)} ya no es contacto de Gerencia."


def downtime(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """To the admins after a restart: 'Estuve fuera de servicio de 14:02 a 14:31'."""
    start, end = start.astimezone(tz), end.astimezone(tz)
    if start.date() == end.date():
        return f"Estuve fuera de servicio de {start:%H:%M} a {end:%H:%M}"
    return f"Estuve fuera de servicio del {start:%d/%m %H:%M} al {end:%d/%m %H:%M}"


def took_over(
    host: str, at: datetime, before_host: str, before_seen: datetime, stopped: bool, tz: ZoneInfo
) -> str:
    """To the admins when a standby copy becomes the active one."""
    if stopped:
        why = f"{esc(before_host)} se detuvo a las {clock_time(before_seen, tz)}"
    else:
        why = f"{esc(before_host)} dejó de responder a las {clock_time(before_seen, tz)}"
    return f"🔁 Tomé el control en {esc(host)} a las {clock_time(at, tz)}; {why}."


def token_conflict(since: datetime, tz: ZoneInfo) -> str:
    return (
        f"⚠️ Otra copia del bot está usando el mismo token desde las {clock_time(since, tz)}: "
        "puede perder reportes. Apagá la otra copia (o sacá el webhook que alguien dejó)."
    )
