"""The layering that can be checked, checked over the source's imports (lazy ones included):
no import goes round in a circle; `bot.core` imports nothing else of the project; the transport
knows neither the protocol nor its words; nothing below the wiring imports the Telegram handlers;
and bot/ itself holds only the wiring, every other module in the sub-package of its concern."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = ("bot", "handlers", "models")
WIRING = {"bot.app"}  # builds the application: the one place that registers the handlers


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports() -> dict[str, set[str]]:
    """Module -> the project's modules it imports, wherever the import stands."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    dotted = f"{node.module}.{alias.name}"
                    if dotted in known:
                        found.add(dotted)
                    elif node.module in known:
                        found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name in known}
        found.discard(name)
        graph[name] = found
    return graph


def reached(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for imported in graph.get(todo.pop(), ()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def test_the_scan_sees_the_project() -> None:
    graph = imports()
    assert len(graph) > 80
    assert "bot.core.config" in graph["bot.support.hours"]
    assert "handlers.kit.cards" in graph["bot.app"]


def test_no_import_goes_round_in_a_circle() -> None:
    graph = imports()
    circles: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circles.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            # A package importing its own submodules (bot.texts) is how it re-exports them.
            if not imported.startswith(module + "."):
                visit(imported, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert circles == []


def test_services_and_models_never_import_the_handlers() -> None:
    graph = imports()
    wrong = sorted(
        (module, imported)
        for module, found in graph.items()
        if module.startswith(("bot", "models")) and module not in WIRING
        for imported in found
        if imported.startswith("handlers")
    )
    assert wrong == []


def test_core_imports_nothing_else_of_the_project() -> None:
    graph = imports()
    wrong = sorted(
        (module, imported)
        for module, found in graph.items()
        if module.startswith("bot.core")
        for imported in found
        if not imported.startswith("bot.core")
    )
    assert wrong == []


def test_the_transport_knows_neither_the_protocol_nor_its_words() -> None:
    """Not even through another module: the words it writes come in with the row, or from the
    wiring (`texts.DELIVERY_WORDS`)."""
    graph = imports()
    transport = [m for m in graph if m.startswith("bot.transport")]
    assert len(transport) > 10
    wrong = sorted(
        (module, imported)
        for module in transport
        for imported in reached(graph, module)
        if imported.startswith(("bot.protocol", "bot.texts", "handlers"))
    )
    assert wrong == []


def test_bot_holds_only_the_wiring_at_its_top() -> None:
    top = sorted(p.stem for p in (ROOT / "bot").glob("*.py"))
    assert top == ["__init__", "__main__", "app", "cli", "runtime", "serve"]
    packages = sorted(p.name for p in (ROOT / "bot").iterdir() if (p / "__init__.py").exists())
    assert packages == [
        "core",
        "ops",
        "protocol",
        "reports",
        "storage",
        "support",
        "team",
        "texts",
        "timers",
        "transport",
    ]


SERVICES = (
    "bot/protocol",
    "bot/team",
    "bot/timers/store.py",
    "bot/reports",
    "bot/support/hours.py",
)


def test_services_never_end_a_transaction() -> None:
    """One owner for each transaction: the step (or the test) commits or rolls back, never a
    service. A savepoint (`unit_of_work.savepoint`) is how a service undoes its own writes."""
    wrong = []
    for place in SERVICES:
        path = ROOT / place
        for source in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                called = node.func if isinstance(node, ast.Call) else None
                if isinstance(called, ast.Attribute) and called.attr in ("commit", "rollback"):
                    wrong.append(f"{source.relative_to(ROOT)}:{node.lineno} {called.attr}()")
    assert wrong == []


def test_no_test_module_imports_another() -> None:
    """What tests and benchmarks share lives in tests/support (and fixtures in conftests): a
    test module imported by another would run its tests twice and hide where a helper lives."""
    wrong = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.startswith("tests.") and n.split(".")[-1].startswith("test_") for n in names):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert wrong == []


def test_savepoints_are_opened_by_the_step_only() -> None:
    """A savepoint opened by hand would keep the step's deferred rows written inside it when
    it is undone, or lose those deferred before it: bot.storage.unit_of_work.savepoint (and
    the step's scope, built on it) handles both; nothing else calls `begin_nested`."""
    wrong = []
    for place in ("bot", "handlers"):
        for source in sorted((ROOT / place).rglob("*.py")):
            if source == ROOT / "bot/storage/unit_of_work.py":
                continue
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                called = node.func if isinstance(node, ast.Call) else None
                if isinstance(called, ast.Attribute) and called.attr == "begin_nested":
                    wrong.append(f"{source.relative_to(ROOT)}:{node.lineno}")
    assert wrong == []
