"""One model shared by every Streamlit session: its tokenizer must survive concurrent calls."""

from __future__ import annotations

import copy
import threading

from core.documents.chunking import chunk_texts
from core.model.loading import thread_safe_tokenizer

TEXTS = [" ".join(["word"] * n) for n in range(1, 80)]


def hammer(tokenizer, encode, rounds: int = 60) -> list[str]:
    """Chunk (no padding) and encode (padding, truncation) at once; the errors seen."""
    errors: list[str] = []

    def chunker() -> None:
        for _ in range(rounds):
            try:
                chunk_texts(TEXTS, tokenizer, 40, 8)
            except Exception as exc:  # any failure is what the test counts
                errors.append(repr(exc)[:120])

    def encoder() -> None:
        for _ in range(rounds):
            try:
                encode(TEXTS)
            except Exception as exc:
                errors.append(repr(exc)[:120])

    threads = [threading.Thread(target=f) for f in (chunker, encoder, chunker, encoder)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def padded(tokenizer):
    """What sentence-transformers does before a forward pass: pad and truncate a batch."""
    return lambda texts: tokenizer(
        texts, padding=True, truncation="longest_first", max_length=64, return_tensors="pt"
    )


def test_an_unlocked_tokenizer_races_which_is_why_the_lock_exists(tiny_embedder) -> None:
    raw = copy.deepcopy(tiny_embedder.tokenizer)
    raw.__class__ = type(raw).__mro__[1]  # the tokenizer class as transformers made it
    errors = []
    for _ in range(20):  # a race: give it a few chances to show
        errors += hammer(raw, padded(raw))
        if errors:
            break
    assert errors, "the plain tokenizer survived; the lock may no longer be needed"


def test_the_embedders_tokenizer_survives_sessions_chunking_and_encoding_at_once(
    tiny_embedder,
) -> None:
    tokenizer = tiny_embedder.tokenizer
    assert getattr(type(tokenizer), "_embedlab_locked", False)
    assert hammer(tokenizer, padded(tokenizer)) == []
    assert hammer(tokenizer, tiny_embedder.encode, rounds=10) == []


def test_locking_twice_is_harmless_and_keeps_the_tokenizer_class(tiny_embedder) -> None:
    tokenizer = tiny_embedder.tokenizer
    before = type(tokenizer)
    assert thread_safe_tokenizer(tokenizer) is tokenizer
    assert type(tokenizer) is before
    assert isinstance(tokenizer, before.__mro__[1])
    assert (
        tokenizer("a b c")["input_ids"]
        == tokenizer.__class__.__mro__[1].__call__(tokenizer, "a b c")["input_ids"]
    )


def test_bulk_encoding_runs_at_lower_cpu_priority_and_gives_the_same_vectors(
    tiny_model_dir, tmp_path, monkeypatch
) -> None:
    """An ingest's embedding yields the cores to searches: it runs on a thread whose nice
    value is ``bulk_nice`` above the caller's, and its vectors are encode's."""
    import os

    import numpy as np

    from core.documents.readers import from_text
    from core.ingest.pipeline import ingest_documents
    from core.model.embedder import Embedder
    from core.storage.collection import Collection

    def bulk_workers() -> list[threading.Thread]:  # other embedders' (the pages') excluded
        return [t for t in threading.enumerate() if t.name.startswith("embedlab-bulk")]

    others = set(bulk_workers())
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))
    embedder = Embedder(str(tiny_model_dir), bulk_nice=4)
    texts = [f"passage number {n} about rivers and banks" for n in range(40)]
    assert np.allclose(embedder.encode_bulk(texts), embedder.encode(texts), atol=1e-5)
    workers = [t for t in bulk_workers() if t not in others]
    assert len(workers) == 1
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert os.getpriority(os.PRIO_PROCESS, workers[0].native_id) == min(19, mine + 4)
    assert mine == os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # caller kept

    collection = Collection("bulk", embedder.info, create=True)
    report = ingest_documents(collection, embedder, [from_text(t) for t in texts[:5]])
    assert report.added == 5 and collection.store.counts()[0] == 5
    assert [t for t in bulk_workers() if t not in others] == workers  # one worker, reused
