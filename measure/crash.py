"""Crash safety: kill -9 ``python -m core ingest`` at random moments, then check the collection.

Each round ingests a generated corpus into a fresh collection with a small model and small
batches. The child prints ``committed N`` after every committed batch
(``EMBEDLAB_REPORT_COMMITS=1``); the parent kills it with SIGKILL at a random moment,
either anywhere between opening the store and exiting (batches, the index rebuild on open)
or just after the last commit (the index and manifest saves). After each kill, a copy of the
collection must open, and every document the child reported stored must be in it. The
ingest is then run again (itself killed again, some of the time) until it completes; the
finished collection must hold every document exactly once, with the chunks and vectors of a
clean reference build, and search must agree with exact numpy search over the SQLite vectors.

Usage::

    python -m measure.crash --trials 200 [--model DIR] [--jobs 2] [--seed 0] [--json]

Without ``--model`` the tiny random BERT of ``tests/tiny_model.py`` is built in the work dir.
Linux only: the moment the child opens the store is seen in ``/proc/PID/fd``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAME_PREFIX = "crash"
MAX_KILLS_PER_ROUND = 3
WORDS = (
    "river bank money loan snake python apple orchard bat cave spring water cell prison "
    "battery model train light wave field crane bird engine star planet garden soil seed"
).split()


@dataclass
class Tally:
    """Counts over all trials (one trial = one child killed while it ran)."""

    trials: int = 0
    rounds: int = 0
    unreadable: int = 0
    lost: int = 0
    duplicates: int = 0
    missing_after_resume: int = 0
    wrong_chunks_or_vectors: int = 0
    search_mismatches: int = 0
    torn_files: int = 0
    stale_index_after_resume: int = 0
    resume_failures: int = 0
    finished_before_kill: int = 0
    kills_inside_atomic_write: int = 0
    temp_files_left: int = 0
    phases: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def failures(self) -> int:
        """Everything that must be zero."""
        return (
            self.unreadable
            + self.lost
            + self.duplicates
            + self.missing_after_resume
            + self.wrong_chunks_or_vectors
            + self.search_mismatches
            + self.torn_files
            + self.resume_failures
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        out = {k: v for k, v in vars(self).items() if k not in ("phases", "notes")}
        return {**out, "phases": dict(self.phases), "notes": self.notes[:20]}


@dataclass
class Child:
    """A running ``python -m core ingest`` and the ``committed N`` lines it printed."""

    proc: subprocess.Popen
    started: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    reader: threading.Thread | None = None

    def committed(self) -> int:
        """The largest N of the ``committed N`` lines read so far."""
        values = [int(line.split()[1]) for _, line in self.lines if line.startswith("committed ")]
        return max(values, default=0)

    def done_at(self) -> float | None:
        """When the ingest's summary line (``NAME: added ...``) was read, if it was."""
        return next((t for t, line in self.lines if ": added " in line), None)

    def committed_at(self, count: int) -> float | None:
        """When the line ``committed count`` was read, if it was."""
        return next((t for t, line in self.lines if line == f"committed {count}"), None)


@dataclass(frozen=True)
class Setup:
    """What every round shares: paths, child environment, the corpus and the reference."""

    corpus: Path
    data: Path
    env: dict[str, str]
    doc_ids: tuple[str, ...]
    reference: dict[str, list[tuple]]
    open_to_done: float
    commit_to_done: float
    model_info: Any


def make_corpus(folder: Path, count: int, seed: int) -> Path:
    """Write ``count`` documents of varied length (some span several chunks) to ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "docs.jsonl").open("w", encoding="utf-8") as out:
        for number in range(count):
            words = [rng.choice(WORDS) for _ in range(rng.choice((3, 12, 40, 160, 400)))]
            text = f"Document {number}: " + " ".join(words) + "."
            out.write(json.dumps({"id": f"doc-{number:04d}", "text": text, "n": number}) + "\n")
    for number in range(3):
        (folder / f"note-{number}.md").write_text(f"# Note {number}\n\nA short note {number}.")
    return folder


def child_env(data: Path, model: str, batch: int) -> dict[str, str]:
    """The environment of every child: small batches, commit lines, one thread."""
    return dict(
        os.environ,
        EMBEDLAB_DATA_DIR=str(data),
        EMBEDLAB_MODEL=model,
        EMBEDLAB_INGEST_BATCH=str(batch),
        EMBEDLAB_REPORT_COMMITS="1",
        EMBEDLAB_THREADS="1",
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )


def launch(corpus: Path, name: str, env: dict[str, str]) -> Child:
    """Start ``python -m core ingest CORPUS --collection NAME`` and read its stdout.

    Its stderr is appended to ``child-stderr.log`` beside the data dir.
    """
    with (Path(env["EMBEDLAB_DATA_DIR"]).parent / "child-stderr.log").open("a") as stderr:
        stderr.write(f"--- {name} {time.strftime('%H:%M:%S')}\n")
        stderr.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "core", "ingest", str(corpus), "--collection", name],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    child = Child(proc, time.monotonic())

    def read() -> None:
        for line in proc.stdout:
            child.lines.append((time.monotonic(), line.strip()))

    child.reader = threading.Thread(target=read, daemon=True)
    child.reader.start()
    return child


def wait_store_open(child: Child, db_path: Path, timeout: float = 300.0) -> float | None:
    """Poll ``/proc/PID/fd`` until the child has the store open; None if it exits first."""
    fd_dir, target = Path(f"/proc/{child.proc.pid}/fd"), str(db_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.proc.poll() is None:
        try:
            for entry in os.listdir(fd_dir):
                if os.readlink(fd_dir / entry) == target:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.001)
    return None


def finish(child: Child, timeout: float = 600.0) -> int:
    """Wait for the child and its stdout reader; return its exit status."""
    code = child.proc.wait(timeout=timeout)
    if child.reader:
        child.reader.join(timeout=10)
    return code


def kill_delay(child: Child, setup: Setup, todo: int, rng: random.Random) -> float | None:
    """Wait for a random moment to kill the child; return when it started waiting.

    Half the kills land anywhere between opening the store and exiting; the other half just
    after the last commit, where the index, its state and the manifest are saved.
    """
    db_path = setup.data / child.proc.args[-1] / "store.sqlite"
    opened = wait_store_open(child, db_path)
    if opened is None:
        return None
    if todo and rng.random() < 0.5:
        while child.proc.poll() is None and child.committed() < todo:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, setup.commit_to_done))
    else:
        time.sleep(rng.uniform(0, setup.open_to_done))
    return opened


def kill(child: Child) -> bool:
    """SIGKILL the child; return whether it was still running."""
    try:
        os.kill(child.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    finish(child)
    return child.proc.returncode == -signal.SIGKILL


def phase_of(committed: int, todo: int) -> str:
    """Where in the ingest a kill landed, as far as the commit lines tell."""
    if todo == 0:
        return "resume with nothing left to add (open, index rebuild)"
    if committed == 0:
        return "before the first commit (open, index rebuild, first batch)"
    if committed < todo:
        return "between commits"
    return "after the last commit (index, state and manifest saves, exit)"


def temp_files(folder: Path) -> set[str]:
    """Names of temp files an interrupted atomic write left behind."""
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"}


def torn_files(folder: Path, dimension: int) -> list[str]:
    """Files that exist but cannot be read (atomic writes should make this impossible)."""
    from core.storage.index import VectorIndex

    torn = []
    for name in ("manifest.json", "index.json"):
        path = folder / name
        try:
            if path.exists():
                json.loads(path.read_text())
        except ValueError:
            torn.append(name)
    try:
        if (folder / "index.faiss").exists():
            VectorIndex.load(folder / "index.faiss", dimension)
    except (ValueError, TypeError, OSError):
        torn.append("index.faiss")
    return torn


def inspect_after_kill(
    setup: Setup, name: str, snap: str, expected: set[str], part: Tally
) -> set[str] | None:
    """Open a copy of the killed child's collection; return its document ids (None: unreadable).

    ``expected`` holds every document reported stored so far; any missing one is lost.
    """
    from core.storage.collection import Collection

    live, copy = setup.data / name, setup.data / snap
    if not (live / "store.sqlite").is_file():
        part.lost += len(expected)
        return set()
    shutil.copytree(live, copy)
    try:
        for torn in torn_files(copy, setup.model_info.dimension):
            part.torn_files += 1
            part.notes.append(f"{name}: torn {torn} after a kill")
        try:
            collection = Collection(snap, setup.model_info)
        except Exception as exc:  # any failure to open counts, whatever its type
            part.unreadable += 1
            part.notes.append(f"{name}: unreadable after a kill: {type(exc).__name__}: {exc}")
            return None
        stored = {r[0] for r in collection.store.db.execute("SELECT doc_id FROM documents")}
        empty = collection.store.db.execute(
            "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS"
            " (SELECT 1 FROM chunks c WHERE c.doc = d.id)"
        ).fetchone()[0]
        part.wrong_chunks_or_vectors += int(empty)
        part.lost += len(expected - stored)
        collection.store.close()
        return stored
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def contents(store: Any, dimension: int) -> dict[str, list[tuple]]:
    """doc id -> its chunks as (ordinal, start, end, text, vector), in chunk id order."""
    rows = store.db.execute(
        "SELECT d.doc_id, c.ordinal, c.start, c.end, c.text, c.vector"
        " FROM chunks c JOIN documents d ON d.id = c.doc ORDER BY c.id"
    )
    out: dict[str, list[tuple]] = {}
    for doc_id, ordinal, start, end, text, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32)
        out.setdefault(doc_id, []).append((ordinal, start, end, text, vector))
    for (doc_id,) in store.db.execute("SELECT doc_id FROM documents"):
        out.setdefault(doc_id, [])
    return out


def compare_with_reference(found: dict, reference: dict, part: Tally, name: str) -> None:
    """Count missing, duplicated and wrong documents, chunks and vectors."""
    part.missing_after_resume += len(set(reference) - set(found))
    part.duplicates += len(set(found) - set(reference))
    for doc_id, chunks in found.items():
        wanted = reference.get(doc_id, [])
        part.duplicates += max(0, len(chunks) - len(wanted))
        part.missing_after_resume += max(0, len(wanted) - len(chunks))
        for got, want in zip(chunks, wanted, strict=False):
            same = got[:4] == want[:4] and np.allclose(got[4], want[4], atol=1e-4)
            if not same:
                part.wrong_chunks_or_vectors += 1
                part.notes.append(f"{name}: chunk {got[:3]} of {doc_id} differs from reference")


def index_file_current(folder: Path, generation: int, chunks: int, dimension: int) -> bool:
    """Whether the saved FAISS file is the cache of exactly this generation of the database."""
    from core.storage.index import VectorIndex

    try:
        state = json.loads((folder / "index.json").read_text())
        index = VectorIndex.load(folder / "index.faiss", dimension)
    except (OSError, ValueError, TypeError):
        return False
    return state.get("generation") == generation and len(index) == chunks


def search_agrees(collection: Any, rng: random.Random, queries: int = 5, k: int = 10) -> bool:
    """Search (FAISS, one hit per document) against exact numpy search over SQLite's vectors."""
    from core.search.dense import search_vectors

    dimension = collection.model.dimension
    ids, vectors = collection.store.all_vectors(dimension)
    owner = dict(
        collection.store.db.execute(
            "SELECT c.id, d.doc_id FROM chunks c JOIN documents d ON d.id = c.doc"
        )
    )
    gen = np.random.default_rng(rng.getrandbits(32))
    query = gen.standard_normal((queries, dimension)).astype(np.float32)
    query /= np.linalg.norm(query, axis=1, keepdims=True)
    exact = vectors.astype(np.float64) @ query.T.astype(np.float64)  # (chunks, queries)
    for number, hits in enumerate(search_vectors(collection, query, k)):
        best: dict[str, float] = {}
        for chunk_id, score in zip(ids.tolist(), exact[:, number], strict=True):
            best[owner[chunk_id]] = max(best.get(owner[chunk_id], -np.inf), float(score))
        ranked = sorted(best.values(), reverse=True)[:k]
        if len(hits) != len(ranked):
            return False
        for hit, score in zip(hits, ranked, strict=True):
            if abs(hit.score - score) > 1e-4 or abs(hit.score - best[hit.doc_id]) > 1e-4:
                return False
    return True


def check_finished(setup: Setup, name: str, part: Tally, rng: random.Random) -> None:
    """Checks on a collection whose ingest ran to completion after one or more kills."""
    from core.storage.collection import Collection
    from core.storage.store import Store

    folder, dimension = setup.data / name, setup.model_info.dimension
    part.temp_files_left += len(temp_files(folder))
    store = Store(folder / "store.sqlite")
    if not index_file_current(folder, store.generation, store.counts()[1], dimension):
        part.stale_index_after_resume += 1
    store.close()
    try:
        collection = Collection(name, setup.model_info)
    except Exception as exc:  # any failure to open counts
        part.unreadable += 1
        part.notes.append(f"{name}: unreadable after resuming: {type(exc).__name__}: {exc}")
        return
    hashes = collection.store.db.execute(
        "SELECT COUNT(*) - COUNT(DISTINCT content_hash) FROM documents"
    ).fetchone()[0]
    part.duplicates += int(hashes)
    compare_with_reference(contents(collection.store, dimension), setup.reference, part, name)
    if not search_agrees(collection, rng):
        part.search_mismatches += 1
        part.notes.append(f"{name}: search disagrees with exact numpy search")
    collection.store.close()


def one_kill(
    setup: Setup, name: str, stored: set[str], part: Tally, rng: random.Random
) -> tuple[str, Any]:
    """Run the ingest and kill it at a random moment.

    Returns:
        ("killed", ids stored after the kill, or None if unreadable) or ("finished", exit code).
    """
    todo = [d for d in setup.doc_ids if d not in stored]
    before_tmp = temp_files(setup.data / name)
    child = launch(setup.corpus, name, setup.env)
    if kill_delay(child, setup, len(todo), rng) is None or not kill(child):
        part.finished_before_kill += 1
        return "finished", finish(child)
    part.trials += 1
    committed = child.committed()
    part.phases[phase_of(committed, len(todo))] += 1
    if temp_files(setup.data / name) - before_tmp:
        part.kills_inside_atomic_write += 1
    expected = stored | set(todo[:committed])
    snap = f"snap-{name}-{part.trials}"
    return "killed", inspect_after_kill(setup, name, snap, expected, part)


def run_round(setup: Setup, number: int, seed: int) -> Tally:
    """Kill one fresh collection's ingest 1-3 times, resume it to the end, check everything."""
    part, rng, name = Tally(rounds=1), random.Random(seed), f"{NAME_PREFIX}-{number}"
    stored: set[str] = set()
    finished = False
    for _ in range(rng.randint(1, MAX_KILLS_PER_ROUND)):
        outcome, value = one_kill(setup, name, stored, part, rng)
        if outcome == "finished":
            finished = value == 0
            part.resume_failures += int(value != 0)
            break
        stored = value if value is not None else stored
    if not finished:
        code = finish(launch(setup.corpus, name, setup.env))
        if code != 0:
            part.resume_failures += 1
            part.notes.append(f"{name}: resumed ingest exited with {code}")
            return part
    check_finished(setup, name, part, rng)
    shutil.rmtree(setup.data / name, ignore_errors=True)
    return part


def merge(total: Tally, part: Tally) -> None:
    """Add a round's counts to the total."""
    for key, value in vars(part).items():
        if key == "phases":
            total.phases.update(value)
        elif key == "notes":
            total.notes.extend(value)
        else:
            setattr(total, key, getattr(total, key) + value)


def run_trials(setup: Setup, trials: int, jobs: int, seed: int, verbose: bool) -> Tally:
    """Run rounds (``jobs`` at a time) until at least ``trials`` kills have been checked."""
    total, lock, numbers = Tally(), threading.Lock(), iter(range(trials * 5))

    def worker() -> None:
        while True:
            with lock:
                number = next(numbers, None) if total.trials < trials else None
            if number is None:
                return
            part = run_round(setup, number, seed * 1_000_003 + number)
            with lock:
                merge(total, part)
                if verbose:
                    print(
                        f"round {number}: {total.trials} trials, {total.failures()} failures",
                        file=sys.stderr,
                        flush=True,
                    )

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total


def prepare(workdir: Path, model: str, documents: int, batch: int, seed: int) -> Setup:
    """Write the corpus, build the reference collection once and time its phases."""
    from core.documents.readers import load_paths
    from core.model.embedder import ModelInfo
    from core.storage.store import Store

    data = workdir / "data"
    corpus = make_corpus(workdir / "corpus", documents, seed)
    env = child_env(data, model, batch)
    doc_ids = tuple(d.doc_id for d in load_paths([corpus]).documents)
    child = launch(corpus, "reference", env)
    opened = wait_store_open(child, data / "reference" / "store.sqlite")
    if finish(child) != 0 or opened is None:
        raise RuntimeError("the reference ingest failed; run it by hand to see why")
    ended = child.done_at() or time.monotonic()
    last_commit = child.committed_at(len(doc_ids)) or opened
    store = Store(data / "reference" / "store.sqlite")
    info = ModelInfo(**json.loads(store.get_meta("model")))
    reference = contents(store, info.dimension)
    store.close()
    return Setup(corpus, data, env, doc_ids, reference, ended - opened, ended - last_commit, info)


def tiny_model(folder: Path) -> str:
    """Build the tests' tiny random BERT into ``folder`` (once) and return its path."""
    if not (folder / "modules.json").is_file():
        sys.path.insert(0, str(ROOT / "tests"))
        from tiny_model import build_tiny_model

        build_tiny_model(folder)
    return str(folder)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m measure.crash", description=__doc__)
    parser.add_argument("--trials", type=int, default=200, help="kills to check (default 200)")
    parser.add_argument("--model", help="sentence-transformers folder (default: tiny BERT)")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temp dir)")
    parser.add_argument("--documents", type=int, default=120, help="corpus size")
    parser.add_argument("--batch", type=int, default=4, help="documents per committed batch")
    parser.add_argument("--jobs", type=int, default=1, help="rounds run side by side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per round")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the trials; exit status 1 if anything was unreadable, lost or duplicated."""
    args = build_parser().parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="embedlab-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["EMBEDLAB_DATA_DIR"] = str(workdir / "data")
    os.environ["EMBEDLAB_THREADS"] = "1"
    model = args.model or tiny_model(workdir / "tiny-model")
    started = time.monotonic()
    setup = prepare(workdir, model, args.documents, args.batch, args.seed)
    tally = run_trials(setup, args.trials, args.jobs, args.seed, args.verbose)
    result = {**tally.as_dict(), "seconds": round(time.monotonic() - started, 1)}
    result["window_seconds"] = {
        "open_to_done": round(setup.open_to_done, 3),
        "last_commit_to_done": round(setup.commit_to_done, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"trials {tally.trials} (rounds {tally.rounds}): unreadable {tally.unreadable}, "
            f"lost {tally.lost}, duplicates {tally.duplicates}, "
            f"missing after resume {tally.missing_after_resume}, "
            f"search mismatches {tally.search_mismatches}, torn files {tally.torn_files}"
        )
        for phase, count in sorted(tally.phases.items()):
            print(f"  killed {phase}: {count}")
        print(f"  kills that left an atomic write's temp file: {tally.kills_inside_atomic_write}")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if tally.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
