"""The benchmark scripts in tests/bench (run by hand, never by the suite) still import and read
their options: a figure in the README must stay reproducible with the command shown there."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted(
    p.stem for p in (Path(__file__).parents[1] / "bench").glob("*.py") if p.stem != "__init__"
)


def test_every_script_is_listed() -> None:
    assert {"bench_vs_bare", "bench_reports", "bench_no_sector", "chaos_kill"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", [s for s in SCRIPTS if s != "bare_bot"])
def test_a_benchmark_answers_help(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = importlib.import_module(f"tests.bench.{name}")
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_the_baseline_bot_imports_without_the_bot() -> None:
    """The bare bot must stay bare: importing it loads nothing of this project or SQLAlchemy
    (the floor loads them only when BARE_DURABLE_URL is set)."""
    code = (
        "import sys; import tests.bench.bare_bot; "
        "bad = [m for m in sys.modules if m == 'bot' or m.startswith(('bot.', 'sqlalchemy'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_statements_are_counted_by_kind_and_table() -> None:
    from tests.bench.bench_statements import statement_kind

    assert statement_kind("SELECT a.x FROM members WHERE 1") == "SELECT members"
    assert statement_kind("INSERT INTO votes (a) VALUES (?)") == "INSERT votes"
    assert statement_kind("UPDATE inbox_updates SET status=?") == "UPDATE inbox_updates"
    assert statement_kind("BEGIN IMMEDIATE") == "BEGIN IMMEDIATE"
    assert statement_kind("RELEASE SAVEPOINT sa_savepoint_1") == "RELEASE SAVEPOINT"
    assert statement_kind("SAVEPOINT sa_savepoint_1") == "SAVEPOINT"
