"""Every inline button the bot shows, one frozen dataclass each: its data, packed and parsed here.

Telegram carries at most 64 bytes of data per button, so a button's data is compact:
`prefix:field:field`, with database ids. Buttons on messages already posted keep working only if
the format never changes, so a prefix and its fields are fixed once a button has been shown.
`parse` returns None for anything that is not exactly this button (old, forged or cut data),
and each handler registers with `pattern()`, so the prefix is written once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Generic, Self, TypeVar

from telegram import InlineKeyboardButton

from models.vocab import CHECKLIST_CAUSES, LocalCause, VoteChoice

T = TypeVar("T")
DATA_LIMIT = 64  # bytes, Telegram's limit for callback_data


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How one field is written in the data: a regex for it, and both directions."""

    regex: str
    pack: Callable[[T], str]
    parse: Callable[[str], T]
    samples: tuple[T, ...]  # the smallest and largest values (or every value): for the tests

    @property
    def meta(self) -> dict[str, Any]:
        """A button's field is declared as `name: type = field(metadata=CODEC.meta)`."""
        return {"codec": self}


def number(digits: int) -> Codec[int]:
    return Codec(rf"\d{{1,{digits}}}", str, int, (0, 10**digits - 1))


def letters(words: dict[T, str]) -> Codec[T]:
    """A field with a few values, each written as a short word."""
    values = {word: value for value, word in words.items()}
    regex = "|".join(re.escape(word) for word in words.values())
    return Codec(f"(?:{regex})", words.__getitem__, values.__getitem__, tuple(words))


ID = number(9)  # a database id
YES_NO: Codec[bool] = letters({True: "y", False: "n"})
VOTE_CHOICE = letters({VoteChoice.FAILS: "f", VoteChoice.WORKS: "w"})
CHECKLIST_CAUSE = letters({cause: cause.value for cause in CHECKLIST_CAUSES})


class Button:
    """A button's data. Subclasses are frozen dataclasses; each field names its Codec."""

    prefix: ClassVar[str]
    _compiled: ClassVar[re.Pattern[str] | None] = None

    def __init_subclass__(cls, *, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.prefix = prefix
        cls._compiled = None

    @classmethod
    def codecs(cls) -> list[tuple[str, Codec[Any]]]:
        return [(f.name, f.metadata["codec"]) for f in fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def pattern(cls) -> str:
        """What the handler registers: every data with this prefix reaches it (and is parsed)."""
        return rf"^{re.escape(cls.prefix)}:"

    @classmethod
    def _regex(cls) -> re.Pattern[str]:
        if cls._compiled is None:
            parts = [re.escape(cls.prefix), *(f"({c.regex})" for _, c in cls.codecs())]
            cls._compiled = re.compile(":".join(parts))
        return cls._compiled

    def pack(self) -> str:
        values = (codec.pack(getattr(self, name)) for name, codec in self.codecs())
        return ":".join([self.prefix, *values])

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        match = cls._regex().fullmatch(data or "")
        if match is None:
            return None
        values = zip(cls.codecs(), match.groups(), strict=True)
        return cls(**{name: codec.parse(text) for (name, codec), text in values})

    def key(self, label: str) -> InlineKeyboardButton:
        """The button as Telegram shows it."""
        return InlineKeyboardButton(label, callback_data=self.pack())


def every_button() -> Iterable[type[Button]]:
    return Button.__subclasses__()


# --- in protocol order ---------------------------------------------------------------------


@dataclass(frozen=True)
class LateReport(Button, prefix="lr"):
    """Step 1, a /caido the bot read long after it was written: "Sí, sigue fallando" / "Ya
    funciona". It names the stored update (the report itself is read back from the inbox)."""

    update_id: int = field(metadata=number(12).meta)
    still_fails: bool = field(metadata=YES_NO.meta)


@dataclass(frozen=True)
class MaintenanceReport(Button, prefix="mr"):
    """Step 1 during planned maintenance: "Es otra cosa: reportar igual". It names the stored
    /caido (read back from the inbox) and the window it was held for."""

    update_id: int = field(metadata=number(12).meta)
    window_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class Vote(Button, prefix="v"):
    """Step 3, on the alert card: "A mí también me falla" / "A mí me funciona"."""

    incident_id: int = field(metadata=ID.meta)
    choice: VoteChoice = field(metadata=VOTE_CHOICE.meta)


@dataclass(frozen=True)
class FoundLocalCause(Button, prefix="l"):
    """Step 4, the reporter's checklist: what they found (or "ya me funciona")."""

    incident_id: int = field(metadata=ID.meta)
    cause: LocalCause = field(metadata=CHECKLIST_CAUSE.meta)


@dataclass(frozen=True)
class Escalate(Button, prefix="e"):
    """Step 4: "Revisé todo y sigue fallando" / "Llamar a soporte igual"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class Claim(Button, prefix="y"):
    """Step 5: "Yo gestiono el reclamo"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class Contacted(Button, prefix="sc"):
    """Step 5, the coordinator's panel: "Soporte contactado"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class SupportMessage(Button, prefix="sm"):
    """Step 5, "Soporte contactado" pressed while support is closed: "¿Dejaste mensaje?"."""

    incident_id: int = field(metadata=ID.meta)
    left: bool = field(metadata=YES_NO.meta)


@dataclass(frozen=True)
class NoReference(Button, prefix="nr"):
    """Step 5, on "¿te dieron número de reclamo?": "Sin número"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class HandoverMenu(Button, prefix="ho"):
    """Step 5, the coordinator's panel: "Pasar coordinación" (then a button per person)."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class Meanwhile(Button, prefix="qh"):
    """Step 4, under "falla general": "📋 Qué hago mientras tanto" (answered to the presser)."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class TellNews(Button, prefix="nw"):
    """Steps 5–7, the coordinator's panel: "📣 Contar novedades" (then they reply with it)."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class HandoverTo(Button, prefix="hu"):
    """Step 5: the person the coordination is passed to."""

    incident_id: int = field(metadata=ID.meta)
    user_id: int = field(metadata=number(15).meta)


@dataclass(frozen=True)
class RequestAccess(Button, prefix="ax"):
    """Step 6, the coordinator's panel: "Soporte necesita acceso al servidor"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class GrantAccess(Button, prefix="ag"):
    """Step 6, to Gerencia: "Acceso otorgado por <tool>" (the tool's place in the protocol)."""

    incident_id: int = field(metadata=ID.meta)
    tool: int = field(metadata=number(1).meta)


@dataclass(frozen=True)
class StartValidation(Button, prefix="va"):
    """Step 7, the coordinator's panel: "Soporte terminó, validar"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class SectorAnswer(Button, prefix="vq"):
    """Step 7: "¿FLEXUS funciona en tu sector?" ✅ / ❌, for one validation round."""

    incident_id: int = field(metadata=ID.meta)
    round: int = field(metadata=number(4).meta)
    works: bool = field(metadata=YES_NO.meta)


@dataclass(frozen=True)
class GoOnWithout(Button, prefix="vo"):
    """Step 7: "Seguir sin los que faltan"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class SkipReason(Button, prefix="sk"):
    """Step 7: why the team goes on without the silent sectors (the reason's place in
    bot.texts.SKIP_REASONS; the last one, "Otro motivo", asks for a typed one)."""

    incident_id: int = field(metadata=ID.meta)
    reason: int = field(metadata=number(1).meta)


@dataclass(frozen=True)
class AllClear(Button, prefix="ac"):
    """Step 8, the coordinator's panel: "📣 Avisar que FLEXUS volvió" (as /resuelto)."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class RestartAnswer(Button, prefix="rs"):
    """Step 8: "¿Hay que reiniciar sesión?" yes / no (this sends the all-clear)."""

    incident_id: int = field(metadata=ID.meta)
    restart: bool = field(metadata=YES_NO.meta)


@dataclass(frozen=True)
class Acknowledge(Button, prefix="ok"):
    """Step 8, on the all-clear: "Entendido"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class FollowUpDone(Button, prefix="fd"):
    """On a follow-up's reminder and in /pendientes: "✅ Hecho"."""

    follow_up_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class SkipCause(Button, prefix="cz"):
    """After the all-clear, under "¿Qué dijo soporte que pasó?": "Saltar"."""

    incident_id: int = field(metadata=ID.meta)


@dataclass(frozen=True)
class ChooseSector(Button, prefix="s"):
    """/sector: the sector's place in the protocol's list."""

    index: int = field(metadata=number(2).meta)
