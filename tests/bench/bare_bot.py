"""The baselines for bench_vs_bare, run by the benchmark, not by people.

- The bare bot: python-telegram-bot with the library's defaults; it echoes every message and
  answers every button.
- With BARE_DURABLE_SQLITE (a file): the same bot, but it keeps the one rule every update of
  FLEXUS Guardia follows (nothing is lost across a crash): each update is stored before it is
  handled and marked handled after, each in its own committed transaction, with Python's own
  `sqlite3` on the event loop's thread (WAL, synchronous=NORMAL, as the bot's database): the
  cheapest correct way, the floor this bot's figures are measured against.
- With BARE_DURABLE_URL (a SQLite URL): the same rule through the bot's own database layer
  (bot.storage.db, SQLAlchemy Core, no ORM): the floor as it was measured before, kept beside
  the other to show what the layer itself costs.
"""

from __future__ import annotations

import json
import os
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

STORE = "INSERT INTO updates (update_id, data, handled) VALUES (:id, :data, 0)"
MARK = "UPDATE updates SET handled = 1 WHERE update_id = :id"
CREATE = (
    "CREATE TABLE IF NOT EXISTS updates "
    "(update_id INTEGER PRIMARY KEY, data TEXT NOT NULL, handled INTEGER NOT NULL)"
)
engine: Any = None  # with BARE_DURABLE_URL only: the bare bot imports nothing of ours
stdlib: Any = None  # with BARE_DURABLE_SQLITE: a sqlite3 connection
statements: dict[str, Any] = {}


def _stdlib(sql: str, params: dict[str, Any]) -> None:
    """One committed transaction with the standard library, on the loop's thread."""
    assert stdlib is not None
    stdlib.execute("BEGIN IMMEDIATE")
    stdlib.execute(sql, params)
    stdlib.commit()


async def store(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    if stdlib is not None:
        _stdlib(STORE, {"id": update.update_id, "data": json.dumps(update.to_dict())})
        return
    async with engine.begin() as connection:
        await connection.execute(
            statements[STORE], {"id": update.update_id, "data": json.dumps(update.to_dict())}
        )


async def handled(update: Update) -> None:
    if stdlib is not None:
        _stdlib(MARK, {"id": update.update_id})
    elif engine is not None:
        async with engine.begin() as connection:
            await connection.execute(statements[MARK], {"id": update.update_id})


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(update.effective_message.text or "ok")
    await handled(update)


async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer("ok")
    await handled(update)


async def create_table(_app: Application) -> None:  # type: ignore[type-arg]
    async with engine.begin() as connection:
        await connection.execute(statements[CREATE])


def main() -> None:
    global engine
    root = os.environ["TELEGRAM_API_URL"].rstrip("/")
    builder = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
    )
    global stdlib
    durable = os.environ.get("BARE_DURABLE_URL")
    plain = os.environ.get("BARE_DURABLE_SQLITE")
    if plain:
        import sqlite3

        stdlib = sqlite3.connect(plain, isolation_level=None)
        stdlib.execute("PRAGMA journal_mode=WAL")
        stdlib.execute("PRAGMA synchronous=NORMAL")
        stdlib.execute(CREATE)
    elif durable:
        from sqlalchemy import text

        from bot.storage.db import make_engine

        engine = make_engine(durable)
        statements.update({sql: text(sql) for sql in (STORE, MARK, CREATE)})
        builder = builder.post_init(create_table)
    app = builder.build()
    if durable or plain:
        app.add_handler(TypeHandler(Update, store), group=-1)
    app.add_handler(CallbackQueryHandler(answer))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, echo))
    app.run_polling(drop_pending_updates=False, allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
