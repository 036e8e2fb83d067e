"""Texts -> vectors with sentence-transformers, loaded offline from a local folder.

One :class:`Embedder` per process: the pages share it through ``st.cache_resource`` and the
command line makes one. Vectors are float32 and L2-normalised, so inner product = cosine.
"""

from __future__ import annotations

import copy
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
from core.model.loading import load_sentence_transformer, weights_fingerprint

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
        runs ``encode``. ``self.model`` is the SentenceTransformer either way, but with
        onnx-int8 and a cached export that matches the folder it loads only when something
        asks for it (the teaching views): ingest and search then run on ONNX Runtime and the
        folder's tokenizer.json alone, without importing torch. ``threads``: CPU threads per
        model call (default ``config.threads()``, every core). ``bulk_nice``: above 0,
        :meth:`encode_bulk` (an ingest's embedding) runs on one worker thread at that much
        lower CPU priority, so a server's searches go first (see there).

        Raises:
            ModelNotFoundError: if the model cannot be loaded, or the encoder is unknown or
                cannot be exported.
        """
        self.name = model or config.model_name()
        self.batch_size = batch_size
        self.encoder = _encoder_name(encoder)
        self.threads = threads or config.threads()
        local = Path(self.name).expanduser()
        if not local.is_dir() and (os.sep in self.name or self.name.startswith(".")):
            raise ModelNotFoundError(f"Model folder '{self.name}' does not exist.")
        self._model: Any = None
        self._model_lock = threading.Lock()
        self._dimension: int | None = None
        self._max_length: int | None = None
        self._text_tokenizer: Any = None
        if not self._open_light(local):
            _ = self.model  # load now, so a broken model is reported at once
        self._bulk_nice = bulk_nice
        self._start_encoder()

    def _open_light(self, local: Path) -> bool:
        """With onnx-int8, take the model's facts from a cached export that matches the folder
        (``onnx_encoder.light_manifest``) instead of loading it; False when there is none."""
        from core.model import onnx_encoder

        if self.encoder != "onnx-int8" or not local.is_dir():
            return False
        dimension = onnx_encoder.folder_dimension(local)
        if dimension is None:
            return False
        fingerprint = weights_fingerprint(self.name, dimension)  # reads 16 MB: once
        manifest = onnx_encoder.light_manifest(local, fingerprint, dimension)
        if manifest is None:
            return False
        self.__dict__["fingerprint"] = fingerprint  # the cached_property's value
        from core.model.text_tokenizer import TOKENIZER_FILE, TextTokenizer

        self._dimension, self._max_length = dimension, int(manifest["max_seq_length"])
        self._text_tokenizer = TextTokenizer(local / TOKENIZER_FILE)
        log.debug("int8 encoder from its cache alone; the model loads only if asked for")
        return True

    @property
    def model(self) -> Any:
        """The SentenceTransformer (loaded on first use when the int8 encoder runs alone)."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = self._load_model()
        return self._model

    def _load_model(self) -> Any:
        """Import torch and sentence-transformers and load ``self.name`` on CPU."""
        return load_sentence_transformer(self.name, self.threads)

    def _start_encoder(self) -> None:
        """Fresh per-encoder state: the recent-vector memory, the bulk worker, the int8
        session (exported on first use)."""
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.recent_hits = 0
        self._bulk: ThreadPoolExecutor | None = None
        self._bulk_lock = threading.Lock()
        self._onnx = None
        if self.encoder == "onnx-int8":
            from core.model.onnx_encoder import OnnxEncoder

            folder = self._int8_folder()
            self._onnx = OnnxEncoder(folder, self.text_tokenizer, self.max_length, self.threads)

    def _int8_folder(self) -> Path:
        """The int8 export: the cached one this embedder was opened from, else made (or
        found) from the loaded model."""
        from core.model import onnx_encoder

        if self._text_tokenizer is not None:
            return onnx_encoder.cache_folder(self.fingerprint)
        from core.model.onnx_export import ensure_exported

        local = Path(self.name).expanduser()
        return ensure_exported(self.model, self.fingerprint, local if local.is_dir() else None)

    def with_encoder(self, encoder: str) -> Embedder:
        """This model with ``encoder``: the loaded weights are shared, not loaded again.

        Raises:
            ModelNotFoundError: if the encoder is unknown or cannot be exported.
        """
        name = _encoder_name(encoder)
        if name == self.encoder:
            return self
        _ = self.model  # loaded here, once, so both share it
        twin = copy.copy(self)
        twin.encoder = name
        twin._start_encoder()
        return twin

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return self._dimension or int(self.model.get_embedding_dimension())

    @property
    def max_length(self) -> int:
        """The model window in tokens, special tokens included."""
        return self._max_length or int(self.model.max_seq_length)

    @property
    def max_tokens(self) -> int:
        """Content tokens that fit the model window (special tokens excluded)."""
        return self.max_length - 2

    @property
    def tokenizer(self):  # a Hugging Face tokenizer
        """The model's own (Hugging Face) tokenizer; loads the model if it is not loaded."""
        return self.model.tokenizer

    @property
    def text_tokenizer(self) -> Any:
        """What ingest, the int8 encoder and "why it matched" tokenize with: the folder's
        tokenizer.json alone when the int8 encoder runs without the model (it gives the same
        ids and offsets, checked at export), else :attr:`tokenizer`."""
        return self._text_tokenizer or self.tokenizer

    @property
    def label(self) -> str:
        """A short human name for the model."""
        if Path(self.name).resolve() == Path(config.default_model_path()).resolve():
            return DEFAULT_MODEL_LABEL
        return Path(self.name).name or self.name

    @cached_property
    def fingerprint(self) -> str:
        """Identity of the weights: collections built with other weights are refused."""
        return weights_fingerprint(self.name, self.dimension)

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
