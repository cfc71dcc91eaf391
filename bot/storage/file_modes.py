"""Files that hold the team's data and secrets: private to the bot's user, and checked.

The SQLite database (and its -wal/-shm companions) is created 0600 in a 0700 folder: incident
reports name people and what they wrote. `flexus-bot check` warns about looser modes and about
a `.env` (it holds the token) that others on the machine can read.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_COMPANIONS = ("", "-wal", "-shm", "-journal")


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser()


def prepare_private_folder(url: str) -> None:
    """Create the database's folder 0700 (and tighten the files already in it)."""
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=FOLDER_MODE, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is masked by the umask
    protect_database_files(url)


def protect_database_files(url: str) -> None:
    """Make the database file and its companions 0600 (after they exist)."""
    path = sqlite_path(url)
    if path is None:
        return
    for suffix in _COMPANIONS:
        candidate = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(candidate.stat().st_mode) & 0o077:
                os.chmod(candidate, FILE_MODE)


def mode_warnings(url: str, env_file: Path | None) -> list[str]:
    """One line per file others on this machine can read (or write), in the operator's Spanish."""
    lines: list[str] = []
    path = sqlite_path(url)
    if path is not None:
        for target, wanted in ((path.parent, FOLDER_MODE), (path, FILE_MODE)):
            mode = _mode(target)
            if mode is not None and mode & 0o077:
                lines.append(
                    f"{target} tiene permisos {mode:o}: otros usuarios de la máquina pueden "
                    f"leerlo. Corregí con: chmod {wanted:o} {target}"
                )
    if env_file is not None:
        # Group read is fine (root:flexus 0640 under systemd); the rest of the machine is not.
        mode = _mode(env_file)
        if mode is not None and mode & 0o007:
            lines.append(
                f"{env_file} (tiene el token) tiene permisos {mode:o}: otros usuarios pueden "
                f"leerlo. Corregí con: chmod 600 {env_file}"
            )
    return lines


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
