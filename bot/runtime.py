"""What every handler and job needs, built once at start-up and kept in application.bot_data."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config, Protocol
from bot.support_window import SupportStatus, support_status_at


@dataclass
class Runtime:
    config: Config
    engine: AsyncEngine
    session: async_sessionmaker[AsyncSession]
    clock: Clock

    @property
    def protocol(self) -> Protocol:
        return self.config.protocol

    @property
    def tz(self) -> ZoneInfo:
        return self.protocol.support.tz

    @property
    def team_chat_ids(self) -> list[int]:
        return self.config.settings.team_chat_ids

    def is_team_chat(self, chat_id: int) -> bool:
        return chat_id in self.config.settings.team_chat_ids

    def chat_sector(self, chat_id: int) -> str | None:
        return self.protocol.team.chat_sectors.get(chat_id)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.config.settings.admin_user_ids

    def support_now(self) -> SupportStatus:
        return support_status_at(self.clock.now(), self.protocol.support)
