"""The bot's own messages about an incident (IncidentMessage): which one a person answered.

The delivery worker records each message as Telegram takes it (see bot.transport.delivery.worker); here the
protocol reads them back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import IncidentMessage
from models.vocab import MessageKind


async def prompt_of(
    session: AsyncSession, *, chat_id: int, message_id: int
) -> IncidentMessage | None:
    """The bot message a person replied to, if it was one of the bot's questions."""
    return await session.scalar(
        select(IncidentMessage).where(
            IncidentMessage.chat_id == chat_id, IncidentMessage.message_id == message_id
        )
    )


async def panels_shown(session: AsyncSession, incident_id: int) -> list[tuple[int, int]]:
    """(chat, message) of every coordinator's panel of this incident sent so far."""
    rows = await session.execute(
        select(IncidentMessage.chat_id, IncidentMessage.message_id).where(
            IncidentMessage.incident_id == incident_id,
            IncidentMessage.kind == MessageKind.PANEL,
            IncidentMessage.message_id.is_not(None),
        )
    )
    return [(chat_id, message_id) for chat_id, message_id in rows.all()]
