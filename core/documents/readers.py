"""Files -> documents: read txt, md, csv, jsonl and pdf from files, folders or pasted text.

Each reader yields :class:`Document` values. A file that cannot be read is reported as a
:class:`Problem` with a reason a person can act on; it never stops the other files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import LIMITS
from core.errors import InputError

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".csv", ".jsonl", ".ndjson", ".pdf")
TABLE_SUFFIXES = (".csv", ".jsonl", ".ndjson")
# JSON may escape lone surrogates ("\ud800"); they cannot be stored as UTF-8 (found by measure.fuzz)
SURROGATE_RE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Document:
    """One document before chunking: an id, its text, where it came from and metadata."""

    doc_id: str
    text: str
    source: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of the whitespace-normalised text; equal hashes mean exact duplicates."""
        return content_hash(self.text)


@dataclass(frozen=True)
class Problem:
    """A file or record that was not ingested, and why."""

    source: str
    reason: str


@dataclass
class LoadResult:
    """Documents read from some inputs, and the inputs that were refused."""

    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class FieldSpec:
    """Which fields of a csv/jsonl record hold the text and the id."""

    text_fields: tuple[str, ...] = ("text",)
    id_field: str = "id"

    @classmethod
    def parse(cls, text_fields: str | Sequence[str] | None, id_field: str | None) -> FieldSpec:
        """Build from a comma-separated string or a list, with defaults for ``None``."""
        if isinstance(text_fields, str):
            text_fields = [f.strip() for f in text_fields.split(",")]
        names = tuple(f for f in (text_fields or ("text",)) if f)
        if not names:
            raise InputError("Name at least one text field, e.g. --text-fields title,text")
        return cls(text_fields=names, id_field=(id_field or "id").strip() or "id")


def content_hash(text: str) -> str:
    """Return a stable hash of ``text`` with whitespace runs collapsed."""
    normal = " ".join(text.split())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:32]


def generated_id(prefix: str, text: str) -> str:
    """Return a stable id for a record that has none: prefix plus a content hash."""
    return f"{prefix}-{content_hash(text)[:12]}"


def from_text(text: str, name: str = "pasted", metadata: dict[str, Any] | None = None) -> Document:
    """Make one document from pasted text.

    Raises:
        InputError: if the text is empty or too long.
    """
    text = clean_text(text)
    if not text:
        raise InputError("The pasted text is empty. Paste some text first.")
    check_length(text, name)
    doc_id = generated_id(_slug(name) or "pasted", text)
    return Document(doc_id, text, source=name, title=name, metadata=dict(metadata or {}))


def load_paths(paths: Iterable[str | Path], fields: FieldSpec | None = None) -> LoadResult:
    """Read every supported file under ``paths`` (files or folders, recursively).

    Raises:
        InputError: as soon as the files read hold more documents than one ingest may add
            (:func:`check_document_count`); reading stops there and nothing is returned.
    """
    fields = fields or FieldSpec()
    result = LoadResult()
    for path, name in expand_paths(paths, result.problems):
        documents, problem = read_path(path, name, fields)
        result.documents.extend(documents)
        if problem:
            result.problems.append(problem)
        check_document_count(len(result.documents), stopped_at=str(path))
    return result


def read_path(path: Path, name: str, fields: FieldSpec) -> tuple[list[Document], Problem | None]:
    """One file's documents, or the reason it cannot be used (never both, never raised)."""
    try:
        return read_bytes(read_limited(path), name, str(path), fields), None
    except InputError as exc:
        return [], Problem(str(path), str(exc))


def check_document_count(count: int, stopped_at: str | None = None) -> None:
    """Refuse an ingest of more documents than the limit, counted across all its inputs.

    Args:
        count: documents in the whole ingest (every file, folder or upload together).
        stopped_at: the input at which reading stopped, when ``count`` is a running total.

    Raises:
        InputError: over ``LIMITS.max_documents_per_ingest``; nothing has been stored.
    """
    limit = LIMITS.max_documents_per_ingest
    if count <= limit:
        return
    where = f" (reading stopped at {stopped_at})" if stopped_at else ""
    raise InputError(
        f"This ingest holds {'over ' if stopped_at else ''}{count:,} documents across its "
        f"files{where}; the limit is {limit:,} per ingest. Nothing was added: add them in "
        f"parts of at most {limit:,} documents, e.g. a few files or one folder at a time."
    )


def expand_paths(
    paths: Iterable[str | Path], problems: list[Problem]
) -> Iterator[tuple[Path, str]]:
    """Yield (file, name) for supported files, walking folders in sorted order.

    The name is the path relative to the folder given (so ids stay stable across machines).
    Unsupported or missing inputs are reported in ``problems``.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in SUFFIXES and not _hidden(child, path):
                    yield child, child.relative_to(path).as_posix()
        elif path.is_file():
            if path.suffix.lower() in SUFFIXES:
                yield path, path.name
            else:
                problems.append(Problem(str(path), unsupported_message(path.name)))
        else:
            problems.append(Problem(str(path), "No such file or folder."))


def unsupported_message(name: str) -> str:
    """Explain which file types are accepted."""
    return f"'{name}' is not a supported type; use one of: {', '.join(SUFFIXES)}."


def read_limited(path: Path) -> bytes:
    """Read a file, refusing it if it is over the size limit."""
    size = path.stat().st_size
    if size > LIMITS.max_file_bytes:
        raise InputError(
            f"File is {size / 2**20:.1f} MB; the limit is {LIMITS.max_file_bytes / 2**20:.0f} MB. "
            "Split it into smaller files."
        )
    return path.read_bytes()


def read_bytes(data: bytes, name: str, source: str, fields: FieldSpec) -> list[Document]:
    """Parse one file's bytes by its extension.

    Raises:
        InputError: with the reason the file cannot be used.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(unsupported_message(name))
    if not data.strip():
        raise InputError("The file is empty.")
    if suffix == ".pdf":
        from core.documents.pdf import read_pdf

        text, meta = read_pdf(data)
        return [_whole_file_document(text, name, source, meta)]
    text = decode_text(data)
    if suffix == ".csv":
        return read_csv(text, name, source, fields)
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(text, name, source, fields)
    return [_whole_file_document(text, name, source, {})]


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), refusing binary data.

    Raises:
        InputError: if the bytes are binary or not UTF-8 text.
    """
    head = data[:65536]
    if b"\x00" in head:
        raise InputError("This looks like a binary file (it contains NUL bytes), not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"The file is not valid UTF-8 (bad byte at position {exc.start}). "
            "Save it as UTF-8 and try again."
        ) from None
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(8, len(text[:65536]) // 20):
        raise InputError("This looks like a binary file (many control characters), not text.")
    return text


def clean_text(text: str) -> str:
    """Strip NULs and surrounding whitespace; normalise line endings."""
    text = SURROGATE_RE.sub("\ufffd", text)
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()


def check_length(text: str, source: str) -> None:
    """Refuse a document longer than the per-document limit."""
    if len(text) > LIMITS.max_document_chars:
        raise InputError(
            f"{source}: a document has {len(text):,} characters; the limit is "
            f"{LIMITS.max_document_chars:,}. Split it into smaller documents."
        )


def read_csv(text: str, name: str, source: str, fields: FieldSpec) -> list[Document]:
    """Read CSV rows; text from ``fields.text_fields``, other columns become metadata."""
    # csv refuses fields over 128 KiB by default; a document may be longer than that.
    csv.field_size_limit(max(csv.field_size_limit(), LIMITS.max_document_chars))
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
        _check_fields(header, fields, name)
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(
            f"Broken CSV near line {reader.line_num}: {exc}. Check for an unclosed quote."
        ) from None
    return _records_to_documents(rows, name, source, fields)


def read_jsonl(text: str, name: str, source: str, fields: FieldSpec) -> list[Document]:
    """Read JSON Lines records; each non-blank line must be a JSON object.

    Lines end at ``\n`` only (``str.splitlines`` would also cut at U+2028, which JSON allows
    inside strings); NaN and Infinity are refused, as they are not JSON and SQLite rejects them.
    """
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_refuse_constant)
            if SURROGATE_ESCAPE_RE.search(line):
                value = _replace_surrogates(value)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"Line {number} is not valid JSON: {exc}.") from None
        if not isinstance(value, dict):
            raise InputError(f"Line {number} is JSON but not an object ({{...}}).")
        rows.append(value)
    if not rows:
        raise InputError("The file has no JSON records.")
    keys = sorted({key for row in rows for key in row})
    _check_fields(keys, fields, name)
    return _records_to_documents(rows, name, source, fields)


def _replace_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return SURROGATE_RE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (use null or a number)")


def _check_fields(available: Sequence[str], fields: FieldSpec, name: str) -> None:
    missing = [f for f in fields.text_fields if f not in available]
    if missing:
        shown = ", ".join(str(a) for a in available[:20]) or "none"
        raise InputError(
            f"{name} has no field {', '.join(repr(m) for m in missing)}; its fields are: "
            f"{shown}. Choose the text fields (e.g. --text-fields title,text)."
        )


def _records_to_documents(
    rows: list[dict[str, Any]], name: str, source: str, fields: FieldSpec
) -> list[Document]:
    if len(rows) > LIMITS.max_documents_per_ingest:
        raise InputError(
            f"{name} has {len(rows):,} records; the limit per ingest is "
            f"{LIMITS.max_documents_per_ingest:,}."
        )
    stem = _slug(Path(name).stem) or "doc"
    docs = []
    for number, row in enumerate(rows, start=1):
        parts = [_as_text(row.get(f)) for f in fields.text_fields]
        text = clean_text(" ".join(p for p in parts if p))
        if not text:
            log.info("%s record %d has no text; skipped", name, number)
            continue
        check_length(text, f"{name} record {number}")
        raw_id = row.get(fields.id_field)  # none, empty or only spaces: an id from the text
        doc_id = ("" if raw_id is None else str(raw_id).strip()) or generated_id(stem, text)
        meta = {k: v for k, v in row.items() if k not in fields.text_fields and k is not None}
        meta.pop(fields.id_field, None)
        title = ""
        if "title" not in fields.text_fields:
            title = _as_text(meta.pop("title", None))
        docs.append(Document(doc_id, text, source=source, title=title[:300], metadata=meta))
    if not docs:
        raise InputError(f"{name} has no record with text in {', '.join(fields.text_fields)}.")
    return docs


def _whole_file_document(text: str, name: str, source: str, meta: dict) -> Document:
    text = clean_text(text)
    if not text:
        raise InputError("The file has no text.")
    check_length(text, name)
    return Document(doc_id=name, text=text, source=source, title=name, metadata=meta)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip("-")[:60]


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
