"""The migration stairway: every revision upgrades, downgrades and upgrades again cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.script import ScriptDirectory

from bot.db import alembic_config, downgrade_database, upgrade_database


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("select name from sqlite_master where type='table'").fetchall()
    return {name for (name,) in rows} - {"alembic_version"}


def test_stairway_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "stairway.db"
    url = f"sqlite+aiosqlite:///{path}"
    script = ScriptDirectory.from_config(alembic_config(url))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations found"
    for revision in revisions:
        upgrade_database(url, revision.revision)
        downgrade_database(url, revision.down_revision or "base")
        upgrade_database(url, revision.revision)
    assert {"incidents", "votes", "reports", "members", "events", "timers"} <= _tables(path)
    downgrade_database(url, "base")
    assert _tables(path) == set()


def test_upgrade_creates_the_data_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "flexus.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    assert path.exists()
