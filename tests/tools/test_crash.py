"""Crash safety: ``python -m measure.crash`` with a few trials (the full run uses 200+).

Each trial kills a real ``python -m core ingest`` (tiny model, batches of 4 documents) with
SIGKILL during its batches or just after its last commit (the index and manifest saves),
then checks that the collection opens, keeps every document reported stored, and, once the
ingest is resumed, holds each document exactly once with search equal to exact numpy search.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 4  # about a minute on 2 busy cores; the full run is 200+


def test_kill_minus_nine_loses_nothing_and_duplicates_nothing(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "measure.crash", "--trials", str(TRIALS), "--jobs", "2"]
    command += ["--model", str(tiny_model_dir), "--workdir", str(tmp_path / "crash")]
    command += ["--documents", "60", "--seed", "3", "--json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.stdout, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["trials"] >= TRIALS
    for count in ("unreadable", "lost", "duplicates", "missing_after_resume"):
        assert report[count] == 0, (count, report["notes"])
    for count in ("wrong_chunks_or_vectors", "search_mismatches", "torn_files"):
        assert report[count] == 0, (count, report["notes"])
    assert report["resume_failures"] == 0, report["notes"]
    assert sum(report["phases"].values()) == report["trials"]
    assert done.returncode == 0


def test_stale_temp_files_are_swept_when_a_collection_opens(tiny_embedder) -> None:
    """A writer killed mid-save leaves ``.NAME.XXXX.tmp``; the next open removes old ones only."""
    import os
    import time

    from core.storage.collection import STALE_TEMP_SECONDS, Collection

    collection = Collection("sweep", tiny_embedder.info, create=True)
    folder = collection.path
    stale, fresh = folder / ".index.faiss.abc123.tmp", folder / ".manifest.json.def456.tmp"
    stale.write_bytes(b"torn")
    fresh.write_bytes(b"being written")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    Collection("sweep", tiny_embedder.info)
    assert not stale.exists() and fresh.exists()
