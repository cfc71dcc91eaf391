"""Step 5: the coordinator's panel, claiming the case, calling support, handing it over, reminders."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.protocol.incident_view import IncidentView
from bot.protocol.status_updates import Update
from bot.texts.common import clock_time, duration, esc, mention, quoted, who
from models.incident import VALIDATING
from models.vocab import CheckState

__all__ = [
    "BUTTON_CLAIM",
    "BUTTON_CONTACTED",
    "BUTTON_HANDOVER",
    "BUTTON_MEANWHILE",
    "BUTTON_MESSAGE_LEFT",
    "BUTTON_NEWS",
    "BUTTON_NO_MESSAGE",
    "BUTTON_NO_REFERENCE",
    "HANDOVER_PROMPT",
    "MESSAGE_LEFT_QUESTION",
    "NEWS_HOW",
    "NOBODY_TO_HAND_OVER",
    "NO_MESSAGE_NOTED",
    "NO_REFERENCE_NOTED",
    "already_yours",
    "contingency_after",
    "contingency_answer",
    "contingency_line",
    "contingency_toast",
    "coordinator_panel",
    "escalation",
    "escalation_named",
    "handed_over",
    "message_left_line",
    "message_left_noted",
    "news_prompt",
    "nudge",
    "reference_prompt",
    "reference_saved",
    "status_update",
    "status_update_line",
    "support_contacted",
    "support_note_saved",
    "support_opened",
    "support_opened_news",
]


BUTTON_CLAIM = "🙋 Yo gestiono el reclamo"


BUTTON_CONTACTED = "📞 Soporte contactado"


BUTTON_HANDOVER = "🔁 Pasar coordinación"
BUTTON_NEWS = "📣 Contar novedades"
NEWS_HOW = (
    "Contale al equipo qué pasa: <code>/novedad Soporte reinicia el servidor, calcula 20 "
    "minutos</code>; al final podés poner cuándo das la próxima: <code>próxima 10:15</code>."
)


def news_prompt(user_id: int, name: str) -> str:
    return (
        f"📣 {mention(user_id, name)}, ¿qué les cuento a todos? Respondé a este mensaje "
        "(podés terminar con «próxima 10:15»)."
    )


def status_update(update: Update, tz: ZoneInfo) -> str:
    """News for every team chat: what is going on, and when the next news comes."""
    return (
        f"📣 <b>Novedades de FLEXUS</b> (incidente #{update.incident_id}, "
        f"{clock_time(update.at, tz)}): {quoted(update.text)}\n"
        f"Próxima novedad: {clock_time(update.next_at, tz)}"
    )


def status_update_line(update: Update, tz: ZoneInfo) -> str:
    """The card's line: the latest news and when the next is due."""
    return (
        f"📣 {clock_time(update.at, tz)}: {quoted(update.text, 160)} · próxima "
        f"{clock_time(update.next_at, tz)}"
    )


def coordinator_panel(
    view: IncidentView,
    block: str,
    support_open: bool,
    opening: str | None,
    tz: ZoneInfo,
    news: str | None = None,
) -> str:
    """The coordinator's one message, edited at each step: what is done, and the next step
    (its button is on the message). `news`: what just happened, on top."""
    lines = [f"🙋 <b>Gestionás el reclamo del incidente #{view.id}.</b>"]
    if news:
        lines.append(news)
    if view.support_contacted_at:
        if view.support_ref:
            ref = f" · Reclamo {esc(view.support_ref)}"
        else:
            ref = " · Sin número de reclamo"
        lines.append(
            f"✅ Soporte contactado a las {clock_time(view.support_contacted_at, tz)}{ref}"
        )
    elif view.support_message_left_at:
        lines.append(message_left_line(view, tz, opening))
    elif support_open:
        lines.append(block)
    else:  # when it opens is said once, in the next step
        lines.append(block.split("\n")[0])
    if view.access_granted_at:
        lines.append(
            f"✅ Acceso al servidor: {who(view.access_granted_by)} por {esc(view.access_tool)}"
        )
    elif view.access_requested_at:
        lines.append("⏳ Acceso al servidor: pedido a Gerencia (te aviso cuando responda).")
    validation = view.validation
    if validation is not None and view.status == VALIDATING:
        if validation.validated:
            lines.append("✅ Todos los sectores confirmaron que FLEXUS funciona.")
        else:
            done = sum(1 for c in validation.checks if c.state == CheckState.WORKS)
            lines.append(f"🔎 Validación: {done} de {len(validation.checks)} sectores confirmaron.")
    lines.append(f"👉 {_next_step(view, support_open, opening)}")
    return "\n".join(lines)


def _next_step(view: IncidentView, support_open: bool, opening: str | None) -> str:
    if not view.is_open:
        return "Listo: el aviso ya salió. Gracias."
    validation = view.validation
    if validation is not None and view.status == VALIDATING:
        if validation.validated:
            return "Ahora avisale a todos: tocá «📣 Avisar que FLEXUS volvió»."
        return (
            "Esperá que respondan los sectores. Si alguno no contesta, "
            "tocá «Seguir sin los que faltan»."
        )
    if view.support_contacted_at is None:
        if support_open:
            return "Llamá a soporte y, cuando hables, tocá «Soporte contactado»."
        if opening:
            return f"Soporte abre {opening}: te aviso para llamar."
        return "Cuando hables con soporte, tocá «Soporte contactado»."
    if view.access_requested_at and view.access_granted_at is None:
        return "Cuando soporte diga que está resuelto, tocá «Soporte terminó, validar»."
    return (
        "Si soporte pide entrar al servidor, tocá «Soporte necesita acceso»; "
        "cuando diga que está resuelto, «Soporte terminó, validar»."
    )


def message_left_line(view: IncidentView, tz: ZoneInfo, opening: str | None) -> str:
    """Support was closed and a message was left: not yet "soporte trabaja en el problema"."""
    at = clock_time(view.support_message_left_at, tz) if view.support_message_left_at else ""
    if opening:
        return f"📨 Se dejó mensaje a soporte a las {at}; abre {opening}."
    return f"📨 Se dejó mensaje a soporte a las {at}; falta hablar con soporte."


def already_yours(incident_id: int) -> str:
    return f"Ya gestionás el reclamo del incidente #{incident_id}."


def nudge(incident_id: int, down_for: timedelta, *, coordinated: bool, validated: bool) -> str:
    if validated:
        return (
            f"⏰ Todos los sectores confirmaron que FLEXUS funciona (incidente #{incident_id}). "
            "Falta el aviso: tocá «📣 Avisar que FLEXUS volvió»."
        )
    if coordinated:
        return (
            f"⏰ FLEXUS sigue caído hace {duration(down_for)} (incidente #{incident_id}). "
            "¿Novedades? Tocá el paso que sigue."
        )
    return (
        f"⏰ FLEXUS sigue caído hace {duration(down_for)} (incidente #{incident_id}) "
        "y nadie gestiona el reclamo. ¿Quién llama a soporte?"
    )


def support_opened(incident_id: int, block: str) -> str:
    return (
        f"📞 <b>Soporte ya atiende</b> (incidente #{incident_id}): hay que llamar ahora.\n{block}\n"
        "Cuando hables con soporte, tocá «Soporte contactado»."
    )


def support_opened_news(message_left: bool) -> str:
    if message_left:
        return "📞 <b>Soporte ya atiende.</b> Si no te llamaron por tu mensaje, llamá ahora."
    return "📞 <b>Soporte ya atiende:</b> llamá ahora."


def support_contacted(name: str, incident_id: int, reference: str | None, at: str) -> str:
    ref = f" Reclamo: {esc(reference)}." if reference else ""
    return f"📞 {who(name)} habló con soporte a las {at} (incidente #{incident_id}).{ref}"


def reference_prompt(user_id: int, name: str) -> str:
    return (
        f"{mention(user_id, name)}, ¿te dieron número de reclamo? "
        "Respondé a este mensaje con el número, o tocá «Sin número»."
    )


BUTTON_NO_REFERENCE = "Sin número"
NO_REFERENCE_NOTED = "Anotado: sin número de reclamo."


def support_note_saved(note: str) -> str:
    """A reply to the ticket question that holds no number: kept as a note, not as the claim."""
    return f"No vi un número en tu respuesta: la guardé como nota ({esc(note, 120)}). El reclamo queda sin número."


MESSAGE_LEFT_QUESTION = (
    "Soporte no atiende ahora. ¿Le dejaste un mensaje (contestador, WhatsApp o mail)?"
)
BUTTON_MESSAGE_LEFT = "📨 Sí, dejé mensaje"
BUTTON_NO_MESSAGE = "No, llamo cuando abra"
NO_MESSAGE_NOTED = "Bien: te aviso cuando abra soporte."


def message_left_noted(opening: str | None) -> str:
    when = f" Abre {opening}: te aviso para confirmar que te atendieron." if opening else ""
    return f"Anotado: dejaste mensaje a soporte.{when}"


NOBODY_TO_HAND_OVER = "No hay nadie más anotado a quien pasarle la coordinación."


def reference_saved(reference: str) -> str:
    return f"Anotado el reclamo {esc(reference)}."


HANDOVER_PROMPT = "¿A quién le pasás la coordinación?"


def handed_over(name: str, incident_id: int) -> str:
    return f"🔁 Ahora {who(name)} gestiona el reclamo del incidente #{incident_id}."


BUTTON_MEANWHILE = "📋 Qué hago mientras tanto"


def contingency_line(sector: str, instructions: str) -> str:
    """Under the "falla general" message, in a chat tied to a sector with instructions."""
    return f"\n📋 <b>Mientras tanto, {esc(sector)}:</b> {esc(instructions)}"


def contingency_answer(sector: str | None, sectors: dict[str, str]) -> str:
    """ "📋 Qué hago mientras tanto": the person's sector's instructions, or every sector's."""
    if sector is not None and sector in sectors:
        return f"📋 Mientras FLEXUS no anda ({esc(sector)}): {esc(sectors[sector])}"
    lines = ["📋 Mientras FLEXUS no anda:"]
    lines += [f"• <b>{esc(name)}:</b> {esc(text)}" for name, text in sectors.items()]
    return "\n".join(lines)


def contingency_toast(sector: str, instructions: str) -> str:
    """The same as a button's answer (plain text: a toast shows no formatting)."""
    return f"📋 Mientras FLEXUS no anda ({sector}): {instructions}"


def contingency_after(text: str) -> str:
    """Added to the all-clear in a chat tied to a sector with instructions."""
    return f"\n📋 {esc(text)}"


def escalation(incident_id: int, waiting: timedelta, support: str) -> str:
    """To an escalation contact: a general failure nobody took."""
    return (
        f"🚨 <b>Falla general de FLEXUS sin quien gestione el reclamo</b> (incidente #{incident_id}, "
        f"hace {duration(waiting)}).\n¿Lo tomás? Tocá «Yo gestiono el reclamo».\n{support}"
    )


def escalation_named(user_id: int, name: str, text: str) -> str:
    """The same in a team chat, naming the contact (they never opened a private chat)."""
    return f"{mention(user_id, name)}: {text}"
