"""Selection tokens: a map selection -> a short token in a link -> the same documents."""

from __future__ import annotations

import numpy as np
import pytest

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.errors import InputError
from core.storage import selections
from core.storage.collection import Collection


def build(name: str, embedder, count: int, prefix: str = "doc") -> Collection:
    """``count`` documents of two chunks each, random unit vectors."""
    collection = Collection(name, embedder.info, create=True)
    docs = [Document(f"{prefix}-{i:05d}", f"a b {i}", "t") for i in range(count)]
    chunks = [[Chunk(0, 0, 1, "a"), Chunk(1, 2, 3, "b")] for _ in docs]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2 * count, embedder.dimension)).astype(np.float32)
    collection.add_vectors(docs, chunks, vectors / np.linalg.norm(vectors, axis=1)[:, None])
    return collection


def chunk_ids(collection: Collection) -> np.ndarray:
    rows = collection.store.db.execute("SELECT id FROM chunks ORDER BY id").fetchall()
    return np.asarray([r[0] for r in rows])


def names(collection: Collection, within: selections.Within) -> set[str]:
    rows = collection.store.db.execute("SELECT id, doc_id FROM documents").fetchall()
    by_row = dict(rows)
    return {by_row[int(r)] for r in within.rows}


def test_a_small_selection_travels_inline_and_resolves_to_its_documents(tiny_embedder) -> None:
    collection = build("small", tiny_embedder, 50)
    picked = chunk_ids(collection)[[0, 1, 7, 40, 99]]  # documents 0, 3, 20, 49
    token = selections.token_for(collection, picked)
    assert token.startswith("i") and len(token) < 40
    within = selections.resolve(collection, token)
    assert names(collection, within) == {"doc-00000", "doc-00003", "doc-00020", "doc-00049"}
    assert within.missing == 0
    assert not (collection.path / selections.FOLDER).exists()


def test_thousands_of_documents_are_stored_under_a_short_token(tiny_embedder, monkeypatch) -> None:
    monkeypatch.setattr(selections, "INLINE_CHARS", 200)  # 3,400 of 6,000 pack into ~900
    collection = build("large", tiny_embedder, 6000)
    ids = chunk_ids(collection)
    picked = ids[np.random.default_rng(1).choice(len(ids), 5000, replace=False)]
    expected = {f"doc-{(int(i) - int(ids[0])) // 2:05d}" for i in picked}
    token = selections.token_for(collection, picked)
    assert token.startswith("s") and len(token) == 17
    assert (collection.path / selections.FOLDER / f"{token[1:]}.json").exists()
    assert names(collection, selections.resolve(collection, token)) == expected
    assert selections.token_for(collection, picked) == token  # the same selection, one file


def test_a_read_only_collection_carries_a_large_selection_inline(
    tiny_embedder, monkeypatch
) -> None:
    collection = build("frozen", tiny_embedder, 6000)
    ids = chunk_ids(collection)
    picked = ids[np.random.default_rng(2).choice(len(ids), 5000, replace=False)]
    monkeypatch.setattr(selections, "INLINE_CHARS", 200)
    monkeypatch.setenv("EMBEDLAB_READ_ONLY", "1")
    token = selections.token_for(collection, picked)
    assert token.startswith("i") and 200 < len(token) <= selections.MAX_INLINE_CHARS
    assert not (collection.path / selections.FOLDER).exists()
    within = selections.resolve(collection, token)
    assert len(within.rows) == len({(int(i) - int(ids[0])) // 2 for i in picked})


def test_a_link_refuses_when_its_documents_were_deleted(tiny_embedder) -> None:
    collection = build("changing", tiny_embedder, 10)
    token = selections.token_for(collection, chunk_ids(collection)[-4:])  # the last two
    collection.delete_documents(["doc-00009"])
    with pytest.raises(InputError, match="no longer matches"):
        selections.resolve(collection, token)


def test_a_stored_selection_reports_deleted_documents(tiny_embedder, monkeypatch) -> None:
    monkeypatch.setattr(selections, "INLINE_CHARS", 0)  # store even a small one
    collection = build("stored", tiny_embedder, 10)
    token = selections.token_for(collection, chunk_ids(collection)[:6])  # three documents
    collection.delete_documents(["doc-00001"])
    within = selections.resolve(collection, token)
    assert within.documents == 2 and within.missing == 1


@pytest.mark.parametrize("token", ["", "x", "iAAAA.0000000z", "i!!.01234567", "s123", "sdeadbeef"])
def test_a_bad_token_is_a_clear_error(tiny_embedder, token: str) -> None:
    collection = build("bad", tiny_embedder, 3)
    with pytest.raises(InputError, match="selection"):
        selections.resolve(collection, token)


def test_a_token_from_another_collection_does_not_resolve(tiny_embedder) -> None:
    one = build("one", tiny_embedder, 5)
    other = build("other", tiny_embedder, 5, prefix="other")
    token = selections.token_for(one, chunk_ids(one)[:3])
    with pytest.raises(InputError, match="no longer matches"):
        selections.resolve(other, token)


def test_a_read_only_selection_too_large_for_a_link_is_refused(tiny_embedder, monkeypatch) -> None:
    collection = build("frozen-big", tiny_embedder, 3000)
    ids = chunk_ids(collection)
    picked = ids[np.random.default_rng(3).choice(len(ids), 2000, replace=False)]
    monkeypatch.setenv("EMBEDLAB_READ_ONLY", "1")
    monkeypatch.setattr(selections, "INLINE_CHARS", 100)
    monkeypatch.setattr(selections, "MAX_INLINE_CHARS", 300)
    with pytest.raises(InputError, match="too large for a link while this collection is read"):
        selections.token_for(collection, picked)
