"""A causal language model (GPT-2 family), when one is configured: next-token guesses.

The default model, all-MiniLM-L6-v2, is an encoder: it reads a whole text at once and has no
head that predicts the next token. A GPT-2 folder on this machine, named by the environment
variable ``EMBEDLAB_CAUSAL_MODEL``, adds two views on the How it works page:

- the next-token distribution after the text (top k);
- a logit lens: each layer's vector at the last position sent through the model's final
  LayerNorm and output head, as if the model stopped there: what it would predict so far.

Nothing is downloaded: the folder must hold the model and its tokenizer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import config
from core.errors import InputError, ModelNotFoundError
from core.model.embedder import thread_safe_tokenizer

log = logging.getLogger(__name__)

ENV_VAR = config.CAUSAL_MODEL_VAR
causal_model_path = config.causal_model_path
_MODELS: dict[str, tuple[Any, Any]] = {}
_LOCK = threading.Lock()

Guesses = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class NextToken:
    """What a causal model expects after a text.

    Attributes:
        model: the folder it was loaded from.
        tokens: the text's tokens, as text.
        top: (token, probability) of the k likeliest next tokens.
        lens: per layer (the embedding layer first, the last layer last), the k likeliest
            next tokens if the model stopped at that layer (logit lens).
    """

    model: str
    tokens: tuple[str, ...]
    top: Guesses
    lens: tuple[Guesses, ...]


def load_causal(path: str) -> tuple[Any, Any]:
    """(model, tokenizer) from a local folder, loaded once per process.

    Raises:
        ModelNotFoundError: when the folder is missing or holds no causal model.
    """
    with _LOCK:
        if path in _MODELS:
            return _MODELS[path]
        if not Path(path).is_dir():
            raise ModelNotFoundError(
                f"{ENV_VAR} names '{path}', which is not a folder. Point it at a local GPT-2 "
                "folder (config.json, weights and tokenizer files), or unset it."
            )
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = thread_safe_tokenizer(AutoTokenizer.from_pretrained(path))
            model = AutoModelForCausalLM.from_pretrained(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelNotFoundError(
                f"Could not load a causal model from '{path}': {exc}"
            ) from None
        model.eval()
        _MODELS[path] = (model, tokenizer)
        return model, tokenizer


def _final_norm(model: Any) -> Any:
    """The LayerNorm applied before the output head (GPT-2: ``transformer.ln_f``)."""
    body = getattr(model, "transformer", None)
    norm = getattr(body, "ln_f", None)
    if norm is None:
        raise ModelNotFoundError("Only GPT-2 family models are supported for the logit lens.")
    return norm


def _top(tokenizer: Any, logits: np.ndarray, k: int) -> Guesses:
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    best = np.argsort(-probs)[:k]
    return tuple((tokenizer.decode([int(i)]), float(probs[i])) for i in best)


def next_token(text: str, k: int = 5, path: str | None = None) -> NextToken:
    """Next-token top ``k`` and a logit lens for ``text``.

    Raises:
        InputError: for empty text.
        ModelNotFoundError: when no causal model is configured or it cannot be loaded.
    """
    import torch

    path = path or causal_model_path()
    if path is None:
        raise ModelNotFoundError(f"No causal model configured: set {ENV_VAR} to a GPT-2 folder.")
    if not text.strip():
        raise InputError("Type some text for the model to continue.")
    model, tokenizer = load_causal(path)
    limit = int(getattr(model.config, "n_positions", 1024))
    ids = tokenizer(text, return_tensors="pt")["input_ids"][:, -limit:]  # (1, T)
    with torch.inference_mode():
        out = model(input_ids=ids, output_hidden_states=True)
        last = torch.stack(out.hidden_states)[:, 0, -1]  # (L+1, D) at the last position
        # hidden_states[-1] already went through ln_f; earlier ones have not.
        lens = model.lm_head(_final_norm(model)(last[:-1]))  # (L, vocab)
        lens = torch.cat([lens, out.logits[:, -1]]).float().numpy()  # (L+1, vocab)
    tokens = tuple(tokenizer.decode([int(i)]) for i in ids[0])
    layers = tuple(_top(tokenizer, row, k) for row in lens)
    return NextToken(path, tokens, layers[-1], layers)
