"""Collections: SQLite as the source of truth, FAISS as a cache rebuilt whenever in doubt."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import sqlite3
from itertools import pairwise
from pathlib import Path

import faiss
import numpy as np
import pytest

from core.documents.chunking import chunk_texts
from core.documents.readers import Document
from core.errors import CollectionError, ModelMismatchError
from core.ingest.pipeline import ingest_documents
from core.search.dense import search_vectors
from core.storage import collection as colls
from core.storage.collection import Collection, delete_collection, list_collections
from core.storage.index import VectorIndex
from tests.tiny_model import FIXTURE_DIR, build_tiny_model

WORDS = [w for w in FIXTURE_DIR.joinpath("vocab.txt").read_text().split() if w.isalpha()]


def make_docs(count: int, seed: int = 0, long_every: int = 4, prefix: str = "d") -> list[Document]:
    """Reproducible documents; every ``long_every``-th is long enough for several chunks."""
    rnd = random.Random(seed)
    docs = []
    for i in range(count):
        words = 150 if i % long_every == 0 else rnd.randint(3, 12)
        text = " ".join(rnd.choice(WORDS) for _ in range(words)) + f" {prefix}{i}."
        meta = {"topic": ["x", "y", "z"][i % 3], "n": i}
        docs.append(Document(f"{prefix}{i}", text, source=f"{prefix}.jsonl", metadata=meta))
    return docs


def open_collection(tiny_embedder, name: str = "alpha", create: bool = False) -> Collection:
    return Collection(name, tiny_embedder.info, create=create)


@pytest.fixture
def filled(tiny_embedder) -> Collection:
    """A collection with 12 documents (3 of them long)."""
    collection = open_collection(tiny_embedder, create=True)
    ingest_documents(collection, tiny_embedder, make_docs(12))
    return collection


def index_ids(collection: Collection) -> set[int]:
    """Every chunk id in the in-memory FAISS index (via an exhaustive search)."""
    n = len(collection.index)
    if n == 0:
        return set()
    _, ids = collection.index.search(np.ones(collection.model.dimension, np.float32), n)
    return {int(i) for i in ids[0] if i >= 0}


def sqlite_chunk_ids(path: Path) -> set[int]:
    """Chunk ids straight from the database file, without the Store class."""
    with sqlite3.connect(path / colls.DB_FILE) as db:
        return {r[0] for r in db.execute("SELECT id FROM chunks")}


def file_identity(path: Path) -> tuple[int, int]:
    """(inode, mtime): an atomic rewrite changes the inode."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


# --- create, count, reopen ----------------------------------------------------------------


def test_create_ingest_and_count(tiny_embedder, data_dir: Path) -> None:
    collection = open_collection(tiny_embedder, create=True)
    docs = make_docs(12)
    report = ingest_documents(collection, tiny_embedder, docs)
    documents, chunks = collection.store.counts()
    assert (report.added, documents) == (12, 12)
    assert report.chunks == chunks == len(collection.index)
    assert chunks > 12  # the long documents were split, not truncated
    assert collection.path == data_dir / "alpha"
    for name in (colls.DB_FILE, colls.INDEX_FILE, colls.INDEX_STATE, colls.MANIFEST):
        assert (collection.path / name).is_file()
    assert index_ids(collection) == sqlite_chunk_ids(collection.path)
    info = collection.info()
    assert (info.name, info.documents, info.chunks, info.dimension) == ("alpha", 12, chunks, 32)


def test_stored_chunks_are_spans_of_their_documents(filled: Collection) -> None:
    texts = {d.doc_id: d.text for d in make_docs(12)}
    rows = filled.store.chunk_rows(sorted(sqlite_chunk_ids(filled.path)))
    for row in rows.values():
        assert texts[row.doc_id][row.start : row.end] == row.text
    long_rows = [r for r in rows.values() if r.doc_id == "d0"]
    assert len(long_rows) == long_rows[0].chunk_count > 1
    assert min(r.start for r in long_rows) == 0
    assert max(r.end for r in long_rows) == len(texts["d0"])


def test_ingested_chunks_fit_the_window_and_overlap(filled: Collection, tiny_embedder) -> None:
    rows = filled.store.chunk_rows(sorted(sqlite_chunk_ids(filled.path)))
    long_rows = sorted((r for r in rows.values() if r.doc_id == "d4"), key=lambda r: r.ordinal)
    assert len(long_rows) > 2
    for row in long_rows:
        tokens = tiny_embedder.tokenizer(row.text, add_special_tokens=False)["input_ids"]
        assert len(tokens) <= tiny_embedder.max_tokens
    for before, after in pairwise(long_rows):
        assert after.start < before.end  # neighbours share some text


def test_damaged_database_is_a_collection_error(tiny_embedder, data_dir: Path) -> None:
    folder = data_dir / "broken"
    folder.mkdir(parents=True)
    (folder / colls.DB_FILE).write_bytes(b"not a database at all" * 200)
    with pytest.raises(CollectionError, match="damaged"):
        open_collection(tiny_embedder, "broken")


def test_missing_collection_is_not_created(tiny_embedder, data_dir: Path) -> None:
    with pytest.raises(CollectionError, match="No collection named 'ghost'"):
        open_collection(tiny_embedder, "ghost")
    assert not (data_dir / "ghost").exists()
    assert not colls.exists("ghost")


def test_reopen_uses_saved_index_without_rebuilding(
    filled: Collection, tiny_embedder, caplog: pytest.LogCaptureFixture
) -> None:
    before = file_identity(filled.path / colls.INDEX_FILE)
    size = len(filled.index)
    with caplog.at_level(logging.INFO, logger="core.storage.collection"):
        again = open_collection(tiny_embedder)
    assert len(again.index) == size
    assert file_identity(filled.path / colls.INDEX_FILE) == before
    assert "rebuilding" not in caplog.text
    assert index_ids(again) == index_ids(filled)


def test_generation_mismatch_rebuilds_from_sqlite(filled: Collection, tiny_embedder) -> None:
    folder = filled.path
    old_index = (folder / colls.INDEX_FILE).read_bytes()
    old_state = (folder / colls.INDEX_STATE).read_text()
    ingest_documents(filled, tiny_embedder, make_docs(5, seed=9, prefix="new"))
    # A stale cache from before the second ingest, as if that save had never happened.
    (folder / colls.INDEX_FILE).write_bytes(old_index)
    (folder / colls.INDEX_STATE).write_text(old_state)
    assert len(VectorIndex.load(folder / colls.INDEX_FILE, 32)) < filled.store.counts()[1]
    before = file_identity(folder / colls.INDEX_FILE)
    again = open_collection(tiny_embedder)
    assert len(again.index) == again.store.counts()[1]
    assert index_ids(again) == sqlite_chunk_ids(folder)
    assert file_identity(folder / colls.INDEX_FILE) != before  # rebuilt and saved
    state = json.loads((folder / colls.INDEX_STATE).read_text())
    assert state["generation"] == again.store.generation
    assert state["count"] == len(again.index)


def test_bumped_generation_alone_triggers_rebuild(filled: Collection, tiny_embedder) -> None:
    with filled.store.transaction():
        pass  # a committed write that changed nothing still bumps the generation
    before = file_identity(filled.path / colls.INDEX_FILE)
    again = open_collection(tiny_embedder)
    assert file_identity(filled.path / colls.INDEX_FILE) != before
    assert index_ids(again) == sqlite_chunk_ids(filled.path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:10],
        lambda data: b"",
        lambda data: bytes(random.Random(5).randrange(256) for _ in range(len(data))),
    ],
    ids=["truncated-half", "truncated-header", "empty", "random-bytes"],
)
def test_corrupt_index_file_is_rebuilt(
    filled: Collection, tiny_embedder, damage, caplog: pytest.LogCaptureFixture
) -> None:
    path = filled.path / colls.INDEX_FILE
    path.write_bytes(damage(path.read_bytes()))
    with caplog.at_level(logging.INFO, logger="core.storage.collection"):
        again = open_collection(tiny_embedder)
    assert "rebuilding" in caplog.text
    assert index_ids(again) == sqlite_chunk_ids(filled.path)
    assert len(VectorIndex.load(path, 32)) == len(again.index)  # the repaired file was saved


def test_index_of_wrong_size_for_its_generation_is_rebuilt(
    filled: Collection, tiny_embedder
) -> None:
    VectorIndex(32).save(filled.path / colls.INDEX_FILE)  # readable, right generation, empty
    again = open_collection(tiny_embedder)
    assert index_ids(again) == sqlite_chunk_ids(filled.path)


def test_index_of_wrong_dimension_is_rebuilt(filled: Collection, tiny_embedder) -> None:
    VectorIndex(16).save(filled.path / colls.INDEX_FILE)
    again = open_collection(tiny_embedder)
    assert index_ids(again) == sqlite_chunk_ids(filled.path)


@pytest.mark.parametrize("name", [colls.INDEX_FILE, colls.INDEX_STATE])
def test_missing_index_or_state_is_rebuilt(filled: Collection, tiny_embedder, name: str) -> None:
    (filled.path / name).unlink()
    again = open_collection(tiny_embedder)
    assert index_ids(again) == sqlite_chunk_ids(filled.path)
    assert (filled.path / name).is_file()


def test_unreadable_state_file_is_rebuilt(filled: Collection, tiny_embedder) -> None:
    (filled.path / colls.INDEX_STATE).write_text("{not json")
    again = open_collection(tiny_embedder)
    assert index_ids(again) == sqlite_chunk_ids(filled.path)


# --- models -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_embedder(tmp_path_factory: pytest.TempPathFactory):
    """Another tiny model: same shape, other weights (seed 1)."""
    from core.model.embedder import Embedder

    return Embedder(str(build_tiny_model(tmp_path_factory.mktemp("tiny-seed-1"), seed=1)))


def test_collection_of_another_model_is_refused(
    filled: Collection, tiny_embedder, other_embedder
) -> None:
    assert other_embedder.info.fingerprint != tiny_embedder.info.fingerprint
    with pytest.raises(ModelMismatchError) as caught:
        open_collection(other_embedder)
    message = str(caught.value)
    assert tiny_embedder.info.label in message
    assert other_embedder.info.label in message
    assert "EMBEDLAB_MODEL=" in message
    assert open_collection(tiny_embedder).store.counts() == filled.store.counts()  # untouched


def test_collection_of_another_dimension_is_refused(filled: Collection, tiny_embedder) -> None:
    wider = dataclasses.replace(tiny_embedder.info, dimension=64)
    with pytest.raises(ModelMismatchError, match="64 dimensions"):
        Collection("alpha", wider)


# --- names --------------------------------------------------------------------------------


BAD_NAMES = ["../x", "a/b", "", ".hidden", "x" * 65, "..", ".", "a b", "-lead", "a\\b", "x/../y"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_names_are_refused_and_create_nothing(
    tiny_embedder, data_dir: Path, tmp_path: Path, name: str
) -> None:
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(CollectionError, match="not a valid collection name"):
        Collection(name, tiny_embedder.info, create=True)
    with pytest.raises(CollectionError):
        delete_collection(name)
    assert not colls.exists(name)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert [p for p in after if p not in before and p != Path("collections")] == []
    assert not (tmp_path / "x").exists()


def test_longest_valid_name_works(tiny_embedder, data_dir: Path) -> None:
    name = "x" * 64
    Collection(name, tiny_embedder.info, create=True)
    assert (data_dir / name / colls.DB_FILE).is_file()
    assert colls.exists(name)


# --- deleting -----------------------------------------------------------------------------


def test_delete_documents_removes_chunks_everywhere(filled: Collection, tiny_embedder) -> None:
    victims = ["d0", "d5"]  # a long document and a short one
    vectors = {}
    with sqlite3.connect(filled.path / colls.DB_FILE) as db:
        rows = db.execute(
            "SELECT c.id, c.vector FROM chunks c JOIN documents d ON d.id = c.doc"
            " WHERE d.doc_id IN ('d0', 'd5')"
        ).fetchall()
    vectors = {r[0]: np.frombuffer(r[1], np.float32) for r in rows}
    documents, chunks = filled.store.counts()
    removed = filled.delete_documents(victims)
    assert removed == len(vectors) > 2
    assert filled.store.counts() == (documents - 2, chunks - removed)
    assert filled.store.chunk_rows(list(vectors)) == {}
    assert index_ids(filled).isdisjoint(vectors)
    assert index_ids(filled) == sqlite_chunk_ids(filled.path)
    # Searching with the deleted chunks' own vectors never returns their documents.
    queries = np.stack(list(vectors.values()))
    for hits in search_vectors(filled, queries, 50):
        assert {h.doc_id for h in hits}.isdisjoint(victims)
        assert len(hits) == 10
    # Keyword index follows (a broken external-content FTS table fails integrity-check).
    filled.store.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')")
    fts = filled.store.db.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'd0'")
    assert fts.fetchall() == []
    # And the deletion survives a reopen (the index was saved).
    again = open_collection(tiny_embedder)
    assert index_ids(again) == sqlite_chunk_ids(filled.path)
    assert again.store.existing(victims, [])[0] == set()


def test_remove_documents_counts_what_was_deleted(filled: Collection) -> None:
    """Unknown and repeated ids are not counted as deleted."""
    deleted = filled.remove_documents(["d1", "nope", "d1", "also-missing"])
    assert (deleted.documents, deleted.chunks) == (1, 1)
    assert filled.remove_documents(["d1"]).documents == 0


def test_delete_unknown_document_changes_nothing(filled: Collection) -> None:
    before = filled.store.counts()
    assert filled.delete_documents(["nope"]) == 0
    assert filled.store.counts() == before


def test_delete_collection(filled: Collection, tiny_embedder, data_dir: Path) -> None:
    delete_collection("alpha")
    assert not (data_dir / "alpha").exists()
    assert [p.name for p in data_dir.iterdir()] == []  # no leftover trash folder
    assert list_collections() == []
    with pytest.raises(CollectionError, match="No collection named"):
        open_collection(tiny_embedder)
    with pytest.raises(CollectionError, match="No collection named"):
        delete_collection("alpha")


def test_list_collections(tiny_embedder, data_dir: Path) -> None:
    for name, count in (("beta", 3), ("alpha", 5)):
        ingest_documents(
            open_collection(tiny_embedder, name, True), tiny_embedder, make_docs(count)
        )
    (data_dir / "not a collection").mkdir()
    (data_dir / ".cache").mkdir()
    broken = data_dir / "broken"
    broken.mkdir()
    (broken / colls.DB_FILE).write_bytes(b"this is not a database" * 100)
    listed = list_collections()
    assert [c.name for c in listed] == ["alpha", "beta"]
    assert [c.documents for c in listed] == [5, 3]
    alpha = listed[0]
    assert alpha.chunks == open_collection(tiny_embedder).store.counts()[1]
    assert (alpha.model, alpha.dimension, alpha.index) == (tiny_embedder.info.label, 32, "flat-ip")
    assert alpha.size_bytes > 0
    assert alpha.as_dict()["name"] == "alpha"


# --- duplicates and resuming --------------------------------------------------------------


def test_exact_duplicates_are_detected(filled: Collection, tiny_embedder) -> None:
    original = make_docs(12)[3]
    copies = [
        Document("copy-1", original.text, source="x"),
        Document("copy-2", "  " + original.text.replace(" ", "\n  ") + " ", source="x"),
        Document("fresh", "an entirely new text here", source="x"),
        Document("fresh-again", "an entirely new text here", source="x"),
    ]
    before = filled.store.counts()
    report = ingest_documents(filled, tiny_embedder, copies)
    assert report.duplicates == ["copy-1", "copy-2", "fresh-again"]
    assert report.added == 1
    assert filled.store.counts()[0] == before[0] + 1


def test_same_id_with_different_text_in_one_batch_keeps_both(tiny_embedder) -> None:
    collection = open_collection(tiny_embedder, create=True)
    docs = [Document("same", "first text", "a"), Document("same", "second text", "b")]
    report = ingest_documents(collection, tiny_embedder, docs)
    assert (report.added, report.problems, report.renamed) == (2, [], [("same", "same (2)")])
    stored = {d["doc_id"]: d["source"] for d in collection.store.documents()}
    assert stored == {"same": "a", "same (2)": "b"}


def test_reingest_adds_nothing(filled: Collection, tiny_embedder) -> None:
    before = filled.store.counts(), filled.store.generation
    index_file = file_identity(filled.path / colls.INDEX_FILE)
    report = ingest_documents(filled, tiny_embedder, make_docs(12))
    assert (report.added, report.chunks, report.already_present) == (0, 0, 12)
    assert (filled.store.counts(), filled.store.generation) == before
    assert file_identity(filled.path / colls.INDEX_FILE) == index_file


def test_resume_after_partial_ingest(tiny_embedder) -> None:
    docs = make_docs(20)
    collection = open_collection(tiny_embedder, create=True)
    ingest_documents(collection, tiny_embedder, docs[:7])
    report = ingest_documents(open_collection(tiny_embedder), tiny_embedder, docs)
    assert (report.added, report.already_present) == (13, 7)
    again = open_collection(tiny_embedder)
    assert again.store.counts()[0] == 20
    assert index_ids(again) == sqlite_chunk_ids(again.path)


def test_small_batches_and_progress(tiny_embedder) -> None:
    seen: list[tuple[int, int]] = []
    collection = open_collection(tiny_embedder, create=True)
    report = ingest_documents(
        collection,
        tiny_embedder,
        make_docs(10),
        progress=lambda a, b: seen.append((a, b)),
        batch_size=4,
    )
    assert seen == [(0, 10), (4, 10), (8, 10), (10, 10)]  # 0: embedding starts
    assert report.added == 10
    assert index_ids(collection) == sqlite_chunk_ids(collection.path)


def test_kill_between_commit_and_index_save_is_consistent(tiny_embedder) -> None:
    collection = open_collection(tiny_embedder, create=True)
    ingest_documents(collection, tiny_embedder, make_docs(6))
    saved = file_identity(collection.path / colls.INDEX_FILE)
    # A batch committed to SQLite, then the process died before the FAISS file was written.
    docs = make_docs(4, seed=3, prefix="late")
    chunks = chunk_texts([d.text for d in docs], tiny_embedder.tokenizer, 62, 15)
    vectors = tiny_embedder.encode([c.text for cs in chunks for c in cs])
    collection.store.add(docs, chunks, vectors)
    collection.store.close()
    assert file_identity(collection.path / colls.INDEX_FILE) == saved

    again = open_collection(tiny_embedder)
    assert again.store.counts()[0] == 10
    assert index_ids(again) == sqlite_chunk_ids(again.path)
    hits = search_vectors(again, vectors[:1], 1)[0]
    assert hits[0].doc_id == "late0"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    # Resuming the ingest adds nothing twice.
    assert ingest_documents(again, tiny_embedder, docs).already_present == 4


def test_open_collection_sees_writes_from_another_handle(filled: Collection, tiny_embedder) -> None:
    other = open_collection(tiny_embedder)
    ingest_documents(other, tiny_embedder, make_docs(3, seed=4, prefix="other"))
    vector = other.store.vectors_for([max(sqlite_chunk_ids(filled.path))], 32)
    hits = search_vectors(filled, vector, 1)[0]  # refresh() notices the new generation
    assert hits[0].doc_id.startswith("other")
    assert len(filled.index) == other.store.counts()[1]


# --- files on disk ------------------------------------------------------------------------


def test_manifest_names_model_dimension_counts_and_version(
    filled: Collection, tiny_embedder
) -> None:
    manifest = json.loads((filled.path / colls.MANIFEST).read_text())
    documents, chunks = filled.store.counts()
    assert manifest["format_version"] == colls.FORMAT_VERSION == 1
    assert manifest["name"] == "alpha"
    assert manifest["model"] == dataclasses.asdict(tiny_embedder.info)
    assert manifest["model"]["dimension"] == 32
    assert (manifest["documents"], manifest["chunks"]) == (documents, chunks)
    assert manifest["index"]["kind"] == "flat-ip"
    filled.delete_documents(["d1"])
    manifest = json.loads((filled.path / colls.MANIFEST).read_text())
    assert manifest["documents"] == documents - 1


def test_no_pickle_on_disk(filled: Collection, data_dir: Path) -> None:
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {colls.DB_FILE, colls.INDEX_FILE, colls.MANIFEST}
    for path in files:
        assert path.suffix not in (".pkl", ".pickle", ".npy", ".joblib")
        head = path.read_bytes()[:2]
        assert not (head[:1] == b"\x80" and 2 <= head[1:2][0] <= 5), path  # pickle protocol
    # The cache is FAISS's own format, readable by FAISS itself; the rest is JSON or SQLite.
    assert faiss.read_index(str(filled.path / colls.INDEX_FILE)).ntotal == len(filled.index)
    for name in (colls.MANIFEST, colls.INDEX_STATE):
        json.loads((filled.path / name).read_text())
    assert (filled.path / colls.DB_FILE).read_bytes()[:16] == b"SQLite format 3\x00"


def test_no_temp_files_left_behind(filled: Collection) -> None:
    assert [p.name for p in filled.path.iterdir() if p.name.endswith(".tmp")] == []


# --- metadata -----------------------------------------------------------------------------


def test_chunk_ids_where(filled: Collection) -> None:
    with sqlite3.connect(filled.path / colls.DB_FILE) as db:
        rows = db.execute(
            "SELECT c.id, d.metadata FROM chunks c JOIN documents d ON d.id = c.doc"
        ).fetchall()
    for topic in ("x", "y", "z"):
        expected = sorted(r[0] for r in rows if json.loads(r[1])["topic"] == topic)
        assert sorted(filled.store.chunk_ids_where("topic", topic).tolist()) == expected
        assert expected
    n4 = sorted(r[0] for r in rows if json.loads(r[1])["n"] == 4)
    assert sorted(filled.store.chunk_ids_where("n", "4").tolist()) == n4
    assert filled.store.chunk_ids_where("topic", "nope").size == 0
    assert filled.store.chunk_ids_where("missing", "x").size == 0
    assert filled.store.chunk_ids_where("topic", "x").dtype == np.int64


def test_filter_values_match_the_values_offered(tiny_embedder) -> None:
    """Every value metadata_fields() offers for a menu must select its documents."""
    collection = open_collection(tiny_embedder, create=True)
    metas = [
        {"flag": True, "score": 1.5, "odd key": "a", 'quo"te': "q", "a.b": "dot", "n": 3},
        {"flag": False, "score": 2, "odd key": "b", 'quo"te': "r", "a.b": "dot", "n": None},
    ]
    docs = [Document(f"m{i}", f"text number {i}", "s", metadata=m) for i, m in enumerate(metas)]
    ingest_documents(collection, tiny_embedder, docs)
    fields = collection.store.metadata_fields()
    assert fields["flag"] == ["False", "True"]
    for field, values in fields.items():
        for value in values:
            chosen = collection.store.chunk_rows(collection.store.chunk_ids_where(field, value))
            expected = {d.doc_id for d in docs if str(d.metadata.get(field)) == value}
            assert {r.doc_id for r in chosen.values()} == expected, (field, value)


@pytest.mark.parametrize(
    "value", [1 / 3, 1e20, 12345678901234567890, 0.1 + 0.2, -2.5e-300, 7, "0.5", True]
)
def test_numbers_in_the_filter_menu_match_their_documents(tiny_embedder, value) -> None:
    """SQLite prints numbers its own way (1e+20 as 1.0e+20); the menu's text must still match."""
    collection = open_collection(tiny_embedder, create=True)
    docs = [
        Document("hit", "the one with the value", "s", metadata={"v": value}),
        Document("miss", "another document", "s", metadata={"v": "something else"}),
    ]
    ingest_documents(collection, tiny_embedder, docs)
    [shown] = [v for v in collection.store.metadata_fields()["v"] if v != "something else"]
    assert shown == str(value)
    rows = collection.store.chunk_rows(collection.store.chunk_ids_where("v", shown))
    assert [r.doc_id for r in rows.values()] == ["hit"]


def test_documents_listing_pages(filled: Collection) -> None:
    page = filled.store.documents(limit=5, offset=10)
    assert [d["doc_id"] for d in page] == ["d10", "d11"]
    assert all(d["chunks"] >= 1 for d in page)
    assert json.loads(page[0]["metadata"])["topic"] == "y"


def test_store_is_readable_from_another_thread(filled: Collection) -> None:
    import threading

    out: list[tuple[int, int]] = []
    thread = threading.Thread(target=lambda: out.append(filled.store.counts()))
    thread.start()
    thread.join()
    assert out == [filled.store.counts()]


def test_index_file_is_replaced_atomically(filled: Collection) -> None:
    path = filled.path / colls.INDEX_FILE
    before = os.stat(path).st_ino
    filled.save_index()
    assert os.stat(path).st_ino != before  # a new file renamed over the old, never rewritten
    assert len(VectorIndex.load(path, 32)) == len(filled.index)


def test_index_add_while_searching_from_other_threads() -> None:
    """FAISS is not safe for add during search; the index's lock must serialise them."""
    import threading

    rng = np.random.default_rng(0)
    index = VectorIndex.build(np.arange(500), rng.standard_normal((500, 32)).astype(np.float32))
    errors: list[BaseException] = []

    def add() -> None:
        for batch in range(40):
            ids = np.arange(500 + batch * 50, 550 + batch * 50)
            index.add(ids, rng.standard_normal((50, 32)).astype(np.float32))

    def search() -> None:
        try:
            for _ in range(150):
                scores, ids = index.search(np.ones((4, 32), np.float32), 10)
                assert (ids >= 0).all() and scores.shape == (4, 10)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add)] + [threading.Thread(target=search) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(index) == 500 + 40 * 50
