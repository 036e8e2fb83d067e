"""Build a tiny random-weight BERT sentence-transformers model for fast, offline tests.

Only a few KB of hand-readable files are committed (``tests/fixtures/tiny_bert/config.json`` and
``tests/fixtures/tiny_bert/vocab.txt``); the weights, tokenizer and sentence-transformers metadata
are materialised at test time by :func:`build_tiny_model`.

The resulting folder loads as ``Transformer -> Pooling(mean) -> Normalize`` with
``SentenceTransformer(str(dest), device="cpu")`` and as a plain Hugging Face model with
``AutoModel.from_pretrained(dest)`` / ``AutoTokenizer.from_pretrained(dest)``.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"

import torch
from transformers import BertConfig, BertModel, BertTokenizerFast
from transformers.utils import logging as hf_logging

FIXTURE_DIR: Path = Path(__file__).resolve().parent / "fixtures" / "tiny_bert"
"""Folder holding the committed ``config.json`` and ``vocab.txt`` of the tiny model."""

# Class references exactly as sentence-transformers 6.x writes them in ``modules.json``.
_TRANSFORMER_REF = "sentence_transformers.base.modules.transformer.Transformer"
_POOLING_REF = "sentence_transformers.sentence_transformer.modules.pooling.Pooling"
_NORMALIZE_REF = "sentence_transformers.base.modules.normalize.Normalize"


def _write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON, creating parent folders as needed.

    Args:
        path: Destination file.
        payload: JSON-serialisable object.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _load_vocab(vocab_file: Path) -> dict[str, int]:
    """Read a WordPiece ``vocab.txt`` (one token per line) into a token -> id mapping.

    Args:
        vocab_file: Path to the vocabulary file.

    Returns:
        Mapping from token to its line index.

    Raises:
        ValueError: If the file holds an empty or duplicated token.
    """
    tokens = vocab_file.read_text(encoding="utf-8").splitlines()
    vocab = {token: idx for idx, token in enumerate(tokens)}
    if len(vocab) != len(tokens) or "" in vocab:
        raise ValueError(f"{vocab_file} has empty or duplicated tokens")
    return vocab


def _package_version(name: str) -> str:
    """Return the installed version of a distribution, or ``"unknown"``.

    Args:
        name: Distribution name, e.g. ``"sentence-transformers"``.

    Returns:
        The version string.
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _write_sentence_transformers_files(dest: Path, hidden_size: int, max_seq_length: int) -> None:
    """Write the sentence-transformers metadata for Transformer -> Pooling(mean) -> Normalize.

    Args:
        dest: Model folder (already holding the Hugging Face model and tokenizer).
        hidden_size: Embedding dimension produced by the transformer.
        max_seq_length: Maximum number of tokens per input, special tokens included.
    """
    _write_json(
        dest / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": _TRANSFORMER_REF},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": _POOLING_REF},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": _NORMALIZE_REF},
        ],
    )
    # sentence-transformers 6.x reads the sequence limit from the tokenizer's model_max_length;
    # the legacy "max_seq_length" key is still honoured and keeps older readers working.
    _write_json(
        dest / "sentence_bert_config.json",
        {
            "max_seq_length": max_seq_length,
            "do_lower_case": False,
            "transformer_task": "feature-extraction",
            "modality_config": {
                "text": {"method": "forward", "method_output_name": "last_hidden_state"}
            },
            "module_output_name": "token_embeddings",
        },
    )
    _write_json(
        dest / "1_Pooling" / "config.json",
        {"embedding_dimension": hidden_size, "pooling_mode": "mean", "include_prompt": True},
    )
    _write_json(
        dest / "2_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )
    _write_json(
        dest / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "__version__": {
                "sentence_transformers": _package_version("sentence-transformers"),
                "transformers": _package_version("transformers"),
                "pytorch": _package_version("torch"),
            },
            "prompts": {},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


def build_tiny_model(dest: Path, seed: int = 0, max_seq_length: int = 64) -> Path:
    """Materialise a random-weight sentence-transformers BERT folder at dest and return dest.

    The weights are drawn under ``torch.manual_seed(seed)`` inside a forked RNG, so the caller's
    global RNG state is left untouched and the same seed always gives identical weights.

    Args:
        dest: Folder to create (or fill); existing files with the same names are overwritten.
        seed: Seed for the random weight initialisation.
        max_seq_length: Maximum number of tokens per input (special tokens included). Must not
            exceed the config's ``max_position_embeddings``.

    Returns:
        ``dest``, ready for ``SentenceTransformer(str(dest), device="cpu")``.

    Raises:
        ValueError: If ``max_seq_length`` is not in ``[2, max_position_embeddings]``.
    """
    dest = Path(dest)
    config = BertConfig.from_json_file(str(FIXTURE_DIR / "config.json"))
    if not 2 <= max_seq_length <= config.max_position_embeddings:
        raise ValueError(
            f"max_seq_length must be in [2, {config.max_position_embeddings}], got {max_seq_length}"
        )
    dest.mkdir(parents=True, exist_ok=True)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    model.eval()

    progress_was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(str(dest), safe_serialization=True)
    finally:
        if progress_was_enabled:
            hf_logging.enable_progress_bar()

    # transformers 5.x: BertTokenizerFast is an alias of the tokenizers-backed BertTokenizer, whose
    # constructor silently ignores ``vocab_file=`` (leaving a 5-token vocab); pass the vocab itself.
    vocab = _load_vocab(FIXTURE_DIR / "vocab.txt")
    if len(vocab) != config.vocab_size:
        raise RuntimeError(
            f"vocab.txt has {len(vocab)} entries, config.json has vocab_size={config.vocab_size}"
        )
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=max_seq_length)
    if len(tokenizer) != config.vocab_size:
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens, expected {config.vocab_size}")
    tokenizer.save_pretrained(str(dest))
    shutil.copyfile(FIXTURE_DIR / "vocab.txt", dest / "vocab.txt")

    _write_sentence_transformers_files(dest, config.hidden_size, max_seq_length)
    return dest


GPT2_FIXTURE_DIR: Path = Path(__file__).resolve().parent / "fixtures" / "tiny_gpt2"
"""Folder of the tiny GPT-2's committed config, 71-entry byte-level BPE vocabulary and merges."""


def build_tiny_gpt2(dest: Path, seed: int = 0) -> Path:
    """Write a random GPT-2 (2 layers, 16 dimensions) and its tokenizer to ``dest``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    vocab = json.loads((GPT2_FIXTURE_DIR / "vocab.json").read_text(encoding="utf-8"))
    lines = (GPT2_FIXTURE_DIR / "merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split()) for line in lines if line and not line.startswith("#")]
    tokenizer = GPT2TokenizerFast(vocab=vocab, merges=merges)
    config = GPT2Config.from_json_file(str(GPT2_FIXTURE_DIR / "config.json"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    model.save_pretrained(str(dest))
    tokenizer.save_pretrained(str(dest))
    return dest


def build_tiny_llama(dest: Path, seed: int = 0) -> Path:
    """Write a random Llama-family causal model (2 layers, 16 dimensions, like SmolLM2's
    shape: grouped key/value heads, tied input and output tables) with the tiny GPT-2's
    byte-level tokenizer to ``dest``."""
    import torch
    from transformers import GPT2TokenizerFast, LlamaConfig, LlamaForCausalLM

    vocab = json.loads((GPT2_FIXTURE_DIR / "vocab.json").read_text(encoding="utf-8"))
    lines = (GPT2_FIXTURE_DIR / "merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split()) for line in lines if line and not line.startswith("#")]
    tokenizer = GPT2TokenizerFast(vocab=vocab, merges=merges)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        bos_token_id=0,
        eos_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        with torch.no_grad():  # larger weights than the default init: peaked distributions
            for param in model.parameters():
                param.mul_(20.0 if param.dim() == 2 else 1.0)
    model.save_pretrained(str(dest))
    tokenizer.save_pretrained(str(dest))
    return dest
