"""The import rules, read from the source with `ast`: no cycle between modules, and a core that depends on
no edge (`ferry` imports from `uploader`, `viewer`, `scanner` and `authorizer` only where it composes them).

Every import counts: at module level, inside functions, and under `TYPE_CHECKING`. The cycle rule holds for
the tools beside the product too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The product, and the tools beside it (the Genesys stand-in, the local stack, the benchmarks).
PACKAGES = (
    "ferry",
    "uploader",
    "viewer",
    "scanner",
    "authorizer",
    "genesys",
    "genesys_standin",
    "devstack",
    "bench",
)
EDGES_OF_THE_CORE = ("uploader", "viewer", "scanner", "authorizer")
# The app factory (create_app) and the worker's composition put the parts together.
COMPOSITION_MODULES = {"ferry", "ferry.worker"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported_names(name: str, path: Path, modules: set[str]) -> Iterator[str]:
    """The project modules `name` imports: the most specific module each import names (`from a import b`
    is a.b when that is a module, else a; `from a.b import C` is a.b)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        else:
            continue
        for imported in candidates:
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                yield imported


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = project_modules()
    return {name: set(imported_names(name, path, set(modules))) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_graph_sees_module_and_function_level_imports() -> None:
    # Guards the reader: an empty or partial graph would make the rules below pass for nothing.
    graph = import_graph()
    assert "ferry.config" in graph["authorizer.handler"]  # module level
    assert {"uploader", "viewer"} <= graph["ferry"]  # inside create_app
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules() -> None:
    assert cycles(import_graph()) == []


def test_the_core_imports_no_edge_outside_its_composition() -> None:
    crossing = {
        name: sorted(t for t in targets if t.split(".")[0] in EDGES_OF_THE_CORE)
        for name, targets in import_graph().items()
        if name.split(".")[0] == "ferry" and name not in COMPOSITION_MODULES
    }
    assert {name: targets for name, targets in crossing.items() if targets} == {}


def test_the_genesys_client_imports_nothing_of_the_app() -> None:
    reaching = {
        name: sorted(t for t in targets if t.split(".")[0] != "genesys")
        for name, targets in import_graph().items()
        if name.split(".")[0] == "genesys"
    }
    assert {name: targets for name, targets in reaching.items() if targets} == {}
