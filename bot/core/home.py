"""FLEXUS_HOME: the one folder that holds `.env`, `data/` and the protocol file.

Found the same way whatever folder a command starts in (a systemd unit, cron, another shell):
FLEXUS_HOME if set; else the folder of the first `.env` found in the working folder, then in
the project folder; else the working folder (and every command says so in its first lines).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
ENV_FILE = ".env"
PROTOCOL_FILE = "protocol.toml"


class HomeError(Exception):
    """FLEXUS_HOME names a folder that is not there."""


@dataclass(frozen=True)
class Home:
    folder: Path
    env_file: Path | None  # the .env that was read, if any
    found_by: str  # how the folder was chosen, said in the commands' first lines

    def resolve(self, path: str | Path) -> Path:
        """A path from the settings: relative ones are inside the home folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.folder / candidate

    @property
    def protocol_file(self) -> Path | None:
        """`protocol.toml` in the home folder, if there is one."""
        candidate = self.folder / PROTOCOL_FILE
        return candidate if candidate.is_file() else None


def find_home(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Home:
    environ = os.environ if environ is None else environ
    cwd = (cwd or Path.cwd()).resolve()
    explicit = environ.get("FLEXUS_HOME", "").strip()
    if explicit:
        folder = Path(explicit).expanduser()
        folder = folder if folder.is_absolute() else cwd / folder
        if not folder.is_dir():
            raise HomeError(f"FLEXUS_HOME: the folder {folder} does not exist")
        env_file = folder / ENV_FILE
        return Home(folder.resolve(), env_file if env_file.is_file() else None, "FLEXUS_HOME")
    for folder, where in ((cwd, "the working folder"), (PROJECT_DIR, "the project folder")):
        if (folder / ENV_FILE).is_file():
            return Home(folder, folder / ENV_FILE, f".env found in {where}")
    return Home(cwd, None, "no .env found: the working folder")
