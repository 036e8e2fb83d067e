"""Hostile input: a fuzz run over every accepted format, and the PDF reader's limits.

``python -m measure.fuzz`` is run as a real subprocess (its own parsing worker, the PDF reader's
own sandbox) on about 100 malformed files, with every parsed file ingested and searched on
the tiny model. ``python -m measure.fuzz --count 500`` is the full run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.documents.pdf import read_pdf
from core.documents.readers import FieldSpec, read_bytes
from core.errors import InputError
from core.ingest.pipeline import ingest_documents
from core.storage.collection import Collection
from measure import fuzz

ROOT = Path(__file__).resolve().parents[2]


def test_fuzz_run_has_no_crash_and_no_hang(tiny_embedder, tmp_path: Path) -> None:
    keep = tmp_path / "fuzz"
    command = [sys.executable, "-m", "measure.fuzz", "--count", "100", "--seed", "1"]
    command += ["--pdf-seconds", "4", "--json", "--keep", str(keep)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout)
    assert report["crashes_and_hangs"] == [], report["crashes_and_hangs"]
    assert (report["crashes"], report["hangs"]) == (0, 0)
    assert report["ingested"] + report["refused"] == report["files"] == 100
    assert report["kinds_of_file"] >= 90  # nearly every generator, none twice
    assert report["ingested"] > 10 and report["refused"] > 30
    assert done.returncode == 0, done.stderr[-2000:]
    # Everything that parsed goes on through ingest and search, as an upload would.
    outcomes = report["outcomes"]
    files = [
        fuzz.FuzzFile(o["file"], o["label"], o["name"], keep / "files" / f"{o['file']:04d}.bin")
        for o in outcomes
    ]
    ingest = fuzz.ingest_parsed(files, outcomes, tiny_embedder)
    assert ingest.files == report["ingested"] and ingest.documents_stored > 0
    assert (ingest.crashes, ingest.search_crashes, ingest.errors) == (0, 0, [])


def test_every_generator_makes_bytes() -> None:
    table = fuzz.generators()
    assert len(table) >= 100
    labels = {label for label, _ in table}
    for needed in ("pdf:", "csv:", "jsonl:", "wrong extension:", "txt: huge line"):
        assert any(label.startswith(needed) for label in labels), needed


def test_pdf_decompression_bomb_is_stopped_by_the_time_limit() -> None:
    bomb = fuzz.bomb_pdf(70 << 20)  # 70 KB that inflate to 70 MB of text: minutes in pypdf
    assert len(bomb) < 100_000
    started = time.monotonic()
    with pytest.raises(InputError, match="took more than 2 s"):
        read_pdf(bomb, seconds=2)
    assert time.monotonic() - started < 10


def test_pdf_reader_memory_limit_refuses_cleanly() -> None:
    with pytest.raises(InputError, match=r"memory|within"):
        read_pdf(fuzz.bomb_pdf(70 << 20), seconds=30, memory=150 << 20)


def test_pdf_reader_still_reads_normal_pdfs_and_stops_big_bombs_fast() -> None:
    text, meta = read_pdf(fuzz.text_pdf("Hello embedding lab", pages=2))
    assert "Hello embedding lab" in text and meta == {"pages": 2}
    with pytest.raises(InputError, match="could not be read"):
        read_pdf(fuzz.bomb_pdf(256 << 20, fill=b"\x00"))  # over pypdf inflate limit


def test_lone_surrogates_from_json_escapes_are_stored(tiny_embedder) -> None:
    """Found by the fuzzer: JSON "\\ud800" escapes made SQLite raise UnicodeEncodeError."""
    data = b'{"id": "\\ud800", "text": "a \\udfff b \\ud83d\\ude00", "\\udc80": ["\\ud800"]}\n'
    [doc] = read_bytes(data, "s.jsonl", "s.jsonl", FieldSpec())
    assert doc.text == "a \ufffd b \U0001f600" and doc.doc_id == "\ufffd"
    assert doc.metadata == {"\ufffd": ["\ufffd"]}
    collection = Collection("surrogates", tiny_embedder.info, create=True)
    assert ingest_documents(collection, tiny_embedder, [doc]).added == 1
