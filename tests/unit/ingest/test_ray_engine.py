"""``ingest --engine ray`` on a real two-node Ray cluster (``conftest.ray_cluster``) against
the single-process ingest of the same files: the same collection (ids, chunk texts, vectors
within 1e-5), resumable (half then all; a killed run), the same messages for bad input (on a
Ray started for the one ingest), and a clear error for a cluster that is not there. The tiny
random BERT keeps the models fast."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from core import cli
from core.storage.collection import Collection
from core.storage.store import Store

ROOT = Path(__file__).resolve().parents[3]
WORDS = "river bank money loan owl night bee honey garden soil rain cloud".split()


@pytest.fixture
def on_cluster(ray_cluster, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """This process set to join the test cluster, with the tiny model; the env it uses."""
    env = {**ray_cluster.env, "RAY_ADDRESS": ray_cluster.address}
    env["EMBEDLAB_MODEL"] = str(tiny_model_dir)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def write_corpus(folder: Path, documents: int = 24) -> Path:
    """txt and md files (some long enough for several chunks) and a jsonl with metadata, a
    taken id and an exact duplicate."""
    folder.mkdir(parents=True)
    for i in range(documents):
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(5 + (i * 37) % 300)]
        suffix = ".md" if i % 3 == 0 else ".txt"
        (folder / f"doc{i:02d}{suffix}").write_text(f"Note {i}. " + " ".join(words) + ".")
    rows = [
        {"id": "r1", "text": "Owls hunt at night near the river.", "topic": "birds"},
        {"id": "r2", "text": "Bees make honey in the garden.", "topic": "insects", "n": 3},
        {"id": "r1", "text": "A different text under a taken id.", "topic": "birds"},
        {"id": "r3", "text": "Owls hunt at night near the river.", "topic": "copy"},
    ]
    (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def ingest(paths: list[Path], name: str, engine: str, capsys: pytest.CaptureFixture) -> dict:
    """``python -m core ingest PATHS --collection NAME --engine ENGINE --json`` in-process;
    the exit code, the JSON report (seconds left out) and what went to stderr."""
    args = ["ingest", *map(str, paths), "--collection", name, "--engine", engine, "--json"]
    code = cli.main(args)
    out, err = capsys.readouterr()
    report = json.loads(out) if out.strip() else None
    if report:
        report.pop("seconds")
        report.pop("collection")
    skipped = [line for line in err.splitlines() if line.startswith(("skipped", "error"))]
    return {"code": code, "report": report, "stderr": skipped}


def snapshot(name: str) -> tuple[list, dict, np.ndarray]:
    """A collection as comparable values: its documents in order, each chunk by (document
    id, ordinal), and the vectors in that order."""
    collection = Collection(name, _model_info(name))
    store = collection.store
    documents = store.documents(limit=10_000)
    ids, vectors = store.all_vectors(collection.model.dimension)
    rows = store.chunk_rows(ids.tolist())
    keys = [(rows[i].doc_id, rows[i].ordinal) for i in ids.tolist()]
    chunks = {
        k: (rows[i].start, rows[i].end, rows[i].text)
        for k, i in zip(keys, ids.tolist(), strict=True)
    }
    order = np.argsort(np.array([f"{d}\x00{o:06d}" for d, o in keys]))
    return documents, chunks, vectors[order]


def _model_info(name: str):
    from core.config import data_dir
    from core.model.embedder import ModelInfo

    store = Store(data_dir() / name / "store.sqlite")
    try:
        return ModelInfo(**json.loads(store.get_meta("model")))
    finally:
        store.close()


def assert_same_collection(left: str, right: str) -> None:
    docs_a, chunks_a, vectors_a = snapshot(left)
    docs_b, chunks_b, vectors_b = snapshot(right)
    assert docs_a == docs_b
    assert chunks_a == chunks_b
    assert vectors_a.shape == vectors_b.shape
    assert np.abs(vectors_a - vectors_b).max() <= 1e-5


def test_ray_ingest_gives_the_single_process_collection(
    on_cluster, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the default encoder (int8); the next test covers torch."""
    monkeypatch.setenv("EMBEDLAB_ENCODER", encoder := "onnx-int8")
    corpus = write_corpus(tmp_path / "corpus")
    single = ingest([corpus], "single", "single", capsys)
    on_ray = ingest([corpus], "ray", "ray", capsys)
    assert on_ray == single
    assert single["report"]["added"] == 27 and single["report"]["chunks"] > 30
    assert single["report"]["renamed"] == [{"id": "r1", "stored_as": "r1 (2)"}]
    assert single["report"]["duplicates"] == ["r3"]
    assert_same_collection("single", "ray")
    assert _model_info("ray").encoder == encoder


def test_the_workers_encode_with_the_collections_encoder(
    on_cluster, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection built with torch is extended with torch even when int8 is the default:
    the workers are handed the collection's encoder, not the environment's."""
    corpus = write_corpus(tmp_path / "corpus", documents=6)
    first, rest = sorted(corpus.glob("doc0[0-2]*")), sorted(corpus.glob("doc0[3-5]*"))
    for name, engine in (("single", "single"), ("ray", "ray")):
        monkeypatch.setenv("EMBEDLAB_ENCODER", "torch")
        ingest(first, name, "single", capsys)
        monkeypatch.setenv("EMBEDLAB_ENCODER", "onnx-int8")
        ingest(rest, name, engine, capsys)
    assert_same_collection("single", "ray")
    monkeypatch.setenv("EMBEDLAB_ENCODER", "onnx-int8")
    ingest(first + rest, "int8", "single", capsys)
    _, _, int8 = snapshot("int8")
    _, _, torch = snapshot("ray")
    assert np.abs(int8 - torch).max() > 1e-4  # the two encoders do differ


def test_half_then_all_stores_nothing_twice(on_cluster, tmp_path: Path, capsys) -> None:
    """Half the files stored, then all of them on Ray: the stored half is skipped. (The half
    goes in by a single process, to save a Ray run: a Ray-made half is the next test's.)"""
    corpus = write_corpus(tmp_path / "corpus")
    files = sorted(corpus.iterdir())
    half = ingest(files[: len(files) // 2], "ray", "single", capsys)
    rest = ingest(files, "ray", "ray", capsys)
    ingest(files, "single", "single", capsys)
    assert rest["report"]["already_present"] == half["report"]["added"] > 0
    assert half["report"]["added"] + rest["report"]["added"] == 27
    assert_same_collection("single", "ray")


def test_a_killed_ray_ingest_resumes(on_cluster, tmp_path: Path, capsys, data_dir: Path) -> None:
    """Kill ``python -m core ingest --engine ray`` after its first committed batch; the rerun
    stores the rest, and the collection equals the single-process one."""
    corpus = write_corpus(tmp_path / "corpus", documents=40)
    env = {**os.environ, "EMBEDLAB_INGEST_BATCH": "8", "EMBEDLAB_REPORT_COMMITS": "1"}
    command = [sys.executable, "-m", "core", "ingest", str(corpus), "--collection", "ray"]
    proc = subprocess.Popen(
        [*command, "--engine", "ray"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()
        proc.kill()
    finally:
        proc.wait(timeout=60)
    assert first.startswith("committed 8"), first
    rerun = ingest([corpus], "ray", "ray", capsys)
    assert 8 <= rerun["report"]["already_present"] < 43
    ingest([corpus], "single", "single", capsys)
    assert_same_collection("single", "ray")


def test_bad_input_gets_the_single_process_messages(
    on_cluster, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a Ray started here for the one ingest (no RAY_ADDRESS), then stopped, its private
    temp dir gone."""
    monkeypatch.delenv("RAY_ADDRESS")
    before = set(Path(tempfile.gettempdir()).glob("embedlab-ray-*"))
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (folder / "broken.jsonl").write_text('{"id": 1, "text": "fine"}\n{not json\n')
    single = ingest([folder, tmp_path / "missing.md"], "single", "single", capsys)
    on_ray = ingest([folder, tmp_path / "missing.md"], "ray", "ray", capsys)
    assert on_ray == single
    assert single["code"] == 2 and single["report"] is None
    assert len(single["stderr"]) == 5  # four inputs skipped, then "Nothing to ingest"
    assert single["stderr"][-1].startswith("error: Nothing to ingest")
    assert set(Path(tempfile.gettempdir()).glob("embedlab-ray-*")) == before


def test_a_cluster_that_is_not_there_is_a_clear_error(
    on_cluster, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    corpus = write_corpus(tmp_path / "corpus", documents=2)
    result = ingest([corpus], "ray", "ray", capsys)
    assert result["code"] == 2
    assert result["stderr"][0].startswith("error: Could not join the Ray cluster at RAY_ADDRESS=")
    assert "nothing answers" in result["stderr"][0]


def test_the_default_engine_never_imports_ray(tiny_model_dir: Path, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", documents=2)
    code = (
        "import sys; from core import cli; "
        f"assert cli.main(['ingest', {str(corpus)!r}, '--collection', 'c']) == 0; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    env = {**os.environ, "EMBEDLAB_MODEL": str(tiny_model_dir)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
