"""Loading a sentence-transformers model: torch and transformers imported only here.

- :func:`load_sentence_transformer`: a folder or hub id -> SentenceTransformer on CPU, offline;
- :func:`thread_safe_tokenizer`: a shared fast tokenizer made safe for many threads;
- :func:`weights_fingerprint`: the identity of the weights, without loading them.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from core.errors import ModelNotFoundError


def load_sentence_transformer(name: str, threads: int) -> Any:
    """Import torch and sentence-transformers, load ``name`` on CPU with ``threads`` threads.

    Raises:
        ModelNotFoundError: if it cannot be loaded offline.
    """
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.set_num_threads(threads)
    try:
        model = SentenceTransformer(name, device="cpu")
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"Could not load model '{name}' offline ({exc}). Set EMBEDLAB_MODEL to a "
            "local sentence-transformers folder, or unset it to use the bundled model."
        ) from None
    model.eval()
    thread_safe_tokenizer(model.tokenizer)
    return model


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


def weights_fingerprint(name: str, dimension: int) -> str:
    """Identity of a model's weights (and vector length): a digest of the weight files of a
    local folder (their first 16 MB and sizes), else of the hub id."""
    digest = hashlib.sha256(str(dimension).encode())
    folder = Path(name).expanduser()
    if not folder.is_dir():
        digest.update(name.encode())
        return digest.hexdigest()[:16]
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    for path in files or sorted(folder.glob("config.json")):
        with path.open("rb") as handle:
            digest.update(handle.read(16 * 1024 * 1024))
        digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]
