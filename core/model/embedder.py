"""Texts -> vectors with sentence-transformers, loaded offline from a local folder.

One :class:`Embedder` per process: the pages share it through ``st.cache_resource`` and the
command line makes one. Vectors are float32 and L2-normalised, so inner product = cosine.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core import config
from core.errors import InputError, ModelNotFoundError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
RECENT_TEXTS = 20_000  # vectors kept by encode_recent: 384 floats each, about 30 MB in all
DEFAULT_MODEL_LABEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ModelInfo:
    """What a collection records about the model that made its vectors."""

    label: str
    name: str
    fingerprint: str
    dimension: int
    encoder: str = "torch"


def _encoder_name(encoder: str | None) -> str:
    """``encoder`` if it names one, else the configured default (``EMBEDLAB_ENCODER``)."""
    name = config.encoder_name() if encoder is None else encoder
    if name not in config.ENCODERS:
        raise ModelNotFoundError(
            f"Unknown encoder '{name}': use one of {', '.join(config.ENCODERS)}."
        )
    return name


def thread_safe_tokenizer(tokenizer: Any) -> Any:
    """Make a shared Hugging Face fast tokenizer safe to call from many threads at once.

    A fast tokenizer keeps its padding and truncation settings in the Rust object it wraps,
    and every call first sets them, then tokenizes. Two sessions calling at once with
    different settings (chunking without padding, ``encode`` with padding) race: one call
    tokenizes with the other's settings and fails with "Unable to create tensor", or the Rust
    object is "Already borrowed". Every Streamlit session shares one model, so the lab puts
    each tokenizer call under a lock of its own; a call takes well under a millisecond per
    text, so the lock costs nothing next to the model. The instance's class is swapped for a
    subclass, so ``isinstance`` and everything else about the tokenizer stay as they were.
    """
    cls = type(tokenizer)
    if getattr(cls, "_embedlab_locked", False) or not hasattr(cls, "_encode_plus"):
        return tokenizer
    lock = threading.RLock()

    def _encode_plus(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return cls._encode_plus(self, *args, **kwargs)

    namespace = {"_encode_plus": _encode_plus, "_embedlab_locked": True}
    namespace["__module__"] = cls.__module__
    tokenizer.__class__ = type(cls.__name__, (cls,), namespace)
    return tokenizer


class Embedder:
    """A sentence-transformers model with the settings the project relies on."""

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = 32,
        encoder: str | None = None,
        threads: int | None = None,
        bulk_nice: int = 0,
    ) -> None:
        """Load ``model`` (a local folder, or a hub id where the network allows it).

        ``encoder`` ("torch" or "onnx-int8", default ``config.encoder_name()``) picks what
        runs ``encode``; ``self.model`` is the SentenceTransformer either way. ``threads``:
        CPU threads per model call (default ``config.threads()``, every core). ``bulk_nice``:
        above 0, :meth:`encode_bulk` (an ingest's embedding) runs on one worker thread at
        that much lower CPU priority, so a server's searches go first (see there).

        Raises:
            ModelNotFoundError: if the model cannot be loaded, or the encoder is unknown or
                cannot be exported.
        """
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        self.name = model or config.model_name()
        self.batch_size = batch_size
        self.encoder = _encoder_name(encoder)
        self.threads = threads or config.threads()
        torch.set_num_threads(self.threads)
        local = Path(self.name).expanduser()
        if not local.is_dir() and (os.sep in self.name or self.name.startswith(".")):
            raise ModelNotFoundError(f"Model folder '{self.name}' does not exist.")
        try:
            self.model = SentenceTransformer(self.name, device="cpu")
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"Could not load model '{self.name}' offline ({exc}). Set EMBEDLAB_MODEL to a "
                "local sentence-transformers folder, or unset it to use the bundled model."
            ) from None
        self.model.eval()
        thread_safe_tokenizer(self.model.tokenizer)
        self._bulk_nice = bulk_nice
        self._start_encoder()

    def _start_encoder(self) -> None:
        """Fresh per-encoder state: the recent-vector memory, the bulk worker, the int8
        session (exported on first use). The SentenceTransformer stays for the tokenizer, the
        torch encoder and the teaching pages."""
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.recent_hits = 0
        self._bulk: ThreadPoolExecutor | None = None
        self._bulk_lock = threading.Lock()
        self._onnx = None
        if self.encoder == "onnx-int8":
            from core.model.onnx_encoder import OnnxEncoder

            self._onnx = OnnxEncoder(self.model, self.fingerprint, self.threads)

    def with_encoder(self, encoder: str) -> Embedder:
        """This model with ``encoder``: the loaded weights are shared, not loaded again.

        Raises:
            ModelNotFoundError: if the encoder is unknown or cannot be exported.
        """
        name = _encoder_name(encoder)
        if name == self.encoder:
            return self
        twin = copy.copy(self)
        twin.encoder = name
        twin._start_encoder()
        return twin

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """Content tokens that fit the model window (special tokens excluded)."""
        return int(self.model.max_seq_length) - 2

    @property
    def tokenizer(self):  # a Hugging Face tokenizer
        """The model's own tokenizer."""
        return self.model.tokenizer

    @property
    def label(self) -> str:
        """A short human name for the model."""
        if Path(self.name).resolve() == Path(config.default_model_path()).resolve():
            return DEFAULT_MODEL_LABEL
        return Path(self.name).name or self.name

    @cached_property
    def fingerprint(self) -> str:
        """Identity of the weights: collections built with other weights are refused."""
        digest = hashlib.sha256(str(self.dimension).encode())
        folder = Path(self.name).expanduser()
        if not folder.is_dir():
            digest.update(self.name.encode())
            return digest.hexdigest()[:16]
        files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
        for path in files or sorted(folder.glob("config.json")):
            with path.open("rb") as handle:
                digest.update(handle.read(16 * 1024 * 1024))
            digest.update(str(path.stat().st_size).encode())
        return digest.hexdigest()[:16]

    @property
    def info(self) -> ModelInfo:
        """The identity a collection stores and checks."""
        return ModelInfo(self.label, self.name, self.fingerprint, self.dimension, self.encoder)

    def encode(
        self, texts: Sequence[str], progress: Progress | None = None, block: int = 512
    ) -> np.ndarray:
        """Embed ``texts`` -> (n, dimension) float32, L2-normalised.

        Texts are length-sorted once and fed in blocks so progress can be reported without
        losing the length bucketing that makes batching cheap.
        """
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), block):
            ids = order[start : start + block]
            out[ids] = self._encode_batch([texts[i] for i in ids])
            if progress:
                progress(min(start + block, len(texts)), len(texts))
        return out

    def encode_bulk(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`encode`, for bulk work that nobody is waiting on word by word: an
        ingest's chunks.

        Made with ``bulk_nice`` (the web app's model), the work runs on one worker thread
        whose CPU priority is lowered by that much (Linux keeps a nice value per thread), and
        the caller waits for it. While the cores are free it runs as fast as ever; while
        others search, the kernel gives their model runs and pages the cores first, and the
        ingest takes the rest. Bulk calls from several sessions take turns on that worker.
        With more than one torch thread only the calling thread is lowered, not torch's
        pool: the web app runs one thread per call.
        """
        if self._bulk_nice <= 0:
            return self.encode(texts)
        with self._bulk_lock:
            if self._bulk is None:
                self._bulk = ThreadPoolExecutor(
                    1, "embedlab-bulk", initializer=lower_priority, initargs=(self._bulk_nice,)
                )
            worker = self._bulk
        return worker.submit(self.encode, texts).result()

    def encode_recent(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`encode`, remembering the vectors of the last ``RECENT_TEXTS`` texts.

        For short texts that come back again and again: the sentences of search hits, which
        are embedded to pick the passage to highlight every time a search finds them. A
        text's vector depends only on the text and the model, so a remembered one is the
        vector the model gives it (to float rounding, which batching varies anyway; the
        tests check it).
        """
        unique = list(dict.fromkeys(texts))
        with self._recent_lock:
            known = {t: self._recent[t] for t in unique if t in self._recent}
            for text in known:
                self._recent.move_to_end(text)
            missing = [t for t in unique if t not in known]
            self.recent_hits += len(texts) - len(missing)
        if missing:
            fresh = self.encode(missing)
            with self._recent_lock:
                for text, vector in zip(missing, fresh, strict=True):
                    known[text] = self._recent[text] = vector
                while len(self._recent) > RECENT_TEXTS:
                    self._recent.popitem(last=False)
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([known[t] for t in texts])

    def token_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's last-layer token vectors (T, D) from this embedder's own encoder.

        Their mean, scaled to length 1, is the text's vector from :meth:`encode` (to float
        rounding): the int8 encoder gives its own token vectors, not fp32 ones, so a score
        split into token parts adds up to the score a search shows with either encoder.
        """
        if not texts:
            return []
        if self._onnx is not None:
            return self._onnx.token_vectors(texts)
        runs = self.model.encode(
            list(texts), output_value="token_embeddings", batch_size=self.batch_size
        )
        return [run.float().numpy() for run in runs]

    def encode_query(self, query: str) -> np.ndarray:
        """Embed one query -> (dimension,) float32.

        Raises:
            InputError: for an empty or over-long query.
        """
        query = query.strip()
        if not query:
            raise InputError("Type a question or some words to search for.")
        if len(query) > config.LIMITS.max_query_chars:
            raise InputError(
                f"The query has {len(query):,} characters; the limit is "
                f"{config.LIMITS.max_query_chars:,}. Shorten it."
            )
        return self._encode_batch([query])[0]

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode(texts)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def lower_priority(nice: int) -> None:
    """Raise the calling thread's nice value by ``nice`` (lower its CPU priority; Linux).

    Lowering priority needs no privilege. Only on Linux, where a thread's id names that
    thread to ``setpriority``; elsewhere it could name another process, so the thread keeps
    its priority.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + nice))
    except (AttributeError, OSError) as exc:
        log.info("bulk encoding keeps normal CPU priority: %s", exc)
