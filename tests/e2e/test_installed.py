"""The package as it is deployed: a wheel built from this tree, installed (not editable) into a
fresh virtual environment with the locked dependencies, run from a folder with no source tree.

The Dockerfile installs exactly this way, so this is the test that the image can start.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.support.bot_process import GROUP_CAJA, TOKEN
from tests.support.fakebotapi import FakeBotAPI, command_update, user

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "models")
# Copied to build the wheel: what a clean clone has, nothing the checkout made.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "data"
)


def source_modules() -> list[str]:
    """Every module of the source tree, as it is named once installed."""
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(parts))
    return names


def migration_files() -> list[str]:
    """The migrations as the wheel must hold them: alembic/ becomes bot/migrations/."""
    files = [
        p for p in (ROOT / "alembic").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    return sorted("bot/migrations/" + p.relative_to(ROOT / "alembic").as_posix() for p in files)


def run(*args: str | Path, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A fresh virtual environment holding the locked dependencies and the built wheel: built
    once per test run, whichever test process asks first (the others wait for it and use it)."""
    if worker_id == "master":  # not under pytest-xdist
        return build_installed(tmp_path_factory.mktemp("installed"))
    shared = tmp_path_factory.getbasetemp().parent / "installed"
    shared.mkdir(exist_ok=True)
    with (shared / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / ".ready").exists():
            build_installed(shared)
            (shared / ".ready").touch()
    return shared


def build_installed(work: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    dist = work / "dist"
    run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", dist, source, cwd=work, env=env,
    )  # fmt: skip
    wheels = list(dist.glob("flexus_guardia-*.whl"))
    assert len(wheels) == 1
    venv = work / "venv"
    # No pip of its own (ensurepip costs seconds): this pip installs into it (`--python`).
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work, env=env)
    python = venv / "bin" / "python"
    lock = ROOT / "requirements.lock"
    pip = (sys.executable, "-m", "pip", "--python", python)
    # No byte-code at install (a minute of CPU for every file of every package): the installed
    # bot writes it for the modules it imports, on its first start (see installed_env).
    run(
        *pip, "install", "--quiet", "--no-compile", "--require-hashes", "-r", lock,
        cwd=work, env=env,
    )  # fmt: skip
    run(*pip, "install", "--quiet", "--no-deps", wheels[0], cwd=work, env=env)
    run(*pip, "check", cwd=work, env=env)
    shutil.rmtree(source)  # the copy it was built from is gone: only the installed package
    (work / "wheel").mkdir()
    shutil.copy(wheels[0], work / "wheel" / wheels[0].name)
    return work


def wheel_names(work: Path) -> set[str]:
    (wheel,) = (work / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def installed_env(work: Path, home: Path, api_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
        and not k.startswith(("TELEGRAM_", "FLEXUS_"))
    }
    env.update(
        PATH=f"{work / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        FLEXUS_HOME=str(home),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api_url,
        DATABASE_URL="sqlite:///data/flexus.db",
        TEAM_CHAT_IDS=str(GROUP_CAJA),
        TELEGRAM_GROUP_MSGS_PER_MINUTE="100000",
        TELEGRAM_MSGS_PER_SECOND="100000",
        PYTHONUNBUFFERED="1",
        PYTHONSAFEPATH="1",  # not even the working folder on sys.path
    )
    return env


def test_the_wheel_holds_every_module_the_migrations_and_the_protocol_file(
    installed: Path,
) -> None:
    names = wheel_names(installed)
    expected = {m.replace(".", "/") for m in source_modules()}
    modules = {n.removesuffix(".py").removesuffix("/__init__") for n in names if n.endswith(".py")}
    assert expected <= modules, f"missing from the wheel: {sorted(expected - modules)}"
    assert set(migration_files()) <= names, sorted(set(migration_files()) - names)
    assert "bot/protocol.toml" in names
    # Never a top-level "alembic" package: it would shadow the Alembic library.
    assert not any(n.startswith("alembic/") for n in names)


def test_the_installed_package_imports_migrates_checks_and_answers(
    installed: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    api = FakeBotAPI(TOKEN).start()
    api.default_member_status = "member"
    env = installed_env(installed, home, api.url)
    python = installed / "venv" / "bin" / "python"
    try:
        modules = [m for m in source_modules() if not m.startswith("bot.migrations")]
        code = (
            "import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    module = importlib.import_module(name)\n"
            f"    assert module.__file__.startswith({str(installed / 'venv')!r}), module.__file__\n"
            "import alembic, bot.storage.db\n"
            "assert alembic.__file__.endswith('site-packages/alembic/__init__.py'), alembic.__file__\n"
            "assert bot.storage.db.MIGRATIONS_DIR.name == 'migrations', bot.storage.db.MIGRATIONS_DIR\n"
            "print(len(sys.modules))\n"
        )
        run(python, "-c", code, cwd=home, env=env)
        upgraded = run("flexus-bot", "db", "upgrade", "--create", cwd=home, env=env)
        assert "database is up to date" in upgraded
        assert (home / "data" / "flexus.db").is_file()
        assert "configuration OK" in run("flexus-bot", "check", cwd=home, env=env)

        log = (tmp_path / "bot.log").open("wb")
        process = subprocess.Popen(
            ["flexus-bot", "run"], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            api.wait_for(lambda c: c.method == "getUpdates", timeout=60)
            api.push(command_update(GROUP_CAJA, user(101, "Ana"), "/soporte"))
            answer = api.wait_for(
                lambda c: c.method == "sendMessage" and "0351-5685000" in c.text, timeout=30
            )
            assert answer.chat_id == GROUP_CAJA
        finally:
            process.terminate()
            deadline = time.monotonic() + 20
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if process.poll() is None:
                process.kill()
            log.close()
        assert process.returncode == 0, (tmp_path / "bot.log").read_text()
    finally:
        api.stop()
