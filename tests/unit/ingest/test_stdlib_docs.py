"""Tests for core.ingest.stdlib_docs (stdlib docstring corpus built via ast, no imports)."""

from __future__ import annotations

import ast
import json
import logging
import sys
import textwrap
from pathlib import Path

import pytest

from core.ingest.stdlib_docs import (
    StdlibEntry,
    format_arguments,
    iter_stdlib_entries,
    stdlib_dir,
    stdlib_records,
    write_stdlib_jsonl,
)

LONG = "This docstring is comfortably longer than forty characters."

RECORD_KEYS = {"id", "title", "text", "module", "kind", "path"}


@pytest.fixture(scope="module")
def real_entries() -> list[StdlibEntry]:
    """All entries from the real installed stdlib (computed once)."""
    return list(iter_stdlib_entries())


@pytest.fixture(scope="module")
def real_by_id(real_entries: list[StdlibEntry]) -> dict[str, StdlibEntry]:
    """Real entries keyed by id."""
    return {e.id: e for e in real_entries}


def _write(root: Path, rel: str, source: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        path.write_text(textwrap.dedent(source), encoding="utf-8")


@pytest.fixture()
def fake_stdlib(tmp_path: Path) -> Path:
    """A tiny stdlib-like tree exercising every inclusion/exclusion rule."""
    root = tmp_path / "lib"
    _write(root, "pkg/__init__.py", f'"""Package pkg. {LONG}"""\n')
    _write(
        root,
        "pkg/mod.py",
        f'''
        """Module pkg.mod. {LONG}"""

        class Widget(Base, metaclass=Meta):
            """Widget class. {LONG}"""

            def __init__(self, x):
                """Init docstring. {LONG}"""

            def spin(self, speed, /, turns=1, *args, clockwise=True, label, **kw):
                """Spin the widget. {LONG}"""

                def inner():
                    """Nested function, must be ignored. {LONG}"""

            def _hidden(self):
                """Private method, must be ignored. {LONG}"""

            def tiny(self):
                """Too short."""

            def nodoc(self):
                return 1

        def _private_helper():
            """Private function, must be ignored. {LONG}"""

        def build(name, *, size=("a very long default value that exceeds thirty chars")):
            """Build something. {LONG}"""

            def nested():
                """Nested function, must be ignored. {LONG}"""

        async def fetch(url):
            """Fetch a URL. {LONG}"""

        def short():
            """Short doc."""

        if CONDITION:
            def build(other):
                """Second conditional definition, must be dropped. {LONG}"""
        else:
            def platform_only():
                """Conditionally defined function. {LONG}"""
        ''',
    )
    _write(root, "pkg/broken.py", f'"""Broken module. {LONG}"""\ndef oops(:\n')
    _write(root, "pkg/_private.py", f'"""Private module. {LONG}"""\n')
    _write(root, "pkg/test/__init__.py", f'"""Test package. {LONG}"""\n')
    _write(root, "pkg/tests/test_x.py", f'"""Test module. {LONG}"""\n')
    _write(root, "test/regr.py", f'"""Regression tests. {LONG}"""\n')
    _write(root, "idlelib/editor.py", f'"""IDLE editor. {LONG}"""\n')
    _write(root, "lib2to3/main.py", f'"""lib2to3 main. {LONG}"""\n')
    _write(root, "ensurepip/__init__.py", f'"""ensurepip. {LONG}"""\n')
    _write(root, "turtledemo/clock.py", f'"""Turtle demo. {LONG}"""\n')
    _write(root, "tkinter/test/support.py", f'"""Tk test support. {LONG}"""\n')
    _write(root, "site-packages/thirdparty.py", f'"""Third party. {LONG}"""\n')
    _write(root, "__pycache__/cached.py", f'"""Cached. {LONG}"""\n')
    _write(root, "__main__.py", f'"""Dunder main. {LONG}"""\n')
    _write(root, "_pyfast.py", f'"""Private top-level module. {LONG}"""\n')
    _write(root, "config-3.11/python-config.py", f'"""Not importable. {LONG}"""\n')
    _write(root, "notes.txt", f'"""Not python. {LONG}"""\n')
    _write(root, "zeta.py", f'"""Latin-1 bytes \xe9 here. {LONG}"""\n'.encode("latin-1"))
    _write(root, "alpha.py", "'''Short module doc.'''\n")
    return root


# --- real stdlib ------------------------------------------------------------------------------


def test_stdlib_dir_contains_json() -> None:
    assert (stdlib_dir() / "json" / "__init__.py").is_file()


def test_real_corpus_is_large(real_entries: list[StdlibEntry]) -> None:
    assert len(real_entries) > 1000
    kinds = {e.kind for e in real_entries}
    assert kinds == {"module", "class", "function", "method"}


def test_json_dumps_entry(real_by_id: dict[str, StdlibEntry]) -> None:
    entry = real_by_id["json.dumps"]
    assert entry.kind == "function"
    assert entry.module == "json"
    assert entry.path == "json/__init__.py"
    assert entry.title == "json.dumps (function)"
    assert "Serialize" in entry.text
    header = entry.text.splitlines()[0]
    assert header.startswith("dumps(obj, *, skipkeys=False")
    assert header.endswith("**kw)")


def test_json_decoder_method_entry(real_by_id: dict[str, StdlibEntry]) -> None:
    entry = real_by_id["json.decoder.JSONDecoder.decode"]
    assert entry.kind == "method"
    assert entry.module == "json.decoder"
    assert entry.title == "json.decoder.JSONDecoder.decode (method)"
    assert entry.text.splitlines()[0].startswith("decode(self, s")
    assert real_by_id["json.decoder.JSONDecoder"].kind == "class"
    assert real_by_id["json"].kind == "module"


def test_real_ids_unique(real_entries: list[StdlibEntry]) -> None:
    ids = [e.id for e in real_entries]
    assert len(ids) == len(set(ids))


def test_real_entries_exclude_tests_private_and_tools(real_entries: list[StdlibEntry]) -> None:
    banned = {"test", "tests", "idlelib", "lib2to3", "ensurepip", "turtledemo", "site-packages"}
    for entry in real_entries:
        parts = Path(entry.path).parts
        assert not banned.intersection(parts), entry.path
        assert not any(p.startswith("_") and p != "__init__.py" for p in parts), entry.path
        assert not any(p.startswith("_") for p in entry.id.split(".")), entry.id
        assert entry.id.startswith(entry.module)
        assert entry.title == f"{entry.id} ({entry.kind})"
        assert not Path(entry.path).is_absolute()


def test_real_docstrings_long_enough(real_entries: list[StdlibEntry]) -> None:
    for entry in real_entries:
        header, _, doc = entry.text.partition("\n")
        assert header.strip()
        assert len(doc) >= 40, entry.id


def test_real_run_deterministic(real_entries: list[StdlibEntry]) -> None:
    assert list(iter_stdlib_entries()) == real_entries


def test_side_effect_modules_not_imported() -> None:
    for name in ("antigravity", "this", "turtle"):
        sys.modules.pop(name, None)
    modules = {r["module"] for r in stdlib_records()}
    assert {"antigravity", "turtle"} <= modules
    for name in ("antigravity", "this", "turtle"):
        assert name not in sys.modules


def test_stdlib_records_limit_and_keys(real_entries: list[StdlibEntry]) -> None:
    records = stdlib_records(limit=25)
    assert len(records) == 25
    assert all(set(r) == RECORD_KEYS for r in records)
    assert [r["id"] for r in records] == [e.id for e in real_entries[:25]]
    assert stdlib_records(limit=0) == []
    with pytest.raises(ValueError):
        stdlib_records(limit=-1)


# --- synthetic tree ---------------------------------------------------------------------------


def test_fake_tree_exact_entries(fake_stdlib: Path) -> None:
    entries = list(iter_stdlib_entries(fake_stdlib))
    assert [(e.id, e.kind, e.path) for e in entries] == [
        ("pkg", "module", "pkg/__init__.py"),
        ("pkg.mod", "module", "pkg/mod.py"),
        ("pkg.mod.Widget", "class", "pkg/mod.py"),
        ("pkg.mod.Widget.spin", "method", "pkg/mod.py"),
        ("pkg.mod.build", "function", "pkg/mod.py"),
        ("pkg.mod.fetch", "function", "pkg/mod.py"),
        ("pkg.mod.platform_only", "function", "pkg/mod.py"),
        ("zeta", "module", "zeta.py"),
    ]


def test_fake_tree_texts_and_headers(fake_stdlib: Path) -> None:
    by_id = {e.id: e for e in iter_stdlib_entries(fake_stdlib)}
    assert by_id["pkg"].text == f"module pkg\nPackage pkg. {LONG}"
    assert by_id["pkg.mod.Widget"].text.splitlines()[0] == "class Widget(Base)"
    spin = by_id["pkg.mod.Widget.spin"]
    assert spin.text == (
        "spin(self, speed, /, turns=1, *args, clockwise=True, label, **kw)\n"
        f"Spin the widget. {LONG}"
    )
    assert spin.module == "pkg.mod"
    assert spin.title == "pkg.mod.Widget.spin (method)"
    build = by_id["pkg.mod.build"]
    header = build.text.splitlines()[0]
    default = header.split("size=", 1)[1].rstrip(")")
    assert len(default) == 30 and default.endswith("...")
    assert "Build something." in build.text  # first definition kept, not the conditional one
    assert by_id["pkg.mod.fetch"].text.startswith("async fetch(url)\n")
    assert "\ufffd" in by_id["zeta"].text  # invalid utf-8 decoded with errors="replace"


def test_fake_tree_broken_file_logged(fake_stdlib: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="core.ingest.stdlib_docs"):
        ids = [e.id for e in iter_stdlib_entries(fake_stdlib)]
    assert "pkg.broken" not in ids
    assert any("broken.py" in r.getMessage() for r in caplog.records)


def test_fake_tree_deterministic(fake_stdlib: Path) -> None:
    assert list(iter_stdlib_entries(fake_stdlib)) == list(iter_stdlib_entries(fake_stdlib))


def test_cleandoc_applied(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "mod.py",
        '''
        def func(a, b=2):
            """First line of a long enough docstring.

                Indented detail line.
            Second paragraph.
            """
        ''',
    )
    (entry,) = iter_stdlib_entries(tmp_path)
    assert entry.text == (
        "func(a, b=2)\nFirst line of a long enough docstring.\n\n"
        "    Indented detail line.\nSecond paragraph."
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(): pass", ""),
        ("def f(a, b=1): pass", "a, b=1"),
        ("def f(a, /, b): pass", "a, /, b"),
        ("def f(*, k): pass", "*, k"),
        ("def f(*args, k=None, **kw): pass", "*args, k=None, **kw"),
        ("def f(a=1, /, b=2, *, c, d=3): pass", "a=1, /, b=2, *, c, d=3"),
        ("def f(x: int = 3) -> int: pass", "x=3"),
    ],
)
def test_format_arguments(source: str, expected: str) -> None:
    func = ast.parse(source).body[0]
    assert isinstance(func, ast.FunctionDef)
    assert format_arguments(func.args) == expected


# --- JSONL output ----------------------------------------------------------------------------


def test_write_jsonl_fake_tree(fake_stdlib: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "stdlib.jsonl"
    count = write_stdlib_jsonl(dest, root=fake_stdlib)
    lines = dest.read_text(encoding="utf-8").splitlines()
    assert count == len(lines) == 8
    records = [json.loads(line) for line in lines]
    assert all(set(r) == RECORD_KEYS for r in records)
    assert records == stdlib_records(fake_stdlib)
    assert [p.name for p in dest.parent.iterdir()] == ["stdlib.jsonl"]  # no temp leftovers


def test_write_jsonl_overwrites_atomically(fake_stdlib: Path, tmp_path: Path) -> None:
    dest = tmp_path / "stdlib.jsonl"
    dest.write_text("stale\n", encoding="utf-8")
    count = write_stdlib_jsonl(dest, root=fake_stdlib)
    assert count == 8
    assert "stale" not in dest.read_text(encoding="utf-8")


def test_write_jsonl_real_stdlib(tmp_path: Path, real_entries: list[StdlibEntry]) -> None:
    dest = tmp_path / "stdlib.jsonl"
    count = write_stdlib_jsonl(dest)
    assert count == len(real_entries)
    with dest.open(encoding="utf-8") as handle:
        ids = [json.loads(line)["id"] for line in handle]
    assert ids == [e.id for e in real_entries]
