"""The baselines for bench_vs_bare, run by the benchmark, not by people.

- The bare bot: python-telegram-bot with the library's defaults; it echoes every message and
  answers every button.
- With BARE_DURABLE_URL (a SQLite URL): the same bot, but it keeps the one rule every update of
  FLEXUS Guardia follows (nothing is lost across a crash): each update is stored before it is
  handled and marked handled after, each in its own committed transaction, through the same
  database layer as the bot (bot.storage.db, SQLAlchemy Core, no ORM). The least any bot with that rule
  does: the floor under this bot's figures.
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
statements: dict[str, Any] = {}


async def store(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            statements[STORE], {"id": update.update_id, "data": json.dumps(update.to_dict())}
        )


async def handled(update: Update) -> None:
    if engine is not None:
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
    durable = os.environ.get("BARE_DURABLE_URL")
    if durable:
        from sqlalchemy import text

        from bot.storage.db import make_engine

        engine = make_engine(durable)
        statements.update({sql: text(sql) for sql in (STORE, MARK, CREATE)})
        builder = builder.post_init(create_table)
    app = builder.build()
    if durable:
        app.add_handler(TypeHandler(Update, store), group=-1)
    app.add_handler(CallbackQueryHandler(answer))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, echo))
    app.run_polling(drop_pending_updates=False, allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
