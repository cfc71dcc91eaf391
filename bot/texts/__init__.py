"""Every text a person reads, in Argentine Spanish. Formatting only: no decisions here.

One module per protocol step (and one each for what the steps share); everything is re-exported
here, so code says `texts.card(...)` wherever the words live. Texts for a stored vocabulary are
keyed by its models.vocab enum. All messages use Telegram's HTML parse mode, so every piece of user
text goes through `esc`.
"""

from bot.texts.access import *  # noqa: F403
from bot.texts.admin import *  # noqa: F403
from bot.texts.allclear import *  # noqa: F403
from bot.texts.checks import *  # noqa: F403
from bot.texts.common import *  # noqa: F403
from bot.texts.coordination import *  # noqa: F403
from bot.texts.delivery import *  # noqa: F403
from bot.texts.drills import *  # noqa: F403
from bot.texts.follow_ups import *  # noqa: F403
from bot.texts.history import *  # noqa: F403
from bot.texts.history import MEMORY_COMMANDS
from bot.texts.local import *  # noqa: F403
from bot.texts.maintenance import *  # noqa: F403
from bot.texts.refusals import *  # noqa: F403
from bot.texts.report import *  # noqa: F403
from bot.texts.support import *  # noqa: F403
from bot.texts.team import *  # noqa: F403
from bot.texts.team import PROTOCOL_COMMANDS
from bot.texts.validation import *  # noqa: F403
from bot.texts.votes import *  # noqa: F403

# The bot's command list (Telegram's menu): the protocol's commands, then the memory's.
COMMANDS = (*PROTOCOL_COMMANDS, *MEMORY_COMMANDS)
