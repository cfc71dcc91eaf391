"""The layering that can be checked, checked over the source's imports (lazy ones included):
no import goes round in a circle, and nothing below the wiring imports the Telegram handlers."""

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


def test_the_scan_sees_the_project() -> None:
    graph = imports()
    assert len(graph) > 80
    assert "bot.config" in graph["bot.support_window"]
    assert "handlers.cards" in graph["bot.app"]


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
