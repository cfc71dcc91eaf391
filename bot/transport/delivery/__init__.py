"""The delivery worker: sends the outbox by priority, within Telegram's flood limits.

`worker` (the loop: what goes now, what an answer means) · `budget` (flood windows, lanes) ·
`rows` (the rows and the reads that choose them) · `calls` (the counted Bot API) · `posting`
(a new message, sent another way when refused) · `cards` (edits: folded, rendered when sent,
posted again) · `joined` (👍, and the late ones of a burst as one message) · `results` (what a
try did, written down) · `words` (what it writes, given by the wiring).
"""

from bot.transport.delivery.results import follow_migration
from bot.transport.delivery.words import Words
from bot.transport.delivery.worker import DeliveryWorker

__all__ = ["DeliveryWorker", "Words", "follow_migration"]
