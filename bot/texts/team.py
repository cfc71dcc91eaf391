"""Sectors, help, and the answers anyone on the team may get."""

from __future__ import annotations

from bot.texts.common import mention

__all__ = [
    "AYUDA",
    "NOT_A_PERSON",
    "PRIVATE_NOT_MEMBER",
    "PROTOCOL_COMMANDS",
    "SECTOR_PROMPT",
    "SOMETHING_FAILED",
    "STALE_BUTTON",
    "ask_sector",
    "ask_sectors",
    "estado_ok",
    "sector_set",
]


def ask_sector(user_id: int, name: str) -> str:
    return f"{mention(user_id, name)}, ¿de qué sector sos? Así el conteo sale por sector."


def ask_sectors(people: list[tuple[int, str]]) -> str:
    """One question for everyone who still has no sector (at most one a minute per group)."""
    if len(people) == 1:
        return ask_sector(*people[0])
    names = ", ".join(mention(user_id, name) for user_id, name in people)
    return f"{names}: ¿de qué sector son? Tocá cada uno el suyo, así el conteo sale por sector."


SECTOR_PROMPT = "¿De qué sector sos? Tocá el tuyo. Si cambiás de sector, usá /sector de nuevo."


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
    "6. Cuando soporte termine, cada sector confirma que FLEXUS funciona.\n"
    "7. Quien gestionó el reclamo avisa a todos con /resuelto y dice si hay que reiniciar sesión: "
    "tocá «Entendido» cuando lo leas.\n\n"
    "Comandos: /caido reportar · /estado cómo está · /soporte horario y teléfono · "
    "/sector elegir tu sector · /contactado anotar que llamaste a soporte · "
    "/resuelto avisar que volvió"
)


STALE_BUTTON = "Este botón ya no sirve. Usá /estado para ver cómo está."


PRIVATE_NOT_MEMBER = (
    "Este bot es solo para el equipo que usa FLEXUS, y no te encuentro en ningún grupo del equipo."
)


NOT_A_PERSON = "Para esto escribí con tu usuario (desactivá «Permanecer anónimo»)"


SOMETHING_FAILED = (
    "⚠️ Algo falló de mi lado y no pude hacerlo. Probá de nuevo en un momento.\n"
    "Si FLEXUS está caído, avisá en el grupo y llamá a soporte (/soporte)."
)


PROTOCOL_COMMANDS: tuple[tuple[str, str], ...] = (
    ("caido", "Avisar que FLEXUS falla"),
    ("estado", "Cómo está FLEXUS ahora"),
    ("soporte", "Horario y teléfono de soporte"),
    ("contactado", "Anotar que llamaste a soporte"),
    ("novedad", "Contarle al equipo cómo va"),
    ("resuelto", "Avisar que FLEXUS volvió"),
    ("sector", "Elegir mi sector"),
    ("ayuda", "Qué hacer si FLEXUS falla"),
    ("mantenimiento", "Mantenimientos programados de FLEXUS"),
    ("chequeos", "Qué ven los chequeos automáticos"),
)
