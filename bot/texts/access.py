"""Step 6: server access through Gerencia."""

from __future__ import annotations

from bot.texts.common import esc, mention, who

__all__ = [
    "ACCESS_THANKS",
    "BUTTON_ACCESS",
    "access_escalated",
    "access_granted",
    "access_in_group",
    "access_no_answer",
    "access_request",
    "access_requested",
    "granted_button",
]


BUTTON_ACCESS = "🖥️ Soporte necesita acceso al servidor"


def granted_button(tool: str) -> str:
    return f"Acceso otorgado por {tool}"


def access_request(
    incident_id: int, contact: str, coordinator: str | None, tools: list[str], reminder: int
) -> str:
    again = f"🔁 Recordatorio {reminder}: " if reminder else ""
    coordinated = f"\nCoordina: {who(coordinator)}." if coordinator else ""
    return (
        f"🖥️ {again}<b>Soporte de FLEXUS necesita entrar al servidor</b> (incidente #{incident_id}).\n"
        f"La única PC con acceso es la de Gerencia: {who(contact)}, abrí "
        f"{esc(' o '.join(tools))} y dale el acceso a soporte.{coordinated}\n"
        "Cuando lo hayas dado, tocá el botón."
    )


def access_in_group(
    incident_id: int,
    contacts: list[tuple[int, str]],
    tools: list[str],
    bot_username: str,
    reminder: int,
) -> str:
    named = ", ".join(mention(uid, name) if uid else who(name) for uid, name in contacts)
    again = f"🔁 Recordatorio {reminder}: " if reminder else ""
    text = (
        f"🖥️ {again}{named}: <b>soporte necesita acceso al servidor</b> desde la PC de Gerencia "
        f"(incidente #{incident_id}), por {esc(' o '.join(tools))}."
    )
    one = len(contacts) == 1
    if any(uid for uid, _ in contacts):
        if one:
            text += (
                f"\nNo te pude escribir en privado: abrí @{esc(bot_username)} y tocá «Iniciar» "
                "para que pueda avisarte."
            )
        else:
            text += (
                f"\nNo les pude escribir en privado: abran @{esc(bot_username)} y toquen "
                "«Iniciar» para que pueda avisarles."
            )
    elif one:
        text += "\nAvisale en persona o por teléfono; quien coordina toca el botón cuando esté."
    else:
        text += "\nAvisales en persona o por teléfono; quien coordina toca el botón cuando esté."
    return text


def access_requested(names: list[str]) -> str:
    return (
        f"Pedí acceso a Gerencia ({', '.join(who(n, 60) for n in names)}). Te aviso cuando lo den."
    )


def access_escalated(names: list[str]) -> str:
    return (
        f"⚠️ Gerencia no respondió: también le pedí acceso a {', '.join(who(n, 60) for n in names)}."
    )


def access_no_answer(contacts: list[tuple[str, str]]) -> str:
    """Every repeat went unanswered: the coordinator phones. `contacts`: (name, phone)."""
    if len(contacts) == 1:
        name, phone = contacts[0]
        call = f"Llamalo al <b>{esc(phone)}</b>." if phone else "Llamalo por teléfono."
        return f"⚠️ {who(name)} (Gerencia) no respondió al pedido de acceso al servidor. {call}"
    phones = [f"{who(n)}: <b>{esc(p)}</b>" for n, p in contacts if p]
    call = "Llamalos: " + " · ".join(phones) + "." if phones else "Llamalos por teléfono."
    return f"⚠️ Gerencia no respondió al pedido de acceso al servidor. {call}"


def access_granted(name: str, tool: str, incident_id: int, at: str) -> str:
    return f"🖥️ {who(name)} dio acceso al servidor por {esc(tool)} a las {at} (incidente #{incident_id})."


ACCESS_THANKS = "Gracias: le avisé a quien coordina."
