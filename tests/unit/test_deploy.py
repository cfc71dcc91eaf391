"""Deployment files and repeatable installs: what this machine's tools can check."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "flexus-guardia.service"


def _unit() -> dict[str, dict[str, list[str]]]:
    """The unit as systemd reads it: sections of keys, a key may repeat (Environment=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_unit_has_what_a_service_needs() -> None:
    unit = _unit()
    assert set(unit) == {"Unit", "Service", "Install"}
    service = {key: values[-1] for key, values in unit["Service"].items()}
    assert service["Restart"] == "always"
    assert service["User"] == "flexus"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    home = service["WorkingDirectory"]
    assert f"FLEXUS_HOME={home}" in unit["Service"]["Environment"]
    assert service["ExecStart"].endswith("flexus-bot run")
    writable = service["ReadWritePaths"].split()
    assert f"{home}/data" in writable and f"{home}/backups" in writable
    assert service["StandardOutput"] == "journal"
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at this checkout's flexus-bot.
    text = UNIT.read_text(encoding="utf-8")
    real = Path(sys.executable).parent / "flexus-bot"
    assert real.exists()
    copy = tmp_path / "flexus-guardia.service"
    copy.write_text(re.sub(r"ExecStart=\S+", f"ExecStart={real}", text), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # Unknown keys or values are only warned about: none may be there.
    assert result.stderr.strip() == "" and result.stdout.strip() == ""


def test_dockerfile_is_small_non_root_with_data_volume_and_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert 'VOLUME ["/data"]' in text and "FLEXUS_HOME=/data" in text
    assert re.search(r"^HEALTHCHECK .*", text, re.M) and "/healthz" in text
    assert "--require-hashes -r /tmp/requirements.lock" in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", "data", ".git"} <= set(ignored)


def test_dockerfile_installs_the_built_wheel_and_keeps_no_source() -> None:
    """As tests/e2e/test_installed.py does: a wheel, not an editable install, and the final
    image holds no source tree (so nothing can be imported from one)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2, "a stage that builds the wheel, and the image"
    build, image = stages
    assert "pip wheel --no-deps --wheel-dir /wheels ." in build
    assert "COPY alembic ./alembic" in build  # the migrations go into the wheel
    assert "COPY --from=wheel /wheels" in image
    assert re.search(r"pip install --no-deps /tmp/wheels/\*\.whl", image)
    assert " -e " not in text and "--editable" not in text
    copied = re.findall(r"^COPY (?!--from)(\S+)", image, re.M)
    assert copied == ["requirements.lock"], copied


def test_compose_starts_the_bot_once_postgresql_is_healthy() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    db, bot = compose["services"]["db"], compose["services"]["bot"]
    assert db["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.startswith("pgdata:") for v in db["volumes"]) and "pgdata" in compose["volumes"]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert bot["restart"] == "always" and any(v.endswith(":/data") for v in bot["volumes"])


def _pyproject() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return {"requirements.lock": runtime, "requirements-dev.lock": runtime + dev}


def _pins(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", lock.read_text(encoding="utf-8"), re.M)
    return {canonicalize_name(name): version for name, version in pins}


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_lock_matches_pyproject(lock: str) -> None:
    """Every dependency in pyproject.toml is pinned in the lock, within its range, with hashes;
    a dependency added to (or narrowed in) pyproject.toml without `make lock` fails here."""
    text = (ROOT / lock).read_text(encoding="utf-8")
    pins = _pins(ROOT / lock)
    for requirement in _pyproject()[lock]:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock}: {name} is missing: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock}: {name}=={pins[name]} is outside {requirement.specifier}: run `make lock`"
        )
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 6)[-1])
    assert all("--hash=sha256:" in b for b in blocks if "==" in b)
    dev_only = {canonicalize_name(r.name) for r in _pyproject()["requirements-dev.lock"]} - {
        canonicalize_name(r.name) for r in _pyproject()["requirements.lock"]
    }
    if lock == "requirements.lock":
        assert not dev_only & set(pins), "the runtime lock must not carry the dev tools"


def _make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    for name in ("Makefile", "pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return subprocess.run(
        ["make", "-n", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_make_rebuilds_a_venv_made_by_an_old_python(tmp_path: Path) -> None:
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    # A stand-in for a Python 3.9 interpreter: prints its version, fails the 3.11 check.
    fake.write_text("#!/bin/sh\necho 3.9\nexit 1\n")
    fake.chmod(0o755)
    result = _make(tmp_path, "run")
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if "rebuilding it" in line]
    assert said == [
        "make: .venv was made by Python 3.9 (or it no longer runs); FLEXUS needs 3.11+: "
        "rebuilding it"
    ]
    assert not (tmp_path / ".venv").exists()
    assert "-m venv .venv" in result.stdout  # and make goes on to build a new one


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_make_keeps_a_good_venv_and_installs_from_the_lock(tmp_path: Path) -> None:
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    result = _make(tmp_path, "run")
    assert "rebuilding" not in result.stdout + result.stderr
    assert (tmp_path / ".venv").exists()
    assert "install --require-hashes -r requirements.lock" in result.stdout
    assert "install --no-deps -e ." in result.stdout


def test_compose_has_a_standby_copy_on_the_same_database_under_its_own_name() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    bot, standby = compose["services"]["bot"], compose["services"]["bot-standby"]
    assert standby["profiles"] == ["standby"]
    assert standby["environment"]["DATABASE_URL"] == bot["environment"]["DATABASE_URL"]
    assert standby["environment"]["TELEGRAM_BOT_TOKEN"] == bot["environment"]["TELEGRAM_BOT_TOKEN"]
    assert standby["environment"]["COPY_NAME"] != bot["environment"]["COPY_NAME"]
    assert standby["depends_on"]["db"]["condition"] == "service_healthy"
    assert standby["restart"] == "always" and standby["volumes"] != bot["volumes"]
