"""Selections of documents that a link can carry: a short token in the URL that resolves, in
one collection, to the documents a map selection holds (the Search page restricted to them).

chunk ids (picked on a map) -> their documents -> a token:

- ``i…`` (inline): the documents' row ids, sorted, delta-coded as varints, zlib-compressed and
  base64url-encoded, then ``.`` and 8 hex digits of a hash of their ``doc_id`` names. Used when
  it is at most :data:`INLINE_CHARS` long, and always when the collection cannot be written to
  (read-only lab or folder), up to :data:`MAX_INLINE_CHARS`. The hash makes a link refuse to
  resolve once its documents were deleted or their row ids reused, instead of restricting the
  search to other documents.
- ``s…`` (stored): 16 hex digits of a hash of the ``doc_id`` names; the names are kept in
  ``selections/<hash>.json`` in the collection's folder (written atomically, once). A selection
  of any size fits a URL this way; documents deleted since are reported as missing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import zlib
from dataclasses import dataclass

import numpy as np

from core import atomic, config
from core.errors import InputError
from core.storage.collection import Collection

log = logging.getLogger(__name__)

INLINE_CHARS = 1_500  # longer selections are stored in the collection's folder when it can be
# The most a link may carry inline (a read-only collection): Streamlit's server (uvicorn with
# h11) refuses a request head over 16 KB, and a shared link is opened by such a request.
MAX_INLINE_CHARS = 12_000
FOLDER = "selections"
_STORED = re.compile(r"^s([0-9a-f]{16})$")
_INLINE = re.compile(r"^i([A-Za-z0-9_-]+)\.([0-9a-f]{8})$")


@dataclass(frozen=True)
class Within:
    """A resolved selection: the documents a search is restricted to."""

    token: str
    rows: np.ndarray  # (documents,) sorted row ids of the selected documents still present
    missing: int  # selected documents no longer in the collection (stored selections only)

    @property
    def documents(self) -> int:
        """How many selected documents are still in the collection."""
        return len(self.rows)


def token_for(collection: Collection, chunk_ids) -> str:
    """The token naming the documents that hold ``chunk_ids`` (written to disk if long).

    Raises:
        InputError: for an empty selection, or one too large to carry while read-only.
    """
    rows = document_rows(collection, chunk_ids)
    if len(rows) == 0:
        raise InputError("The selection is empty: click points or drag a box on the map first.")
    names = _names(collection, rows)
    inline = f"i{_pack(rows)}.{_digest(names)[:8]}"
    if len(inline) <= INLINE_CHARS:
        return inline
    if _writable(collection):
        return _store(collection, names)
    if len(inline) <= MAX_INLINE_CHARS:
        return inline
    raise InputError(
        f"A selection of {len(rows):,} documents is too large for a link while this collection "
        "is read-only: select fewer points, or search within it on the Explore page."
    )


def resolve(collection: Collection, token: str) -> Within:
    """The documents ``token`` names in ``collection``.

    Raises:
        InputError: for a malformed or unknown token, or one whose documents changed.
    """
    stored, inline = _STORED.match(token or ""), _INLINE.match(token or "")
    if stored:
        return _resolve_stored(collection, token, stored.group(1))
    if inline:
        rows = _unpack(inline.group(1))
        names = _names(collection, rows)
        if len(names) == len(rows) and _digest(names)[:8] == inline.group(2):
            return Within(token, rows, 0)
        raise InputError(
            f"This link's selection no longer matches collection '{collection.name}': its "
            "documents were deleted or replaced. Make the selection again on the Explore page."
        )
    raise InputError("This link's selection is malformed: make it again on the Explore page.")


def document_rows(collection: Collection, chunk_ids) -> np.ndarray:
    """Sorted row ids of the documents holding ``chunk_ids``."""
    ids = [int(i) for i in np.unique(np.asarray(chunk_ids, dtype=np.int64))]
    return collection.store.document_rows(ids)


def _names(collection: Collection, rows: np.ndarray) -> list[str]:
    return collection.store.document_names([int(r) for r in rows])


def _digest(names: list[str]) -> str:
    return hashlib.sha256("\0".join(sorted(names)).encode()).hexdigest()


def _pack(rows: np.ndarray) -> str:
    """Sorted row ids -> base64url of zlib of their deltas as LEB128 varints."""
    out = bytearray()
    for delta in np.diff(rows, prepend=0).tolist():
        while True:
            byte, delta = delta & 0x7F, delta >> 7
            out.append(byte | (0x80 if delta else 0))
            if not delta:
                break
    return base64.urlsafe_b64encode(zlib.compress(bytes(out), 9)).decode().rstrip("=")


def _unpack(text: str) -> np.ndarray:
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, zlib.error) as exc:
        raise InputError("This link's selection is malformed: make it again on Explore.") from exc
    deltas, value, shift = [], 0, 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            deltas.append(value)
            value, shift = 0, 0
    return np.cumsum(np.asarray(deltas, dtype=np.int64))


def _writable(collection: Collection) -> bool:
    return not config.read_only() and os.access(collection.path, os.W_OK)


def _store(collection: Collection, names: list[str]) -> str:
    key = _digest(names)[:16]
    path = collection.path / FOLDER / f"{key}.json"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        atomic.write_json(path, {"format_version": 1, "doc_ids": sorted(names)})
        log.info("stored a selection of %d documents as %s", len(names), path)
    return f"s{key}"


def _resolve_stored(collection: Collection, token: str, key: str) -> Within:
    path = collection.path / FOLDER / f"{key}.json"
    try:
        names = json.loads(path.read_text(encoding="utf-8"))["doc_ids"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"This link's selection is not stored in collection '{collection.name}' (it was "
            "made in another collection or lab): make it again on the Explore page."
        ) from exc
    rows = collection.store.rows_of_documents(names)
    return Within(token, rows, len(names) - len(rows))
