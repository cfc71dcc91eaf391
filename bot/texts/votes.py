"""Step 3: the confirmation poll on the alert card."""

from __future__ import annotations

from models.vocab import VoteChoice

__all__ = [
    "BUTTON_FAILS",
    "BUTTON_WORKS",
    "CLOSED_VOTE",
    "VOTE_BUTTONS",
    "VOTE_FAILS",
    "VOTE_NOTED",
    "VOTE_SAME",
    "VOTE_WORKS",
]


BUTTON_FAILS = "A mí también me falla"


BUTTON_WORKS = "A mí me funciona"


VOTE_BUTTONS = {VoteChoice.FAILS: BUTTON_FAILS, VoteChoice.WORKS: BUTTON_WORKS}


VOTE_FAILS = "Anotado: a vos también te falla."


VOTE_WORKS = "Anotado: a vos te funciona."


VOTE_NOTED = {VoteChoice.FAILS: VOTE_FAILS, VoteChoice.WORKS: VOTE_WORKS}


VOTE_SAME = "Ya tenías esa respuesta."


CLOSED_VOTE = "Esta votación ya cerró: el incidente está cerrado."
