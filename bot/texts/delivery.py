"""The words the delivery worker writes itself, handed to it by the wiring (bot/serve.py)."""

from bot.texts.admin import alert_topic_gone, chat_unreachable, message_refused
from bot.texts.report import JOINED_NAMES_MAX, joined_many, joined_name, joined_one
from bot.transport.delivery.words import Words

__all__ = ["DELIVERY_WORDS"]

DELIVERY_WORDS = Words(
    joined_one=joined_one,
    joined_many=joined_many,
    joined_name=joined_name,
    joined_names_max=JOINED_NAMES_MAX,
    alert_topic_gone=alert_topic_gone,
    message_refused=message_refused,
    chat_unreachable=chat_unreachable,
)
