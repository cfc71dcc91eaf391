"""Who may act: a member of at least one enabled team chat, as Telegram says, right now.

Telegram is asked (`getChatMember`) and the answer is kept for a few minutes; `chat_member`
updates and people joining or leaving a group keep it current in between. Having pressed a
button once, or having a row in `members`, proves nothing. Admins (ADMIN_USER_IDS) and
Gerencia contacts are always members. Anonymous group admins are no one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

log = logging.getLogger(__name__)

TTL_SECONDS = 300.0
# Questions to Telegram asked ahead (`ask_early`): at most this many under way (a burst of
# presses asks the rest in their steps), and an answer older than this is not taken.
EARLY_AT_ONCE = 16
EARLY_KEPT_SECONDS = 10.0
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
        # (user, chat pressed in) -> (the answer asked ahead, when)
        self._early: dict[tuple[int, int | None], tuple[asyncio.Task[bool], float]] = {}

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

    def ask_early(self, bot: Any, user_id: int, where: int | None = None) -> None:
        """A button pressed by someone whose membership must be asked to Telegram: ask now,
        while the press is stored and handed to its step, whose `is_member` then takes this
        answer instead of waiting for a round trip of its own. Nothing is decided here."""
        now = time.monotonic()
        for key, (_task, asked) in list(self._early.items()):
            if now - asked > EARLY_KEPT_SECONDS:  # its step never asked (e.g. a duplicate)
                del self._early[key]
        if len(self._early) >= EARLY_AT_ONCE or (user_id, where) in self._early:
            return
        if not self._to_ask(user_id, where, now)[1]:
            return
        task = asyncio.create_task(self._ask(bot, user_id, where), name="membership")
        task.add_done_callback(_retrieved)
        self._early[(user_id, where)] = (task, now)

    async def is_member(self, bot: Any, user_id: int, where: int | None = None) -> bool:
        """`where`: the chat the person acted in, asked first (a team chat, usually yes)."""
        early = self._early.pop((user_id, where), None)
        if early is not None and time.monotonic() - early[1] <= EARLY_KEPT_SECONDS:
            # Its answers are in what is known now, unless an update said otherwise since:
            # the step decides on what is known (asking only what is still not).
            await early[0]
        return await self._ask(bot, user_id, where)

    def _to_ask(self, user_id: int, where: int | None, now: float) -> tuple[bool, list[int]]:
        """(a member as far as is known, the team chats whose answer is not known)."""
        if user_id in ANONYMOUS_SENDERS:
            return False, []  # a stand-in for someone unknown is nobody
        if self.always(user_id):
            return True, []
        stale: list[int] = []
        chats = self.runtime.team_chat_ids
        if where in chats:
            chats = [where, *(c for c in chats if c != where)]
        for chat_id in chats:
            known = self._known.get((user_id, chat_id))
            if known is not None and now - known[1] < TTL_SECONDS:
                if known[0]:
                    return True, []
                continue
            stale.append(chat_id)
        return False, stale

    async def _ask(self, bot: Any, user_id: int, where: int | None) -> bool:
        known_member, stale = self._to_ask(user_id, where, time.monotonic())
        if known_member:
            return True
        for chat_id in stale:
            asked_at = time.monotonic()
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
            noted = self._known.get((user_id, chat_id))
            if noted is not None and noted[1] > asked_at:
                present = noted[0]  # an update said otherwise while the question was out
            else:
                self._known[(user_id, chat_id)] = (present, time.monotonic())
            if present:
                return True
        return False


def _retrieved(task: asyncio.Task[bool]) -> None:
    """An answer asked ahead whose step never came for it: its failure is not logged as
    never retrieved (the step that asks again logs its own)."""
    if not task.cancelled():
        task.exception()
