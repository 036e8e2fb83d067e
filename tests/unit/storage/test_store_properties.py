"""Property-based tests of a collection (SQLite store + FAISS cache) with hypothesis.

Random sequences of add, delete, search, save, reload (close and reopen), a damaged index
file and a second handle writing behind the first one's back, each checked against a
plain-Python model (doc id -> chunk vectors) and exact numpy search.
"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.documents.chunking import Chunk
from core.documents.readers import Document
from core.model.embedder import ModelInfo
from core.search.dense import search_vectors
from core.storage.collection import INDEX_FILE, Collection, delete_collection

DIM = 8
MODEL = ModelInfo(label="synthetic", name="synthetic", fingerprint="synthetic-8", dimension=DIM)
GROUPS = ("a", "b")
NAMES = itertools.count()


def unit_vectors(seed: int, count: int) -> np.ndarray:
    """``count`` random unit vectors (count, DIM), float32: ties are practically impossible."""
    vectors = np.random.default_rng(seed).standard_normal((count, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def make_documents(first: int, sizes: list[int], groups: list[str]) -> tuple[list, list]:
    """Documents d<first>, d<first+1>, ... with ``sizes[i]`` chunks each."""
    docs, chunks = [], []
    for offset, (size, group) in enumerate(zip(sizes, groups, strict=True)):
        doc_id = f"d{first + offset}"
        pieces = [f"{doc_id} part {n}." for n in range(size)]
        text = " ".join(pieces)
        spans, start = [], 0
        for n, piece in enumerate(pieces):
            spans.append(Chunk(n, start, start + len(piece), piece))
            start += len(piece) + 1
        docs.append(Document(doc_id, text, source="synthetic", metadata={"group": group}))
        chunks.append(spans)
    return docs, chunks


def oracle(model: dict[str, tuple[np.ndarray, str]], query: np.ndarray, group: str | None):
    """Exact document ranking: each document scores its best chunk's inner product."""
    scores = {
        doc_id: float(np.max(vectors.astype(np.float64) @ query))
        for doc_id, (vectors, doc_group) in model.items()
        if group is None or doc_group == group
    }
    return sorted(scores.items(), key=lambda item: -item[1])


class CollectionMachine(RuleBasedStateMachine):
    """A collection driven by random operations, mirrored in a plain dict."""

    def __init__(self) -> None:
        super().__init__()
        self.name = f"prop-{next(NAMES)}"
        self.collection = Collection(self.name, MODEL, create=True)
        self.model: dict[str, tuple[np.ndarray, str]] = {}
        self.next_id = 0

    @property
    def chunk_total(self) -> int:
        return sum(len(vectors) for vectors, _ in self.model.values())

    @rule(
        seed=st.integers(0, 2**32 - 1),
        sizes=st.lists(st.integers(1, 5), min_size=1, max_size=6),
        data=st.data(),
    )
    def add(self, seed: int, sizes: list[int], data: st.DataObject) -> None:
        groups = data.draw(
            st.lists(st.sampled_from(GROUPS), min_size=len(sizes), max_size=len(sizes))
        )
        docs, chunks = make_documents(self.next_id, sizes, groups)
        vectors = unit_vectors(seed, sum(sizes))
        ids = self.collection.add_vectors(docs, chunks, vectors)
        assert len(ids) == len(vectors) and len(set(ids.tolist())) == len(ids)
        start = 0
        for doc, size, group in zip(docs, sizes, groups, strict=True):
            self.model[doc.doc_id] = (vectors[start : start + size], group)
            start += size
        self.next_id += len(sizes)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), seed=st.integers(0, 2**32 - 1))
    def add_existing_id_changes_nothing(self, data: st.DataObject, seed: int) -> None:
        doc_id = data.draw(st.sampled_from(sorted(self.model)))
        docs, chunks = make_documents(self.next_id, [2], ["a"])
        clash = [Document(doc_id, docs[0].text + " again", source="synthetic")]
        try:
            self.collection.add_vectors(clash, chunks, unit_vectors(seed, 2))
        except sqlite3.IntegrityError:
            pass
        else:
            raise AssertionError("a second document with an existing id was accepted")

    @precondition(lambda self: self.model)
    @rule(data=st.data(), unknown=st.booleans())
    def delete(self, data: st.DataObject, unknown: bool) -> None:
        ids = data.draw(st.lists(st.sampled_from(sorted(self.model)), max_size=4, unique=True))
        gone = ids + (["no-such-document"] if unknown else [])
        removed = self.collection.delete_documents(gone)
        assert removed == sum(len(self.model[i][0]) for i in ids)
        for doc_id in ids:
            del self.model[doc_id]

    @rule(
        seed=st.integers(0, 2**32 - 1), k=st.integers(1, 12), group=st.sampled_from([None, *GROUPS])
    )
    def search(self, seed: int, k: int, group: str | None) -> None:
        query = unit_vectors(seed, 1)
        where = ("group", group) if group else None
        hits = search_vectors(self.collection, query, k, where)[0]
        expected = oracle(self.model, query[0].astype(np.float64), group)
        assert len(hits) == min(k, len(expected))
        assert len({h.doc_id for h in hits}) == len(hits)
        exact = dict(expected)
        for hit, (_, best) in zip(hits, expected, strict=False):
            assert abs(hit.score - exact[hit.doc_id]) < 1e-5  # the score is the document's own
            assert abs(hit.score - best) < 1e-5  # and it is the next best score overall
            assert group is None or hit.metadata["group"] == group

    @rule()
    def save(self) -> None:
        self.collection.save_index()

    @rule()
    def reload(self) -> None:
        self.collection.store.close()
        self.collection = Collection(self.name, MODEL)

    @rule(cut=st.integers(0, 200))
    def damage_index_then_reload(self, cut: int) -> None:
        self.collection.save_index()
        path = Path(self.collection.path) / INDEX_FILE
        path.write_bytes(path.read_bytes()[:cut])
        self.reload()

    @rule(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 4))
    def write_through_another_handle(self, seed: int, size: int) -> None:
        other = Collection(self.name, MODEL)
        docs, chunks = make_documents(self.next_id, [size], ["b"])
        vectors = unit_vectors(seed, size)
        other.add_vectors(docs, chunks, vectors)
        other.store.close()
        self.model[docs[0].doc_id] = (vectors, "b")
        self.next_id += 1

    @invariant()
    def counts_match(self) -> None:
        self.collection.refresh()
        assert self.collection.store.counts() == (len(self.model), self.chunk_total)
        assert len(self.collection.index) == self.chunk_total

    def teardown(self) -> None:
        self.collection.store.close()
        delete_collection(self.name)


def test_collection_behaves_like_a_dict_and_exact_search(data_dir: Path) -> None:
    run_state_machine_as_test(
        CollectionMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    leftovers = [p.name for p in data_dir.iterdir() if p.name.startswith("prop-")]
    assert leftovers == []
