"""Ids and the per-ingest limit: a blank id becomes an id made from the text, a different
document under a taken id is kept under a new one (``notes.txt (2)``), and the limit on
documents counts every file of an ingest together, refusing it before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import cli
from core.config import Limits
from core.documents import readers
from core.documents.readers import Document, FieldSpec, load_paths, read_bytes
from core.errors import InputError
from core.ingest.pipeline import ingest_documents
from core.storage.collection import Collection, exists

FIELDS = FieldSpec()


def stored(collection: Collection) -> dict[str, str]:
    """id -> text of every stored document."""
    rows = collection.store.db.execute("SELECT doc_id, text FROM documents").fetchall()
    return dict(rows)


@pytest.fixture
def notes(tiny_embedder) -> Collection:
    return Collection("notes", tiny_embedder.info, create=True)


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """At most 3 documents per ingest."""
    monkeypatch.setattr(readers, "LIMITS", Limits(max_documents_per_ingest=3))
    return 3


# --- blank ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["   ", "\t", "\u3000 \n", ""])
def test_a_blank_id_gets_an_id_made_from_the_text(blank: str) -> None:
    rows = [{"id": blank, "text": "Bees make honey."}, {"id": blank, "text": "Owls hunt."}]
    jsonl = "".join(json.dumps(r) + "\n" for r in rows).encode()
    csv = ("id,text\n" + "".join(f'"{blank}",{r["text"]}\n' for r in rows)).encode()
    for data, name in ((jsonl, "rows.jsonl"), (csv, "rows.csv")):
        docs = read_bytes(data, name, name, FIELDS)
        ids = [d.doc_id for d in docs]
        assert ids == [readers.generated_id("rows", r["text"]) for r in rows], (name, ids)


def test_ingest_refuses_a_document_with_a_blank_id(notes: Collection, tiny_embedder) -> None:
    docs = [Document("  ", "Blank id.", "api"), Document("ok", "Fine id.", "api")]
    report = ingest_documents(notes, tiny_embedder, docs)
    assert report.added == 1 and stored(notes) == {"ok": "Fine id."}
    assert [(p.source, p.reason) for p in report.problems] == [
        ("api", "a document has an empty id")
    ]


# --- taken ids ------------------------------------------------------------------------------


def upload(name: str, text: str) -> list[Document]:
    return read_bytes(text.encode(), name, name, FIELDS)


def test_two_uploads_named_alike_are_both_kept(notes: Collection, tiny_embedder) -> None:
    first = ingest_documents(notes, tiny_embedder, upload("notes.txt", "Bees make honey."))
    assert (first.added, first.renamed) == (1, [])
    second = ingest_documents(notes, tiny_embedder, upload("notes.txt", "Owls hunt at night."))
    assert (second.added, second.already_present, second.renamed) == (
        1,
        0,
        [("notes.txt", "notes.txt (2)")],
    )
    assert "'notes.txt' as 'notes.txt (2)'" in second.summary()
    third = ingest_documents(notes, tiny_embedder, upload("notes.txt", "Bats fly."))
    assert third.renamed == [("notes.txt", "notes.txt (3)")]
    assert stored(notes) == {
        "notes.txt": "Bees make honey.",
        "notes.txt (2)": "Owls hunt at night.",
        "notes.txt (3)": "Bats fly.",
    }
    # The same files again add nothing: same id and text, or the same text under its new id.
    again = ingest_documents(
        notes,
        tiny_embedder,
        upload("notes.txt", "Bees make honey.") + upload("notes.txt", "Bats fly."),
    )
    assert (again.added, again.already_present, again.duplicates, again.renamed) == (
        0,
        1,
        ["notes.txt"],
        [],
    )
    assert len(stored(notes)) == 3 and len(notes.index) == 3


def test_alike_names_in_one_ingest_are_both_kept(notes: Collection, tiny_embedder) -> None:
    docs = upload("notes.txt", "Bees make honey.") + upload("notes.txt", "Owls hunt at night.")
    docs += upload("notes.txt", "Bees  make honey.")  # the first again (spacing aside)
    report = ingest_documents(notes, tiny_embedder, docs)
    assert (report.added, report.duplicates) == (2, ["notes.txt"])
    assert report.renamed == [("notes.txt", "notes.txt (2)")]
    assert stored(notes) == {
        "notes.txt": "Bees make honey.",
        "notes.txt (2)": "Owls hunt at night.",
    }


def test_a_new_id_skips_ids_already_used(notes: Collection, tiny_embedder) -> None:
    docs = [Document(i, f"Text of {i}.", "t") for i in ("a", "a (2)")]
    ingest_documents(notes, tiny_embedder, docs)
    report = ingest_documents(notes, tiny_embedder, [Document("a", "Another a.", "t")])
    assert report.renamed == [("a", "a (3)")]


# --- the limit across an ingest -------------------------------------------------------------


def write_rows(folder: Path, name: str, count: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"id": f"r{i}", "text": f"Record {i}."}) for i in range(start, start + count)
    ]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_paths_counts_documents_across_files(tmp_path: Path, small_limit: int) -> None:
    write_rows(tmp_path / "in", "a.jsonl", 2)
    write_rows(tmp_path / "in", "b.jsonl", 2, start=2)
    with pytest.raises(InputError, match=r"over 4 documents across its files.*limit is 3"):
        load_paths([tmp_path / "in"])
    assert len(load_paths([tmp_path / "in" / "a.jsonl"]).documents) == 2


def test_ingest_over_the_limit_writes_nothing(
    notes: Collection, tiny_embedder, small_limit: int
) -> None:
    docs = [Document(f"d{i}", f"Text {i}.", "t") for i in range(small_limit + 1)]
    with pytest.raises(InputError, match=r"limit is 3 per ingest\. Nothing was added"):
        ingest_documents(notes, tiny_embedder, docs)
    assert notes.store.counts() == (0, 0) and notes.store.generation == 0
    assert ingest_documents(notes, tiny_embedder, docs[:small_limit]).added == small_limit


def test_cli_refuses_a_folder_over_the_limit(
    tmp_path: Path, tiny_model_dir: Path, small_limit: int, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("EMBEDLAB_MODEL", str(tiny_model_dir))
    write_rows(tmp_path / "in", "a.jsonl", 2)
    write_rows(tmp_path / "in" / "more", "b.jsonl", 2, start=2)
    assert cli.main(["ingest", str(tmp_path / "in"), "--collection", "big"]) == 2
    err = capsys.readouterr().err
    assert "limit is 3 per ingest" in err and "Nothing was added" in err
    assert not exists("big")


def test_cli_keeps_two_files_named_alike(tmp_path: Path, tiny_model_dir: Path, monkeypatch, capsys):
    monkeypatch.setenv("EMBEDLAB_MODEL", str(tiny_model_dir))
    for folder, text in (("a", "Bees make honey."), ("b", "Owls hunt at night.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.txt").write_text(text)
    paths = [str(tmp_path / "a" / "notes.txt"), str(tmp_path / "b" / "notes.txt")]
    assert cli.main(["ingest", *paths, "--collection", "kept", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 2
    assert report["renamed"] == [{"id": "notes.txt", "stored_as": "notes.txt (2)"}]
