"""The page/core seam: core never imports streamlit; pages never import the heavy runtimes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "transformers", "sentence_transformers", "faiss", "sklearn"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


CORE_FILES = sorted((ROOT / "core").rglob("*.py"))
PAGE_FILES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
UI_FILES = sorted((ROOT / "ui").glob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_never_imports_streamlit(path: Path) -> None:
    assert "streamlit" not in imported_roots(path)


@pytest.mark.parametrize("path", PAGE_FILES + UI_FILES, ids=lambda p: p.name)
def test_pages_never_import_heavy_runtimes(path: Path) -> None:
    assert not imported_roots(path) & HEAVY


def test_only_resources_owns_cache_resource() -> None:
    def uses(path: Path) -> bool:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        return any(
            isinstance(n, ast.Attribute) and n.attr in ("cache_resource", "cache_data")
            for n in ast.walk(tree)
        )

    owners = [p.name for p in PAGE_FILES + UI_FILES + CORE_FILES if uses(p)]
    assert owners == ["resources.py"]


def test_every_widget_has_a_key() -> None:
    widgets = {
        "text_input",
        "text_area",
        "selectbox",
        "multiselect",
        "slider",
        "button",
        "checkbox",
        "file_uploader",
        "radio",
        "number_input",
        "toggle",
    }
    for path in PAGE_FILES + UI_FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in widgets:
                keys = [k.arg for k in node.keywords]
                assert "key" in keys, f"{path.name}:{node.lineno} widget without key="


def test_no_pickle_in_core() -> None:
    for path in CORE_FILES:
        assert "pickle" not in imported_roots(path), path.name
