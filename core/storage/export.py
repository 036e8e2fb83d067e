"""Maps and vectors out of the lab: a points table (coordinates + metadata) as CSV, and the
TensorFlow Embedding Projector format (``vectors.tsv`` + ``metadata.tsv``).

The command line's ``python -m core export --collection NAME --format projector OUT_DIR``
calls :func:`export_projector`.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from core import atomic, config
from core.errors import CollectionError
from core.storage.collection import Collection, check_writable

log = logging.getLogger(__name__)

BASE_COLUMNS = ("chunk_id", "doc_id", "title", "chunk", "source", "snippet")
SNIPPET_CHARS = 240
BLOCK = 2000


@dataclass(frozen=True)
class ProjectorExport:
    """What :func:`export_projector` wrote."""

    vectors: Path
    metadata: Path
    rows: int
    dimension: int


def points_table(collection: Collection, chunk_ids: Sequence[int]) -> pd.DataFrame:
    """One row per chunk, in the order given: ids, title, snippet, source and metadata fields.

    Metadata fields become columns (named ``meta:FIELD`` if they clash with the base columns);
    lists and objects are shown as JSON text.
    """
    rows = collection.store.chunk_rows(chunk_ids)
    records = []
    for chunk_id in chunk_ids:
        row = rows[int(chunk_id)]
        record: dict[str, Any] = {
            "chunk_id": int(chunk_id),
            "doc_id": row.doc_id,
            "title": row.title or row.doc_id,
            "chunk": f"{row.ordinal + 1} of {row.chunk_count}",
            "source": row.source,
            "snippet": snippet(row.text),
        }
        for key, value in row.metadata.items():
            name = f"meta:{key}" if key in BASE_COLUMNS else str(key)
            record[name] = _scalar(value)
        records.append(record)
    return pd.DataFrame.from_records(records, columns=_columns(records))


def _columns(records: list[dict[str, Any]]) -> list[str]:
    extra = dict.fromkeys(k for r in records for k in r if k not in BASE_COLUMNS)
    return [*BASE_COLUMNS, *extra]


def snippet(text: str) -> str:
    """``text`` on one line, cut to 240 characters."""
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def coordinates_csv(table: pd.DataFrame) -> bytes:
    """The points table (with its ``x``, ``y`` columns) as UTF-8 CSV."""
    return table.to_csv(index=False).encode("utf-8")


def _tsv_cell(value: Any) -> str:
    """One metadata cell: the projector's TSV has no quoting, so tabs and newlines go."""
    if isinstance(value, float) and (value != value or value.is_integer()):
        value = "" if value != value else int(value)  # NaN: a field this document lacks
    return " ".join(str(value).split())


def projector_lines(
    vectors: np.ndarray, table: pd.DataFrame, columns: Sequence[str] = ("doc_id", "title")
) -> tuple[Iterator[str], Iterator[str]]:
    """Lines of ``vectors.tsv`` and of ``metadata.tsv`` (with a header row) for ``table``."""
    present = [c for c in columns if c in table.columns]

    def vector_lines() -> Iterator[str]:
        """One tab-separated line per vector."""
        for row in np.asarray(vectors, dtype=np.float32):
            yield "\t".join(f"{v:.6g}" for v in row) + "\n"

    def metadata_lines() -> Iterator[str]:
        """The header, then one line per row of ``table``."""
        yield "\t".join(present) + "\n"
        for values in table[present].itertuples(index=False):
            yield "\t".join(_tsv_cell(v) for v in values) + "\n"

    return vector_lines(), metadata_lines()


def projector_zip(collection: Collection, chunk_ids: Sequence[int]) -> bytes:
    """A zip holding ``vectors.tsv`` and ``metadata.tsv`` for the given chunks."""
    ids = np.asarray(chunk_ids, dtype=np.int64)
    vectors = collection.store.vectors_for(ids, collection.model.dimension)
    table = points_table(collection, ids)
    vector_lines, metadata_lines = projector_lines(vectors, table, _metadata_columns(table))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("vectors.tsv", "".join(vector_lines))
        archive.writestr("metadata.tsv", "".join(metadata_lines))
    return buffer.getvalue()


def _metadata_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in ("chunk_id", "snippet")] + ["snippet"]


def export_projector(collection: Collection, out_dir: Path) -> ProjectorExport:
    """Write every chunk of ``collection`` as ``OUT_DIR/vectors.tsv`` + ``OUT_DIR/metadata.tsv``.

    Load both files in the TensorFlow Embedding Projector ("Load" in its left panel). Rows are
    streamed in blocks of 2,000 chunks to temporary files, each renamed into place when
    complete (never a half-written TSV).

    Raises:
        CollectionError: if the collection is empty or ``out_dir`` is a file.
        ReadOnlyError: for an ``out_dir`` inside the data dir in read-only mode.
    """
    out_dir = Path(out_dir)
    if config.read_only() and out_dir.resolve().is_relative_to(config.data_dir()):
        check_writable(f"write an export inside the data folder ({out_dir}); choose another")
    if out_dir.exists() and not out_dir.is_dir():
        raise CollectionError(f"{out_dir} is a file; give a folder to write the TSV files in.")
    ids = collection.store.chunk_ids()
    if len(ids) == 0:
        raise CollectionError(f"Collection '{collection.name}' is empty: nothing to export.")
    keys = collection.store.metadata_keys()
    columns = ["doc_id", "title", "chunk", "source"]
    columns += [f"meta:{k}" if k in BASE_COLUMNS else k for k in keys] + ["snippet"]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / "vectors.tsv", out_dir / "metadata.tsv"
    with _atomic_text(paths[0]) as vectors_file, _atomic_text(paths[1]) as metadata_file:
        for start in range(0, len(ids), BLOCK):
            block = ids[start : start + BLOCK]
            table = points_table(collection, block).reindex(columns=columns, fill_value="")
            vectors = collection.store.vectors_for(block, collection.model.dimension)
            vector_lines, metadata_lines = projector_lines(vectors, table, columns)
            vectors_file.writelines(vector_lines)
            metadata_file.writelines(itertools.islice(metadata_lines, 1 if start else 0, None))
    log.info("exported %d vectors of %s to %s", len(ids), collection.name, out_dir)
    return ProjectorExport(paths[0], paths[1], len(ids), collection.model.dimension)


@contextmanager
def _atomic_text(path: Path) -> Iterator[TextIO]:
    """A text file written beside ``path`` and renamed over it only if the block succeeds."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # an export is meant to be read (mkstemp makes files 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    atomic.fsync_dir(path.parent)
