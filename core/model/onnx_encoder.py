"""Texts -> vectors with the cached int8 ONNX Runtime copy of the model.

The copy is made once by ``core.model.onnx_export`` (which needs torch and the loaded
SentenceTransformer) and cached under ``cache_dir()/encoders/<fingerprint>-onnx-int8/``. This
module only runs it: ``onnxruntime``, a tokenizer and numpy. When the export's manifest matches
the model folder (:func:`light_manifest`), a process runs the model from here alone, with the
folder's ``tokenizer.json`` (``core.model.text_tokenizer``), and never imports torch.

At run time ONNX Runtime gives each text's last hidden state (token vectors); mean pooling and
L2 normalisation run in numpy, as sentence-transformers' Pooling and Normalize modules do.
Texts run one per call, several calls at once (one thread each), so a text's vector never
depends on the texts beside it: see :class:`OnnxEncoder`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from core import config

log = logging.getLogger(__name__)

NAME = "onnx-int8"
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "encoder.json"
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def recipe() -> dict[str, Any]:
    """How the cached model is made; a cache made another way is exported again.

    ``reduce_range`` (7-bit weights) is the ONNX Runtime advice for x86 CPUs without VNNI,
    whose u8 x s8 multiply-add can saturate; CPUs with VNNI use the full int8 range.
    """
    import onnxruntime

    return {
        "format": 2,
        "encoder": NAME,
        "weights": "int8 per-channel, dynamic activations",
        "reduce_range": not has_vnni(),
        "onnxruntime": onnxruntime.__version__,
    }


def has_vnni() -> bool:
    """Whether this CPU has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in VNNI_FLAGS)


def cache_folder(fingerprint: str) -> Path:
    """Where the int8 model for weights ``fingerprint`` lives."""
    return config.cache_dir() / "encoders" / f"{fingerprint}-{NAME}"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The export's ``encoder.json``, or None when missing or unreadable."""
    try:
        return json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return None


def is_current(folder: Path) -> bool:
    """Whether ``folder`` holds an export made by today's :func:`recipe`."""
    manifest = read_manifest(folder)
    return bool(manifest) and manifest.get("recipe") == recipe() and (folder / MODEL_FILE).is_file()


def folder_dimension(model_folder: Path) -> int | None:
    """The vector length a sentence-transformers folder's Pooling config states, or None."""
    try:
        modules = json.loads((model_folder / "modules.json").read_text())
        pooling = next(m for m in modules if str(m.get("type", "")).endswith(".Pooling"))
        stated = json.loads((model_folder / pooling["path"] / "config.json").read_text())
    except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
        return None
    value = stated.get("embedding_dimension", stated.get("word_embedding_dimension"))
    return value if isinstance(value, int) and value > 0 else None


def light_manifest(model_folder: Path, fingerprint: str, dimension: int) -> dict[str, Any] | None:
    """The cached export's manifest when it can run without loading the SentenceTransformer.

    That is when the export is current, was made from a folder configured exactly as
    ``model_folder`` is (same :func:`pipeline_digest`: modules, pooling, window, tokenizer),
    and that folder's ``tokenizer.json`` alone tokenized as the loaded tokenizer did. Else
    None: the caller loads the model (and exports, if needed).
    """
    folder = cache_folder(fingerprint)
    manifest = read_manifest(folder)
    if not manifest or not manifest.get("tokenizer_json") or not is_current(folder):
        return None
    if manifest.get("dimension") != dimension:
        return None
    if manifest.get("pipeline") != pipeline_digest(model_folder):
        return None
    return manifest


def pipeline_digest(model_folder: Path) -> str:
    """Digest of a model folder's configuration and tokenizer files (JSON and text files at
    the top and one level down); the weights are the fingerprint's part."""
    files = [*model_folder.glob("*.json"), *model_folder.glob("*.txt")]
    digest = hashlib.sha256()
    for path in sorted([*files, *model_folder.glob("*/*.json")]):
        digest.update(path.relative_to(model_folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class OnnxEncoder:
    """The int8 ONNX Runtime session behind ``Embedder.encode`` when EMBEDLAB_ENCODER=onnx-int8.

    Each text runs alone. The int8 activations are quantised with one scale per call (the
    largest value of the whole input), so in a batch a text's vector would depend on its
    neighbours, up to 0.01 in cosine (measured on SciFact abstracts). Alone, a text's vector
    depends on the text only: ingest, queries and the token vectors behind "why it matched"
    agree to float rounding. Throughput comes from running ``threads`` texts at once, one
    thread each, instead of one batch over every thread.
    """

    def __init__(
        self, folder: Path, tokenizer: Any, max_length: int, threads: int | None = None
    ) -> None:
        """Open the int8 model exported into ``folder``.

        Args:
            folder: an export (``onnx_export.ensure_exported``) holding its manifest.
            tokenizer: the model's tokenizer, a fast tokenizer or a ``TextTokenizer``.
            max_length: the model window in tokens, special tokens included.
            threads: texts run at once (default ``config.threads()``).
        """
        self.folder = folder
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.names = json.loads((folder / MANIFEST_FILE).read_text())["inputs"]
        self.threads = threads or config.threads()
        self.session = _session(folder / MODEL_FILE)
        self._pools: dict[int, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` -> (n, dimension) float32, mean-pooled and L2-normalised."""
        rows = [pool(hidden) for hidden in self._hidden_states(texts)]
        return np.stack(rows) if rows else np.empty((0, 0), dtype=np.float32)

    def token_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's last-layer token vectors (T, D), the ones :meth:`encode` pools."""
        return self._hidden_states(texts)

    def _hidden_states(self, texts: Sequence[str]) -> list[np.ndarray]:
        ids = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_length, verbose=False
        )["input_ids"]
        if len(ids) <= 1 or self.threads <= 1:
            return [self._run(row) for row in ids]
        return list(self._pool().map(self._run, ids))

    def _pool(self) -> ThreadPoolExecutor:
        """Worker threads at the caller's CPU priority (an ingest's lowered one stays low)."""
        nice = _thread_nice()
        with self._pools_lock:
            if nice not in self._pools:
                self._pools[nice] = ThreadPoolExecutor(
                    self.threads, "embedlab-onnx", initializer=_set_thread_nice, initargs=(nice,)
                )
            return self._pools[nice]

    def _run(self, row: list[int]) -> np.ndarray:
        """One text's token ids -> its last hidden state (T, D) float32."""
        input_ids = np.asarray([row], dtype=np.int64)  # (1, T)
        mask = np.ones_like(input_ids)  # (1, T)
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": 0 * mask}
        hidden = self.session.run(None, {n: feed[n] for n in self.names})[0]  # (1, T, D)
        return np.asarray(hidden[0], dtype=np.float32)


def pool(hidden: np.ndarray) -> np.ndarray:
    """Token vectors (T, D) -> their mean scaled to length 1 (D,), as sentence-transformers'
    mean Pooling and Normalize modules do."""
    mean = hidden.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def _thread_nice() -> int:
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return 0


def _set_thread_nice(nice: int) -> None:
    """Give the calling worker thread the CPU priority ``nice`` (Linux: one per thread)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError) as exc:  # raising priority back needs a privilege
        log.info("int8 workers keep their CPU priority: %s", exc)


def _session(path: Path) -> Any:
    """An ONNX Runtime CPU session that runs each call on the calling thread alone.

    Several threads call it at once, one text each (see :class:`OnnxEncoder`), so it has no
    intra-op pool of its own: one text of a few dozen tokens is too small to split well.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
