"""Who may act: a member of at least one enabled team chat, as Telegram says, right now.

Telegram is asked (`getChatMember`) and the answer is kept for a few minutes; `chat_member`
updates and people joining or leaving a group keep it current in between. Having pressed a
button once, or having a row in `members`, proves nothing. Admins (ADMIN_USER_IDS) and
Gerencia contacts are always members. Anonymous group admins are no one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

log = logging.getLogger(__name__)

TTL_SECONDS = 300.0
# Telegram's stand-ins: anonymous group admins, a linked channel, service messages.
GROUP_ANONYMOUS_BOT = 1087968824
ANONYMOUS_SENDERS = {GROUP_ANONYMOUS_BOT, 136817688, 777000}
_IN_CHAT = {
    ChatMemberStatus.OWNER,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.MEMBER,
}


def in_chat(status: str, is_member: bool | None = None) -> bool:
    """A restricted user is in the chat only while `is_member` says so."""
    if status == ChatMemberStatus.RESTRICTED:
        return bool(is_member)
    return status in _IN_CHAT


class Membership:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}  # (user, chat) -> (in, when)

    def note(self, user_id: int, chat_id: int, present: bool) -> None:
        """What an update showed: someone wrote in the chat, joined it, left it, was removed."""
        if not self.runtime.is_team_chat(chat_id):
            return
        before = self._known.get((user_id, chat_id), (None, 0.0))[0]
        self._known[(user_id, chat_id)] = (present, time.monotonic())
        if before and not present and self.known_outsider(user_id):
            log.info("user %s is no longer in any team chat: no longer a member", user_id)

    def always(self, user_id: int) -> bool:
        protocol = self.runtime.protocol
        return self.runtime.is_admin(user_id) or any(
            c.telegram_id == user_id for c in protocol.gerencia
        )

    def known_outsider(self, user_id: int) -> bool:
        """Known (from updates or recent answers) to be in no team chat at all."""
        if self.always(user_id):
            return False
        answers = [self._known.get((user_id, c)) for c in self.runtime.team_chat_ids]
        return bool(answers) and all(a is not None and not a[0] for a in answers)

    async def is_member(self, bot: Any, user_id: int, where: int | None = None) -> bool:
        """`where`: the chat the person acted in, asked first (a team chat, usually yes)."""
        if user_id in ANONYMOUS_SENDERS:
            return False  # a stand-in for someone unknown is nobody
        if self.always(user_id):
            return True
        now = time.monotonic()
        stale: list[int] = []
        chats = self.runtime.team_chat_ids
        if where in chats:
            chats = [where, *(c for c in chats if c != where)]
        for chat_id in chats:
            known = self._known.get((user_id, chat_id))
            if known is not None and now - known[1] < TTL_SECONDS:
                if known[0]:
                    return True
                continue
            stale.append(chat_id)
        for chat_id in stale:
            try:
                member = await bot.get_chat_member(chat_id, user_id)
            except TelegramError as exc:
                log.info("membership check in chat %s failed: %s", chat_id, exc)
                # Telegram in trouble: an earlier yes still counts, a guess does not.
                known = self._known.get((user_id, chat_id))
                if known is not None and known[0]:
                    return True
                continue
            present = in_chat(member.status, getattr(member, "is_member", None))
            self._known[(user_id, chat_id)] = (present, time.monotonic())
            if present:
                return True
        return False
