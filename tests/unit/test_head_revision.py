"""Start-up skips Alembic when the database is at the newest migration: that newest migration is
written down once in bot/storage/db.py, and must be Alembic's own head."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.storage.db import HEAD_REVISION, head_revision


def test_the_newest_migration_written_down_is_alembics_head() -> None:
    assert HEAD_REVISION == head_revision(), (
        "a migration was added: set HEAD_REVISION in bot/storage/db.py to its revision"
    )


def test_a_start_on_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'flexus.db'}"
    code = (
        "import sys; from bot.storage.db import prepare_database; "
        f"prepare_database({url!r}, create=True, wait_seconds=5); "
        "print('alembic' in sys.modules)"
    )
    run = [sys.executable, "-c", code]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert first.stdout.strip() == "True"  # a new database: migrated
    again = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert again.stdout.strip() == "False"
