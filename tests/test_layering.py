"""The layers: which package may import which, no import cycles, one configuration module.

Data flows one way, files -> documents -> chunks -> vectors -> index -> hits -> charts, and
the imports follow it: a package imports only the packages of lower layers (never a sibling
of the same layer, never a higher one). Imports inside functions count too: a lazy import
is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Layer of each unit (a package, or a module of the foundation); higher may import lower.
LAYERS: dict[str, int] = {
    "core": 0,  # only its empty __init__: every module below sits in a unit of its own
    "core.config": 0,
    "core.errors": 0,
    "core.atomic": 0,
    "core.model": 1,
    "core.documents": 1,
    "core.storage": 2,
    "core.ingest": 3,
    "core.search": 3,
    "core.explain": 4,
    "core.cli_tools": 5,
    "core.cli": 6,
    "core.__main__": 7,
    "ui": 8,
    "pages": 9,
    "app": 9,
    "measure": 10,
}
# The foundation modules may import one another (config raises errors).
FOUNDATION = {"core.config", "core.errors", "core.atomic"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str | None:
    """The unit of LAYERS a dotted module belongs to (the longest prefix), or None."""
    for unit in sorted(LAYERS, key=len, reverse=True):
        if module == unit or module.startswith(unit + "."):
            return unit
    return None


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every project import in a file, lazy ones included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # from core.storage import collection -> a module
                yield node.lineno, f"{node.module}.{alias.name}"


def project_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for folder in ("core", "ui", "pages", "measure"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def known_modules() -> set[str]:
    return {module_name(p) for p in project_files()}


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    known = known_modules()
    edges: dict[str, set[str]] = {}
    for path in project_files():
        edges[module_name(path)] = {m for _, m in imports_of(path) if m in known}
    return edges


def upward_imports(path: Path) -> list[str]:
    """Imports from ``path`` that reach a higher layer or a sibling of the same layer."""
    here = unit_of(module_name(path))
    assert here is not None, f"{path} is in no layer: add it to LAYERS"
    wrong = []
    for line, target in imports_of(path):
        there = unit_of(target)
        if there is None or there == here:
            continue
        if here in FOUNDATION and there in FOUNDATION:
            continue
        if LAYERS[there] >= LAYERS[here]:
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return wrong


def test_every_core_module_has_its_own_layer() -> None:
    loose = [m for m in known_modules() if unit_of(m) == "core" and m != "core"]
    assert loose == []


@pytest.mark.parametrize("path", project_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_reach_lower_layers(path: Path) -> None:
    assert upward_imports(path) == []


def test_the_layer_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The rule itself: a storage module importing search, and search importing ingest, fail."""
    bad = ROOT / "core" / "storage" / "_layering_probe.py"
    sibling = ROOT / "core" / "search" / "_layering_probe.py"
    try:
        bad.write_text("from core.search.query import search\n")
        sibling.write_text("def f():\n    from core.ingest import pipeline\n")
        assert upward_imports(bad) == [
            "core/storage/_layering_probe.py:1 imports core.search.query",
            "core/storage/_layering_probe.py:1 imports core.search.query.search",
        ]
        assert upward_imports(sibling) == [
            "core/search/_layering_probe.py:2 imports core.ingest",
            "core/search/_layering_probe.py:2 imports core.ingest.pipeline",
        ]
    finally:
        bad.unlink(missing_ok=True)
        sibling.unlink(missing_ok=True)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    edges = graph()
    # A package's __init__ is not an edge to its modules: "from core.storage import x"
    # imports core.storage.x, which the graph holds directly.
    assert find_cycle(edges) is None


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def env_reads(path: Path) -> list[int]:
    """Lines where ``path`` reads an ``EMBEDLAB_*`` variable (setting one is not reading)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        name = None
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("get", "getenv", "pop"):
                name = node.args[0].value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.slice, ast.Constant)
            and "environ" in ast.unparse(node.value)
        ):
            name = node.slice.value
        if isinstance(name, str) and name.startswith("EMBEDLAB_"):
            lines.append(node.lineno)
    return lines


def test_embedlab_variables_are_read_only_in_config() -> None:
    readers = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in project_files()
        if path != ROOT / "core" / "config.py"
        for line in env_reads(path)
    ]
    assert readers == []


def test_no_module_is_named_like_the_standard_library() -> None:
    clashes = [
        str(p.relative_to(ROOT)) for p in project_files() if p.stem in sys.stdlib_module_names
    ]
    assert clashes == []
