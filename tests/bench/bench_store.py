"""Benchmark (prints figures, asserts nothing): what storing one update, and recording that
one message went out, cost the event loop.

    .venv/bin/python -m tests.bench.bench_store [--updates 1000] [--rounds 3]

On a fresh SQLite database (migrated), in this process, each through a session (as on
PostgreSQL) and straight on SQLite's driver (bot.storage.direct, as the bot does on SQLite),
alternately, `--updates` of each per round:
- the intake's store of one button press, committed (`inbox.store` / `inbox.store_now`);
- a reply's outcome once sent (its outbox row marked sent, committed: the delivery worker's
  `set_row` in a session / its one UPDATE straight on the driver).
CPU time of the process (time.process_time) per update or message: the loop's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.storage.direct import Direct
from bot.transport import inbox, outbox
from bot.transport.delivery import rows
from models import OutboxMessage
from models.delivery import PENDING, SENT

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PENDING_IDS = select(OutboxMessage.id).where(OutboxMessage.status == PENDING)
PRESS = {
    "callback_query": {
        "id": "1",
        "from": {"id": 5, "is_bot": False, "first_name": "Ana"},
        "data": "v:1:w",
        "message": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "supergroup"}},
    }
}


async def measure(url: str, updates: int, rounds: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    direct = Direct.of(engine, sessions)
    update_id = 0
    try:
        for round_ in range(rounds):
            started = time.process_time()
            for _ in range(updates):
                update_id += 1
                async with sessions() as session:
                    await inbox.store(session, [{"update_id": update_id, **PRESS}], NOW)
                    await session.commit()
            through_session = (time.process_time() - started) / updates
            started = time.process_time()
            for _ in range(updates):
                update_id += 1
                await inbox.store_now(direct, [{"update_id": update_id, **PRESS}], NOW)
            straight = (time.process_time() - started) / updates
            print(
                f"round {round_ + 1}, storing an update: through a session "
                f"{through_session * 1e6:.0f} µs, straight on the driver {straight * 1e6:.0f} µs"
            )
            async with sessions() as session:
                for n in range(2 * updates):
                    outbox.send(session, -100, f"respuesta {n}", priority=outbox.CHATTER, now=NOW)
                await session.commit()
                ids = list((await session.scalars(PENDING_IDS)).all())
            sent = {"status": SENT, "done_at": NOW, "message_id": 7, "duplicate_risk": False}
            started = time.process_time()
            for row_id in ids[:updates]:
                async with sessions() as session:
                    await session.execute(
                        update(OutboxMessage).where(OutboxMessage.id == row_id).values(**sent)
                    )
                    await session.commit()
            through_session = (time.process_time() - started) / updates
            started = time.process_time()
            for row_id in ids[updates:]:
                await direct.write_each(rows.SET_ROW, [{"row_id": row_id, **sent}])
            straight = (time.process_time() - started) / updates
            print(
                f"round {round_ + 1}, a reply marked sent: through a session "
                f"{through_session * 1e6:.0f} µs, straight on the driver {straight * 1e6:.0f} µs"
            )
    finally:
        direct.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'flexus.db'}"
    upgrade_database(url)
    asyncio.run(measure(url, args.updates, args.rounds))


if __name__ == "__main__":
    main()
