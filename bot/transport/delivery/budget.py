"""Telegram's flood limits as the worker counts them: 30 requests a second overall, 20 a minute
per group, with each lane leaving room for the lanes that matter more."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import IntEnum

from models.vocab import Priority


class Lane(IntEnum):
    """Where a row waits for the budget. The three priorities are lanes of their own (same
    values, so a priority is its lane); an answer a person waits for (a reply, a question: chatter
    that sends a message) and card edits (they fold, so they can always yield) are two more."""

    CRITICAL = Priority.CRITICAL
    NEWS = Priority.NEWS
    CHATTER = Priority.CHATTER
    ANSWER = 10
    EDIT = 11


# From what matters most to what matters least.
LANES: tuple[Lane, ...] = (Lane.CRITICAL, Lane.NEWS, Lane.ANSWER, Lane.EDIT, Lane.CHATTER)
# Share of a group's budget (per minute) each lane leaves free for the lanes before it. Card
# edits stop at 12 a minute (they fold: the card shows the state a little later), leaving 5
# for news and answers: a person's question never waits a minute behind the card.
RESERVE: dict[Lane, int] = {
    Lane.CRITICAL: 0,
    Lane.NEWS: 2,
    Lane.ANSWER: 3,
    Lane.EDIT: 8,
    Lane.CHATTER: 8,
}
# Share of the overall rate (per second) kept free the same way: an alert never waits a second
# behind a burst of 👍 reactions.
SECOND_RESERVE: dict[Lane, float] = {
    Lane.CRITICAL: 0.0,
    Lane.NEWS: 0.1,
    Lane.ANSWER: 0.15,
    Lane.EDIT: 0.2,
    Lane.CHATTER: 0.2,
}
UNDER_WAY_POLL = 0.02  # seconds: how often a request waiting on the budget looks again


class Budget:
    """Rolling windows: `per_second` requests overall, `group_per_minute` per group chat.

    Telegram counts a request at the moment it arrives, somewhere between the moment it was
    sent and the moment its answer came back. So a request counts in a window from when it is
    sent until one window after its answer (while it is under way it counts for sure): no
    request can then be in Telegram's window unless it is in ours, whatever the latency.
    Times are the worker's monotonic seconds.
    """

    def __init__(self, per_second: int, group_per_minute: int) -> None:
        self.per_second, self.group_per_minute = max(1, per_second), max(1, group_per_minute)
        self._all: list[Slot] = []
        self._groups: defaultdict[int, list[Slot]] = defaultdict(list)

    def wait(self, chat_id: int, lane: Lane, now: float, *, posts: bool = True) -> float:
        """Seconds until a request of this lane may go to this chat (0: now).

        `posts`: the request puts something in the chat (a message, an edit, a pin) and uses
        the group's 20-a-minute budget; a reaction does not, only the overall rate."""
        self._all = _recent(self._all, now, 1.0)
        share = 1.0 - SECOND_RESERVE.get(lane, 0.0)
        wait = _until_room(self._all, max(1, int(self.per_second * share)), now, 1.0)
        if chat_id < 0 and posts:
            window = self._groups[chat_id] = _recent(self._groups[chat_id], now, 60.0)
            cap = max(1, self.group_per_minute - RESERVE.get(lane, 0))
            wait = max(wait, _until_room(window, cap, now, 60.0))
        return max(0.0, wait)

    def room(self, chat_id: int, lane: Lane, now: float) -> int:
        """How many more messages of this lane the group's minute takes now."""
        window = self._groups[chat_id] = _recent(self._groups[chat_id], now, 60.0)
        return max(0, self.group_per_minute - RESERVE.get(lane, 0) - len(window))

    def take(self, chat_id: int, now: float, *, posts: bool = True) -> Slot:
        """Count a request sent now; `settle` it when its answer arrives."""
        slot = Slot(now)
        self._all.append(slot)
        if chat_id < 0 and posts:
            self._groups[chat_id].append(slot)
        return slot

    @staticmethod
    def settle(slot: Slot, now: float) -> None:
        slot.answered = now


@dataclass
class Slot:
    sent: float
    answered: float = float("inf")  # still under way: it counts in every window
    used: bool = False  # a slot taken when a row is chosen is used by its first request

    def release(self) -> None:
        """The row made no request after all (folded, unchanged): it counts nowhere."""
        if not self.used:
            self.answered = float("-inf")


def _recent(slots: list[Slot], now: float, window: float) -> list[Slot]:
    return [s for s in slots if now - s.answered < window]


def _until_room(slots: list[Slot], cap: int, now: float, window: float) -> float:
    """Seconds until fewer than `cap` of `slots` count (a short poll if some are under way)."""
    if len(slots) < cap:
        return 0.0
    ends = sorted(s.answered for s in slots)
    end = ends[len(slots) - cap]
    return UNDER_WAY_POLL if end == float("inf") else end + window - now
