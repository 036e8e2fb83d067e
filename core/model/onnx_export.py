"""A loaded SentenceTransformer -> its cached int8 ONNX copy, exported offline, once.

The export has three steps and no network: the Hugging Face transformer inside the loaded
SentenceTransformer is traced with ``torch.onnx.export`` (fp32, dynamic batch and sequence
axes), then ``onnxruntime.quantization.quantize_dynamic`` stores its weights as int8, one
scale per output channel (one scale per tensor put some vectors 0.1 in cosine off fp32). It is
cached under ``cache_dir()/encoders/<fingerprint>-onnx-int8/`` and reused: the folder is
written under a temporary name and moved into place with ``os.replace``. In read-only mode
(``EMBEDLAB_READ_ONLY=1``) a missing export is made in a private temp folder outside the data
dir, used by this process only and removed when it exits.

Its manifest also records what a later process needs to run the copy without loading the
SentenceTransformer (and torch) at all: the input names, dimension and window, a digest of
the model folder's configuration, and whether that folder's ``tokenizer.json`` read alone
tokenizes as the loaded tokenizer does (see ``onnx_encoder.light_manifest``).
"""

from __future__ import annotations

import atexit
import copy
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from core import atomic, config
from core.errors import ModelNotFoundError
from core.model import onnx_encoder
from core.model.onnx_encoder import MANIFEST_FILE, MODEL_FILE, cache_folder, recipe
from core.model.text_tokenizer import TOKENIZER_FILE, TextTokenizer

log = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Texts on which the tokenizer.json alone must tokenize as the loaded tokenizer does.
TOKENIZER_SAMPLES = (
    "A cat sleeps on the warm windowsill.",
    "Ünïcödé àccents, naïve café — Zürich's “quotes” and 東京の天気 😀!",
    "Tabs\tand\nnew lines,   spaces; e-mail x@y.org, 3.14159 and C++/C#.",
    "Penguins huddle together to survive the Antarctic winter. " * 30,
)


def ensure_exported(st_model: Any, fingerprint: str, model_folder: Path | None = None) -> Path:
    """Return the cached int8 model folder for ``st_model``, exporting it on first use.

    ``model_folder``: the local folder ``st_model`` was loaded from (None for a hub id); its
    configuration digest goes into the manifest, so later processes can skip loading it.

    Raises:
        ModelNotFoundError: if the model cannot be exported (unsupported architecture or
            pooling, or onnx / onnxruntime missing).
    """
    check_supported(st_model)  # pooling is not part of the weights' fingerprint
    _require_packages()
    folder = cache_folder(fingerprint)
    if onnx_encoder.is_current(folder):
        log.debug("int8 encoder cache hit: %s", folder)
        return folder
    log.warning(
        "Preparing the int8 encoder: exporting and quantising the model, once (about a "
        "minute); later runs reuse %s",
        folder,
    )
    if config.read_only():
        return _export_private(st_model, model_folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _export_or_explain(st_model, tmp, model_folder)
        _install(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _export_private(st_model: Any, model_folder: Path | None) -> Path:
    """Read-only mode: export into a private temp folder outside the data dir, gone at exit."""
    tmp = Path(tempfile.mkdtemp(prefix="embedlab-int8-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    _export_or_explain(st_model, tmp, model_folder)
    log.warning("read-only: the int8 encoder was exported to %s for this process only", tmp)
    return tmp


def _export_or_explain(st_model: Any, out: Path, model_folder: Path | None) -> None:
    """:func:`export_int8` into ``out``, with any failure said as ModelNotFoundError."""
    try:
        started = time.perf_counter()
        export_int8(st_model, out, model_folder)
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


def _install(tmp: Path, folder: Path) -> None:
    """Move the finished export into place; a stale copy is renamed away first."""
    if folder.exists():
        stale = folder.with_name(f".stale-{folder.name}-{time.time_ns()}")
        folder.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:
        if not onnx_encoder.is_current(folder):  # another process installed one meanwhile
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


def export_int8(st_model: Any, out: Path, model_folder: Path | None = None) -> None:
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
    manifest = {"recipe": recipe(), "created_at": time.time(), **model_facts(st_model)}
    manifest.update(folder_facts(st_model, model_folder))
    atomic.write_json(out / MANIFEST_FILE, manifest)
    with (out / MODEL_FILE).open("rb") as handle:
        os.fsync(handle.fileno())


def model_facts(st_model: Any) -> dict[str, Any]:
    """What running the copy needs to know of the model: inputs, dimension, window."""
    return {
        "inputs": _input_names(st_model),
        "dimension": int(st_model.get_embedding_dimension()),
        "max_seq_length": int(st_model.max_seq_length),
    }


def folder_facts(st_model: Any, model_folder: Path | None) -> dict[str, Any]:
    """The model folder's configuration digest, and whether its tokenizer.json alone is
    enough (it tokenizes :data:`TOKENIZER_SAMPLES` as the loaded tokenizer does)."""
    if model_folder is None or not (model_folder / TOKENIZER_FILE).is_file():
        return {"pipeline": None, "tokenizer_json": False}
    light = TextTokenizer(model_folder / TOKENIZER_FILE)
    return {
        "pipeline": onnx_encoder.pipeline_digest(model_folder),
        "tokenizer_json": same_tokens(st_model.tokenizer, light, int(st_model.max_seq_length)),
    }


def same_tokens(loaded: Any, light: TextTokenizer, max_length: int) -> bool:
    """Whether both tokenizers give the same ids (truncated, with special tokens) and the
    same offsets (without) on :data:`TOKENIZER_SAMPLES`."""
    texts = list(TOKENIZER_SAMPLES)
    ids = {"truncation": True, "max_length": max_length}
    offsets = {"add_special_tokens": False, "return_offsets_mapping": True}
    for kwargs, key in ((ids, "input_ids"), (offsets, "offset_mapping")):
        if _rows(loaded(texts, **kwargs)[key]) != _rows(light(texts, **kwargs)[key]):
            return False
    return True


def _rows(rows: Any) -> list[list[Any]]:
    """Token rows as plain lists (offsets as tuples), comparable whatever made them."""
    return [[tuple(x) if isinstance(x, list | tuple) else int(x) for x in row] for row in rows]


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
