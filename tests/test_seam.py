"""The page/core seam: core never imports streamlit; pages never import the heavy runtimes.

Presentation lives in ui/: core returns values (arrays, spans, dataclasses) and never imports
a charting library or builds HTML; pages draw through ui/ and hold neither Altair nor HTML.
"""

from __future__ import annotations

import ast
import re
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
UI_FILES = sorted((ROOT / "ui").rglob("*.py"))
# Markup that draws: tags, escaping for HTML, or raw HTML handed to Markdown.
HTML_BUILDING = re.compile(
    r"<(?:span|div|mark|b|br|p|table|tr|td|th|code|small|ul|li|a|img|style)[\s>/]"
    r"|html\.escape|unsafe_allow_html"
)


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_never_imports_streamlit(path: Path) -> None:
    assert "streamlit" not in imported_roots(path)


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_never_draws(path: Path) -> None:
    """No charting library, no ui, no HTML module, and no HTML written as text."""
    assert not imported_roots(path) & {"altair", "ui", "html", "matplotlib", "plotly"}
    assert HTML_BUILDING.findall(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_pages_draw_through_ui(path: Path) -> None:
    """Charts come from ui.charts and HTML from ui.markup: a page holds neither."""
    assert "altair" not in imported_roots(path)
    assert HTML_BUILDING.findall(path.read_text(encoding="utf-8")) == []


def test_the_drawing_rule_catches_html_and_charts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('import altair as alt\nimport html\nX = f"<span>{html.escape(t)}</span>"\n')
    assert {"altair", "html"} <= imported_roots(bad)
    assert len(HTML_BUILDING.findall(bad.read_text())) == 2
    assert HTML_BUILDING.findall('st.markdown("**ok**")\nx = a < b') == []


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


MARKDOWN_ELEMENTS = {"markdown", "caption", "info", "warning", "error", "success", "toast"}


def markdown_fed_a_value(path: Path) -> list[str]:
    """Calls of a Markdown element whose text is a variable, not the lab's own words.

    A literal or f-string is the lab's text (its values are reviewed: numbers, or wrapped in
    ``plain``); a bare value (``st.warning(note)``, ``st.error(str(exc))``) may be user or
    document text and must go through ``components.say`` instead. CONSTANTS are the lab's.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        if getattr(node.func, "attr", "") not in MARKDOWN_ELEMENTS:
            continue
        if not labs_words(node.args[0]):
            found.append(f"{path.name}:{node.lineno}")
    return found


def labs_words(node: ast.expr) -> bool:
    """A literal, an f-string, a CONSTANT, or a sum or choice of these."""
    if isinstance(node, ast.BinOp):
        return labs_words(node.left) and labs_words(node.right)
    if isinstance(node, ast.IfExp):
        return labs_words(node.body) and labs_words(node.orelse)
    if isinstance(node, ast.Constant | ast.JoinedStr):
        return True
    return getattr(node, "attr", getattr(node, "id", "")).isupper()


@pytest.mark.parametrize("path", PAGE_FILES + UI_FILES, ids=lambda p: p.name)
def test_markdown_elements_get_the_labs_words_only(path: Path) -> None:
    assert markdown_fed_a_value(path) == []


def test_the_markdown_rule_catches_a_value(tmp_path: Path) -> None:
    bad = tmp_path / "page.py"
    bad.write_text(
        'st.warning(note)\nst.error(str(exc))\nst.info("ok")\nst.caption(C.HELP)\n'
        'st.markdown("- " + s)\nst.markdown("a" + f"{n:.2f}")\n'
    )
    assert markdown_fed_a_value(bad) == ["page.py:1", "page.py:2", "page.py:5"]
