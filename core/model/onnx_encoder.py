"""Texts -> vectors with an int8 ONNX Runtime copy of the model, exported offline, once.

The export has three steps and no network: the Hugging Face transformer inside the loaded
SentenceTransformer is traced with ``torch.onnx.export`` (fp32, dynamic batch and sequence
axes), then ``onnxruntime.quantization.quantize_dynamic`` stores its weights as int8, one
scale per output channel (one scale per tensor put some vectors 0.1 in cosine off fp32). It is
cached under ``cache_dir()/encoders/<fingerprint>-onnx-int8/`` and reused: the folder is
written under a temporary name and moved into place with ``os.replace``. In read-only mode
(``EMBEDLAB_READ_ONLY=1``) a missing export is made in a private temp folder outside the data
dir, used by this process only and removed when it exits.

At run time ONNX Runtime gives each text's last hidden state (token vectors); mean pooling and
L2 normalisation run in numpy, as sentence-transformers' Pooling and Normalize modules do.
Texts run one per call, several calls at once (one thread each), so a text's vector never
depends on the texts beside it: see :class:`OnnxEncoder`.
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from core import atomic, config
from core.errors import ModelNotFoundError

log = logging.getLogger(__name__)

NAME = "onnx-int8"
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "encoder.json"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def recipe() -> dict[str, Any]:
    """How the cached model is made; a cache made another way is exported again.

    ``reduce_range`` (7-bit weights) is the ONNX Runtime advice for x86 CPUs without VNNI,
    whose u8 x s8 multiply-add can saturate; CPUs with VNNI use the full int8 range.
    """
    import onnxruntime

    return {
        "format": 1,
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


def ensure_exported(st_model: Any, fingerprint: str) -> Path:
    """Return the cached int8 model folder for ``st_model``, exporting it on first use.

    Raises:
        ModelNotFoundError: if the model cannot be exported (unsupported architecture or
            pooling, or onnx / onnxruntime missing).
    """
    check_supported(st_model)  # pooling is not part of the weights' fingerprint
    _require_packages()
    folder = cache_folder(fingerprint)
    if _is_current(folder):
        log.debug("int8 encoder cache hit: %s", folder)
        return folder
    log.warning(
        "Preparing the int8 encoder: exporting and quantising the model, once (about a "
        "minute); later runs reuse %s",
        folder,
    )
    if config.read_only():
        return _export_private(st_model)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _export_or_explain(st_model, tmp)
        _install(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _export_private(st_model: Any) -> Path:
    """Read-only mode: export into a private temp folder outside the data dir, gone at exit."""
    tmp = Path(tempfile.mkdtemp(prefix="embedlab-int8-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    _export_or_explain(st_model, tmp)
    log.warning("read-only: the int8 encoder was exported to %s for this process only", tmp)
    return tmp


def _export_or_explain(st_model: Any, out: Path) -> None:
    """:func:`export_int8` into ``out``, with any failure said as ModelNotFoundError."""
    try:
        started = time.perf_counter()
        export_int8(st_model, out)
        log.info("exported int8 encoder in %.1f s", time.perf_counter() - started)
    except Exception as exc:  # onnx export errors have no common base class
        raise ModelNotFoundError(
            f"Could not export the model to ONNX int8 ({type(exc).__name__}: {exc}). "
            "Set EMBEDLAB_ENCODER=torch to use plain sentence-transformers."
        ) from exc


def _require_packages() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelNotFoundError(
            f"The onnx-int8 encoder needs onnx and onnxruntime ({exc}). Install them with "
            "pip install -r requirements.txt, or set EMBEDLAB_ENCODER=torch."
        ) from None


def _is_current(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("recipe") == recipe() and (folder / MODEL_FILE).is_file()


def _install(tmp: Path, folder: Path) -> None:
    """Move the finished export into place; a stale copy is renamed away first."""
    if folder.exists():
        stale = folder.with_name(f".stale-{folder.name}-{time.time_ns()}")
        folder.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:
        if not _is_current(folder):  # another process installed a copy at the same moment
            raise
    atomic.fsync_dir(folder.parent)


def check_supported(st_model: Any) -> None:
    """Refuse models whose pipeline the numpy pooling does not reproduce.

    Raises:
        ModelNotFoundError: unless the model is Transformer -> mean Pooling [-> Normalize].
    """
    kinds = [type(module).__name__ for module in st_model]
    mode = getattr(st_model[1], "pooling_mode", None) if len(kinds) > 1 else None
    supported = kinds[:2] == ["Transformer", "Pooling"] and kinds[2:] in ([], ["Normalize"])
    if not supported or mode != "mean":
        raise ModelNotFoundError(
            f"The onnx-int8 encoder supports Transformer + mean pooling models; this one is "
            f"{' -> '.join(kinds)}. Set EMBEDLAB_ENCODER=torch to use it."
        )


def export_int8(st_model: Any, out: Path) -> None:
    """Export ``st_model``'s transformer to ``out/model.onnx`` with int8 weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = out / "fp32.onnx"
    _export_fp32(st_model, fp32)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the quantizer logs every tensor on the root logger
    try:
        quantize_dynamic(
            fp32,
            out / MODEL_FILE,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=recipe()["reduce_range"],
        )
    finally:
        logging.disable(previous)
    fp32.unlink()
    out.chmod(0o755)
    manifest = {"recipe": recipe(), "created_at": time.time(), "inputs": _input_names(st_model)}
    atomic.write_json(out / MANIFEST_FILE, manifest)
    with (out / MODEL_FILE).open("rb") as handle:
        os.fsync(handle.fileno())


def _input_names(st_model: Any) -> list[str]:
    accepted = set(st_model.tokenizer.model_input_names)
    return [name for name in INPUT_NAMES if name in accepted]


def _export_fp32(st_model: Any, path: Path) -> None:
    """Trace the transformer (eager attention) with a padded batch -> fp32 ONNX."""
    import torch

    names = _input_names(st_model)
    model = copy.deepcopy(st_model[0].auto_model)
    model.set_attn_implementation("eager")
    model.eval()
    sample = st_model.tokenizer(
        ["a short one", "a longer sample sentence, so the batch is padded"],
        padding=True,
        return_tensors="pt",
    )
    args = tuple(sample[name] for name in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "token_embeddings"]}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _last_hidden(model, names),
            args,
            str(path),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _last_hidden(model: Any, names: list[str]) -> Any:
    """Wrap ``model``: positional inputs -> last hidden state, the form the exporter traces."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    return LastHidden()


class OnnxEncoder:
    """The int8 ONNX Runtime session behind ``Embedder.encode`` when EMBEDLAB_ENCODER=onnx-int8.

    Each text runs alone. The int8 activations are quantised with one scale per call (the
    largest value of the whole input), so in a batch a text's vector would depend on its
    neighbours, up to 0.01 in cosine (measured on SciFact abstracts). Alone, a text's vector
    depends on the text only: ingest, queries and the token vectors behind "why it matched"
    agree to float rounding. Throughput comes from running ``threads`` texts at once, one
    thread each, instead of one batch over every thread.
    """

    def __init__(self, st_model: Any, fingerprint: str, threads: int | None = None) -> None:
        """Load (exporting on first use) the int8 model of ``st_model``.

        Raises:
            ModelNotFoundError: if it cannot be exported or loaded.
        """
        self.folder = ensure_exported(st_model, fingerprint)
        self.tokenizer = st_model.tokenizer
        self.max_length = int(st_model.max_seq_length)
        self.names = json.loads((self.folder / MANIFEST_FILE).read_text())["inputs"]
        self.threads = threads or config.threads()
        self.session = _session(self.folder / MODEL_FILE)
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
