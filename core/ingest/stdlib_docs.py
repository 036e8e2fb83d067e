"""Build a realistic text corpus from the docstrings of the installed Python stdlib.

The standard library sources are located via :mod:`sysconfig` and parsed with
:mod:`ast`; no documented module is ever imported (several have side effects,
e.g. ``antigravity`` opens a browser and ``this`` prints to stdout).

Each public module, top-level class, top-level function and method of a
top-level class with a docstring of at least :data:`MIN_DOC_CHARS` characters
becomes one :class:`StdlibEntry`. Entries can be written as JSONL records with
``id`` and ``text`` fields for ingestion.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import os
import sysconfig
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

from core import atomic

logger = logging.getLogger(__name__)

MIN_DOC_CHARS = 40
"""Docstrings shorter than this (after cleaning) are skipped."""

MAX_DEFAULT_CHARS = 30
"""Rendered default values longer than this are truncated in signature headers."""

SKIPPED_PARTS = frozenset(
    {
        "site-packages",
        "dist-packages",
        "test",
        "tests",
        "idlelib",
        "lib2to3",
        "ensurepip",
        "__pycache__",
        "turtledemo",
    }
)
"""Path segments (directories or module names) that exclude a source file."""

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_DefNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_BRANCH_FIELDS = ("body", "orelse", "handlers", "finalbody")


@dataclass(frozen=True)
class StdlibEntry:
    """One documented stdlib object.

    Attributes:
        id: Dotted qualified name, e.g. ``"json.decoder.JSONDecoder.decode"``; unique.
        title: Human-readable title, e.g. ``"json.decoder.JSONDecoder.decode (method)"``.
        text: Signature-like header line followed by the cleaned docstring.
        module: Dotted module name, e.g. ``"json.decoder"``.
        kind: One of ``"module"``, ``"class"``, ``"function"``, ``"method"``.
        path: Source file path relative to the stdlib directory (POSIX separators).
    """

    id: str
    title: str
    text: str
    module: str
    kind: str
    path: str


def stdlib_dir() -> Path:
    """Return the directory holding the pure-Python standard library sources.

    Returns:
        The ``stdlib`` path reported by :func:`sysconfig.get_paths`.
    """
    return Path(sysconfig.get_paths()["stdlib"])


def _is_skipped_part(part: str, *, is_file: bool) -> bool:
    """Tell whether one path segment excludes a file from the corpus.

    Args:
        part: A directory name, or a file name without its ``.py`` suffix.
        is_file: Whether ``part`` is the module file's stem.

    Returns:
        True if the segment is excluded (private, test-like or not importable).
    """
    if part in SKIPPED_PARTS:
        return True
    if is_file and part == "__init__":
        return False
    return part.startswith("_") or not part.isidentifier()


def _is_skipped_dir(name: str) -> bool:
    """Tell whether a directory (and everything below it) is excluded.

    Args:
        name: The directory's base name.

    Returns:
        True if the directory must not be descended into.
    """
    return _is_skipped_part(name, is_file=False)


def _iter_source_files(root: Path) -> Iterator[Path]:
    """Yield the eligible ``.py`` files under ``root`` in sorted relative-path order.

    Args:
        root: The stdlib-like source directory.

    Yields:
        Paths relative to ``root``.
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _is_skipped_dir(d))
        rel_dir = Path(dirpath).relative_to(root)
        for filename in filenames:
            if not filename.endswith(".py"):
                continue
            if _is_skipped_part(filename[:-3], is_file=True):
                continue
            found.append(rel_dir / filename)
    yield from sorted(found, key=lambda p: p.as_posix())


def _module_name(rel_path: Path) -> str:
    """Convert a relative source path into a dotted module name.

    Args:
        rel_path: Path relative to the stdlib directory, e.g. ``json/__init__.py``.

    Returns:
        The dotted module name, e.g. ``"json"``.
    """
    parts = list(rel_path.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parse_file(path: Path) -> ast.Module | None:
    """Parse a source file, returning None (logged at debug level) on failure.

    Args:
        path: Absolute path of the file to parse.

    Returns:
        The parsed module, or None if it could not be read or parsed.
    """
    try:
        source = path.read_bytes().decode("utf-8", errors="replace")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source, filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError) as exc:
        logger.debug("Skipping unparsable stdlib file %s: %s", path, exc)
        return None


def _clean_doc(node: ast.Module | _DefNode) -> str | None:
    """Return the node's cleaned docstring if it is long enough.

    Args:
        node: A module, class or function node.

    Returns:
        The :func:`inspect.cleandoc`-cleaned docstring, or None if absent or too short.
    """
    raw = ast.get_docstring(node, clean=False)
    if not raw:
        return None
    doc = inspect.cleandoc(raw).strip()
    return doc if len(doc) >= MIN_DOC_CHARS else None


def _render_default(node: ast.expr) -> str:
    """Render a default value with :func:`ast.unparse`, truncated to 30 characters.

    Args:
        node: The default value expression.

    Returns:
        The rendered (possibly truncated, ``...``-terminated) source text.
    """
    text = " ".join(ast.unparse(node).split())
    if len(text) > MAX_DEFAULT_CHARS:
        text = text[: MAX_DEFAULT_CHARS - 3] + "..."
    return text


def _with_default(name: str, default: ast.expr | None) -> str:
    """Format one parameter, appending ``=default`` when it has one.

    Args:
        name: Parameter name.
        default: Default value expression, or None.

    Returns:
        ``"name"`` or ``"name=default"``.
    """
    return name if default is None else f"{name}={_render_default(default)}"


def format_arguments(args: ast.arguments) -> str:
    """Render an argument list like a signature (without annotations).

    Args:
        args: The ``ast.arguments`` of a function definition.

    Returns:
        A string such as ``"a, /, b=1, *args, c, d=None, **kwargs"``.
    """
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults.extend(args.defaults)
    parts = [_with_default(a.arg, d) for a, d in zip(positional, defaults, strict=True)]
    if args.posonlyargs:
        parts.insert(len(args.posonlyargs), "/")
    if args.vararg is not None:
        parts.append(f"*{args.vararg.arg}")
    elif args.kwonlyargs:
        parts.append("*")
    parts.extend(
        _with_default(a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    )
    if args.kwarg is not None:
        parts.append(f"**{args.kwarg.arg}")
    return ", ".join(parts)


def _header(node: _DefNode) -> str:
    """Build the signature-like first line for a class or function.

    Args:
        node: A class or (async) function definition.

    Returns:
        E.g. ``"decode(self, s, _w=WHITESPACE.match)"`` or ``"class JSONDecoder(object)"``.
    """
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(_render_default(b) for b in node.bases)
        return f"class {node.name}({bases})" if bases else f"class {node.name}"
    prefix = "async " if isinstance(node, ast.AsyncFunctionDef) else ""
    return f"{prefix}{node.name}({format_arguments(node.args)})"


def _iter_defs(body: Iterable[ast.stmt]) -> Iterator[_DefNode]:
    """Yield class/function definitions of a body, in source order.

    Descends into ``if``/``try`` branches (conditional definitions) but never
    into function or class bodies.

    Args:
        body: Statements of a module or class body.

    Yields:
        Public class and function definition nodes.
    """
    for stmt in body:
        if isinstance(stmt, _DefNode):
            if not stmt.name.startswith("_"):
                yield stmt
        elif isinstance(stmt, ast.If | ast.Try | ast.TryStar | ast.ExceptHandler):
            for field in _BRANCH_FIELDS:
                yield from _iter_defs(getattr(stmt, field, []))


def _make_entry(
    qualname: str, kind: str, header: str, doc: str, module: str, path: str
) -> StdlibEntry:
    """Assemble a :class:`StdlibEntry` from its parts.

    Args:
        qualname: Dotted qualified name (the entry id).
        kind: Entry kind.
        header: Signature-like first line.
        doc: Cleaned docstring.
        module: Dotted module name.
        path: Relative source path.

    Returns:
        The entry.
    """
    return StdlibEntry(
        id=qualname,
        title=f"{qualname} ({kind})",
        text=f"{header}\n{doc}",
        module=module,
        kind=kind,
        path=path,
    )


def _entries_for_module(tree: ast.Module, module: str, path: str) -> Iterator[StdlibEntry]:
    """Yield the entries of one parsed module in source order.

    Args:
        tree: The parsed module.
        module: Its dotted name.
        path: Its source path relative to the stdlib directory.

    Yields:
        Module, class, function and method entries (possibly with duplicate ids).
    """
    doc = _clean_doc(tree)
    if doc is not None:
        yield _make_entry(module, "module", f"module {module}", doc, module, path)
    for node in _iter_defs(tree.body):
        qualname = f"{module}.{node.name}"
        is_class = isinstance(node, ast.ClassDef)
        doc = _clean_doc(node)
        if doc is not None:
            kind = "class" if is_class else "function"
            yield _make_entry(qualname, kind, _header(node), doc, module, path)
        if not is_class:
            continue
        for member in _iter_defs(node.body):
            member_doc = _clean_doc(member)
            if isinstance(member, _FunctionNode) and member_doc is not None:
                member_id = f"{qualname}.{member.name}"
                yield _make_entry(member_id, "method", _header(member), member_doc, module, path)


def iter_stdlib_entries(root: Path | None = None) -> Iterator[StdlibEntry]:
    """Iterate over documented stdlib objects without importing any of them.

    Files are visited in sorted relative-path order and objects in source order,
    so the output is deterministic. Duplicate ids keep their first occurrence.

    Args:
        root: Directory of stdlib-like sources; defaults to :func:`stdlib_dir`.

    Yields:
        One :class:`StdlibEntry` per documented public object.
    """
    base = Path(root) if root is not None else stdlib_dir()
    seen: set[str] = set()
    for rel_path in _iter_source_files(base):
        tree = _parse_file(base / rel_path)
        if tree is None:
            continue
        module = _module_name(rel_path)
        for entry in _entries_for_module(tree, module, rel_path.as_posix()):
            if entry.id in seen:
                continue
            seen.add(entry.id)
            yield entry


def stdlib_records(root: Path | None = None, limit: int | None = None) -> list[dict]:
    """Return stdlib entries as plain dicts ready for JSONL ingestion.

    Args:
        root: Directory of stdlib-like sources; defaults to :func:`stdlib_dir`.
        limit: Maximum number of records to return; None means all.

    Returns:
        Dicts with keys ``id``, ``title``, ``text``, ``module``, ``kind``, ``path``.

    Raises:
        ValueError: If ``limit`` is negative.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    entries = islice(iter_stdlib_entries(root), limit)
    return [asdict(entry) for entry in entries]


def write_stdlib_jsonl(dest: Path, root: Path | None = None) -> int:
    """Write all stdlib records to ``dest`` as JSONL, atomically.

    The records are written to a temporary file in the destination directory,
    flushed and fsynced, then moved into place with :func:`os.replace`.

    Args:
        dest: Output file path; its parent directory is created if needed.
        root: Directory of stdlib-like sources; defaults to :func:`stdlib_dir`.

    Returns:
        The number of records written.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(asdict(entry), ensure_ascii=False) for entry in iter_stdlib_entries(root)]
    atomic.write_bytes(dest, ("\n".join(lines) + "\n").encode("utf-8") if lines else b"")
    logger.info("Wrote %d stdlib records to %s", len(lines), dest)
    return len(lines)
