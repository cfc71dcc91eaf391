"""What the worker knows about each chat between rows (kept in memory; the database holds the
rest)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ChatState:
    unreachable: set[int] = field(default_factory=set)  # team chats that refuse the bot (403)
    blocked_until: dict[int, float] = field(default_factory=dict)  # chat -> monotonic end (429)
    cannot_pin: set[int] = field(default_factory=set)  # a pin was refused for want of rights
    reposting: set[int] = field(default_factory=set)  # card edits posting their card again
    wake: Callable[[], None] = lambda: None  # the worker looks at the outbox again
