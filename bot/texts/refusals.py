"""Why a person may not do something now: one text per models.vocab.Refusal."""

from __future__ import annotations

from bot.protocol.lifecycle import (
    Refused,
)
from bot.texts.common import who
from bot.texts.votes import CLOSED_VOTE
from models.vocab import Refusal

__all__ = ["REFUSALS", "refusal"]


REFUSALS = {
    Refusal.CLOSED: "Ese incidente ya está cerrado.",
    Refusal.VOTE_CLOSED: CLOSED_VOTE,
    Refusal.UNKNOWN_INCIDENT: "No encuentro ese incidente.",
    Refusal.NO_OPEN_INCIDENT: "No hay ningún incidente abierto.",
    Refusal.REPORTER_OR_ADMIN: "Solo quien reportó ({who}) o un admin puede hacer eso.",
    Refusal.ALREADY_GENERAL: "Ya se trata como falla general: hay que llamar a soporte.",
    Refusal.COORDINATOR_OR_ADMIN: "Solo quien coordina el reclamo ({who}) o un admin puede hacer eso.",
    Refusal.CLAIM_FIRST: "Primero alguien tiene que tomar el reclamo: tocá «Yo gestiono el reclamo» en la alerta.",
    Refusal.ALREADY_CLAIMED: "El reclamo ya lo gestiona {who}.",
    Refusal.GERENCIA_ONLY: "Solo Gerencia ({who}) o un admin puede marcar el acceso al servidor.",
    Refusal.ACCESS_ALREADY_GRANTED: "El acceso al servidor ya está dado.",
    Refusal.NOT_GENERAL_YET: "Todavía no se confirmó que sea una falla general.",
    Refusal.VALIDATION_CLOSED: "Esta validación ya cerró.",
    Refusal.NO_SECTOR: "Primero elegí tu sector con /sector, así tu respuesta cuenta para tu sector.",
    Refusal.VALIDATION_RUNNING: "Todavía falta que confirmen: {who}. Esperá su respuesta, o tocá «⏭️ Seguir sin los que faltan» en tu panel.",
    Refusal.NOT_VALIDATED: "Antes del aviso, cada sector tiene que confirmar que FLEXUS funciona: tocá «Soporte terminó, validar».",
    Refusal.UNKNOWN_PERSON: "No encuentro a esa persona.",
    Refusal.ALREADY_ANNOUNCED: "El aviso de FLEXUS operativo ya se mandó.",
    Refusal.REAL_INCIDENT_OPEN: "Hay un incidente real abierto: el simulacro queda para otro momento.",
    Refusal.DRILL_UNDER_WAY: "Ya hay un simulacro en curso: terminalo con /simulacro fin.",
    Refusal.NO_DRILL: "No hay ningún simulacro en curso.",
    Refusal.UNKNOWN_FOLLOW_UP: "No encuentro ese seguimiento: mirá los números con /pendientes.",
    Refusal.FOLLOW_UP_OWNER_OR_ADMIN: "Solo quien lo tiene a cargo ({who}), quien lo anotó o un admin puede cerrarlo.",
}


def refusal(refused: Refused) -> str:
    return REFUSALS[refused.reason].format(who=who(refused.named or "—"))
