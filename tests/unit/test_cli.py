"""The command line contract, run as a real subprocess (``python -m core``) on the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tiny_model_dir: Path, data_dir: Path):
    env = dict(os.environ, EMBEDLAB_MODEL=str(tiny_model_dir), EMBEDLAB_DATA_DIR=str(data_dir))

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "core", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    rows = [
        {
            "_id": "a1",
            "title": "Rivers",
            "text": "The river bank flooded after rain.",
            "lang": "en",
        },
        {"_id": "a2", "title": "Money", "text": "The bank raised interest rates.", "lang": "en"},
        {"_id": "a3", "title": "Snakes", "text": "A python swallowed a rabbit.", "lang": "fr"},
    ]
    (folder / "docs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (folder / "note.md").write_text("# Note\nMarkdown about gardens and soil.")
    return folder


def test_ingest_search_collections_delete(cli, corpus: Path, tmp_path: Path) -> None:
    out = cli(
        "ingest",
        str(corpus),
        "--collection",
        "c1",
        "--text-fields",
        "title,text",
        "--id-field",
        "_id",
    )
    assert "added 4 documents" in out.stdout
    again = cli(
        "ingest",
        str(corpus),
        "--collection",
        "c1",
        "--text-fields",
        "title,text",
        "--id-field",
        "_id",
    )
    assert "added 0 documents" in again.stdout and "4 already" in again.stdout

    hits = json.loads(
        cli("search", "river flood", "--collection", "c1", "-k", "2", "--json").stdout
    )["hits"]
    assert len(hits) == 2
    assert {h["doc_id"] for h in hits} <= {"a1", "a2", "a3", "note.md"}

    queries = tmp_path / "q.jsonl"
    queries.write_text('{"_id": "q1", "text": "snake"}\n{"id": 7, "text": "money"}\n')
    lines = cli(
        "search", "--collection", "c1", "--queries", str(queries), "-k", "3", "--json"
    ).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["query_id"] for r in records] == ["q1", "7"]
    assert all(set(h) == {"doc_id", "score", "text"} for r in records for h in r["hits"])
    assert all(len(r["hits"]) == 3 for r in records)

    filtered = json.loads(
        cli("search", "anything", "--collection", "c1", "--where", "lang=fr", "--json").stdout
    )["hits"]
    assert [h["doc_id"] for h in filtered] == ["a3"]

    listing = json.loads(cli("collections", "--json").stdout)
    assert listing[0]["name"] == "c1" and listing[0]["documents"] == 4
    assert {"name", "documents", "chunks", "model"} <= set(listing[0])

    cli("delete", "c1")
    assert json.loads(cli("collections", "--json").stdout) == []


def test_weight_and_delete_documents_report(cli, corpus: Path) -> None:
    cli(
        "ingest",
        str(corpus),
        "--collection",
        "c2",
        "--text-fields",
        "title,text",
        "--id-field",
        "_id",
    )
    base = ["search", "river bank", "--collection", "c2", "-k", "4", "--json"]
    meaning = json.loads(cli(*base, "--weight", "1").stdout)
    dense = json.loads(cli(*base, "--mode", "dense").stdout)
    assert [h["doc_id"] for h in meaning["hits"]] == [h["doc_id"] for h in dense["hits"]]
    assert meaning["weight"] == 1.0 and "1.00 × cosine scaled" in meaning["hits"][0]["formula"]
    assert all(h["keyword_score"] is not None for h in meaning["hits"])
    bad = cli(*base, "--weight", "2", ok=False)
    assert bad.returncode == 2 and "weight of meaning" in bad.stderr
    out = cli("delete", "c2", "--documents", "a1", "nope", "a1").stdout
    assert "deleted 1 documents (1 chunks)" in out and "1 not found" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "x", "--collection", "../etc"], "not a valid collection name"),
        (["search", "x", "--collection", "missing"], "No collection named 'missing'"),
        (["search", "--collection", "missing"], "either a query"),
        (["search", "x", "--collection", "c", "-k", "0"], "between 1 and"),
        (["delete", "missing"], "No collection named"),
        (["ingest", "/no/such/file.txt", "--collection", "c"], "Nothing to ingest"),
    ],
)
def test_errors_go_to_stderr_with_nonzero_exit(cli, args: list[str], message: str) -> None:
    proc = cli(*args, ok=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_empty_and_long_queries_refused(cli, corpus: Path) -> None:
    cli("ingest", str(corpus / "note.md"), "--collection", "c2")
    for query in ["   ", "word " * 2000]:
        proc = cli("search", query, "--collection", "c2", ok=False)
        assert proc.returncode == 2 and "error:" in proc.stderr


def test_bad_files_reported_good_ones_kept(cli, tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A fine sentence about tea.")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\nnot json\n')
    (tmp_path / "broken.csv").write_text('id,text\n1,"never closed\n')
    proc = cli(
        "ingest",
        str(tmp_path / "good.txt"),
        str(tmp_path / "bad.jsonl"),
        str(tmp_path / "broken.csv"),
        "--collection",
        "c3",
    )
    assert "added 1 documents" in proc.stdout
    assert "Line 2 is not valid JSON" in proc.stderr
    assert "broken.csv" in proc.stderr


def test_model_mismatch_refused(cli, corpus: Path, data_dir: Path, tmp_path: Path) -> None:
    from tiny_model import build_tiny_model

    cli("ingest", str(corpus / "note.md"), "--collection", "c4")
    other = build_tiny_model(tmp_path / "other", seed=1)
    env = dict(os.environ, EMBEDLAB_MODEL=str(other), EMBEDLAB_DATA_DIR=str(data_dir))
    proc = subprocess.run(
        [sys.executable, "-m", "core", "search", "soil", "--collection", "c4"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "was built with model" in proc.stderr


def test_export_projector_writes_aligned_tsv_files(cli, corpus: Path, tmp_path: Path) -> None:
    cli("ingest", str(corpus), "--collection", "c5", "--id-field", "_id")
    out = tmp_path / "projector"
    proc = cli("export", "--collection", "c5", "--format", "projector", str(out))
    assert "4 vectors" in proc.stdout
    vectors = (out / "vectors.tsv").read_text().splitlines()
    metadata = (out / "metadata.tsv").read_text().splitlines()
    assert len(vectors) == 4 and len(metadata) == 5  # metadata has a header row
    assert all(len(line.split("\t")) == 32 for line in vectors)  # the tiny model's dimension
    assert metadata[0].split("\t")[:2] == ["doc_id", "title"]
    assert {line.split("\t")[0] for line in metadata[1:]} >= {"a1", "a2", "a3"}
    assert not list(out.glob(".*.tmp"))
    proc = cli("export", "--collection", "missing", str(out), ok=False)
    assert proc.returncode == 2 and "No collection named 'missing'" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare-word", "bank"], "Give a word and two sentences"),
        (["compare-word", "--pairs", "/no/such.jsonl"], "Cannot read"),
    ],
)
def test_compare_word_usage_errors(cli, args: list[str], message: str) -> None:
    proc = cli(*args, ok=False)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_search_sense_on_the_tiny_model_says_the_verdict_needs_a_calibration(
    cli, corpus: Path
) -> None:
    cli("ingest", str(corpus), "--collection", "c", "--text-fields", "title,text")
    proc = cli("search-sense", "bank", "A river bank.", "--collection", "c", ok=False)
    assert proc.returncode != 0 and "calibrated for another model" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_search_sense_json_on_the_real_model(corpus: Path, data_dir: Path) -> None:
    env = dict(os.environ, EMBEDLAB_DATA_DIR=str(data_dir))
    env.pop("EMBEDLAB_MODEL", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "core", *args]
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc

    run(
        "ingest",
        str(corpus),
        "--collection",
        "c",
        "--text-fields",
        "title,text",
        "--id-field",
        "_id",
    )
    sentence = "We sat on the grassy bank of the river."
    out = json.loads(run("search-sense", "bank", sentence, "--collection", "c", "--json").stdout)
    assert out["examined"] == 2 and not out["capped"] and out["limit"] == 5000
    hits = out["same"] + out["other"]
    assert sorted(h["doc_id"] for h in hits) == ["a1", "a2"]
    best = max(hits, key=lambda h: h["cosine"])
    assert best["doc_id"] == "a1" and best["same_sense"] and best["form"] == "bank"
    text = run("search-sense", "bank", sentence, "--collection", "c", "-k", "1").stdout
    assert "Compared 2 occurrences" in text and "[bank]" in text
