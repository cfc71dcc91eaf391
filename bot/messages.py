"""The bot's own messages about an incident (IncidentMessage): which one a person answered.

The delivery worker records each message as Telegram takes it (see bot.delivery); here the
protocol reads them back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import IncidentMessage


async def prompt_of(
    session: AsyncSession, *, chat_id: int, message_id: int
) -> IncidentMessage | None:
    """The bot message a person replied to, if it was one of the bot's questions."""
    return await session.scalar(
        select(IncidentMessage).where(
            IncidentMessage.chat_id == chat_id, IncidentMessage.message_id == message_id
        )
    )
