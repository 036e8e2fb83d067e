"""Tests for the tiny random-weight BERT sentence-transformers model used by fast tests."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from tiny_model import FIXTURE_DIR, build_tiny_model
from transformers import AutoModel, AutoTokenizer

HIDDEN_SIZE = 32
NUM_LAYERS = 2
NUM_HEADS = 4
SENTENCES = [
    "The river bank was muddy.",
    "She deposited money at the bank.",
    "A python is a large snake.",
    "Machine learning model for vector search.",
]
LONG_TEXT = " ".join(["the king and the queen of fashion"] * 40)


def _encode(model_dir: Path, sentences: list[str] = SENTENCES) -> np.ndarray:
    """Load ``model_dir`` with sentence-transformers and encode ``sentences``.

    Args:
        model_dir: A folder produced by :func:`build_tiny_model`.
        sentences: Texts to embed.

    Returns:
        Array of shape ``(len(sentences), HIDDEN_SIZE)``.
    """
    model = SentenceTransformer(str(model_dir), device="cpu")
    return model.encode(sentences, convert_to_numpy=True)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the tiny model once for this module."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def st_model(tiny_dir: Path) -> SentenceTransformer:
    """The tiny model loaded with sentence-transformers on CPU."""
    return SentenceTransformer(str(tiny_dir), device="cpu")


def test_fixture_files_are_small_and_consistent() -> None:
    """config.json matches vocab.txt and both committed files stay a few KB."""
    config = json.loads((FIXTURE_DIR / "config.json").read_text(encoding="utf-8"))
    vocab = (FIXTURE_DIR / "vocab.txt").read_text(encoding="utf-8").splitlines()

    assert config["model_type"] == "bert"
    assert config["vocab_size"] == len(vocab)
    assert 400 <= len(vocab) <= 1000
    assert len(set(vocab)) == len(vocab)
    assert vocab[config["pad_token_id"]] == "[PAD]"
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for word in ("model", "bank", "river", "python", "snake", "jump", "leap", "king", "queen"):
        assert word in vocab
    assert all(f"##{c}" in vocab for c in "abcdefghijklmnopqrstuvwxyz")
    for name in ("config.json", "vocab.txt"):
        assert (FIXTURE_DIR / name).stat().st_size < 8_000


def test_build_writes_sentence_transformers_layout(tiny_dir: Path) -> None:
    """The built folder holds the HF model, the tokenizer and the sentence-transformers files."""
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
        "2_Normalize/config.json",
    ):
        assert (tiny_dir / name).is_file(), name
    modules = json.loads((tiny_dir / "modules.json").read_text(encoding="utf-8"))
    assert [m["path"] for m in modules] == ["", "1_Pooling", "2_Normalize"]


def test_loads_with_sentence_transformer_offline(st_model: SentenceTransformer) -> None:
    """SentenceTransformer loads the folder offline as Transformer -> Pooling(mean) -> Normalize."""
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert [type(module).__name__ for module in st_model] == ["Transformer", "Pooling", "Normalize"]
    assert st_model[1].pooling_mode == "mean"
    assert st_model.get_embedding_dimension() == HIDDEN_SIZE
    assert st_model.max_seq_length == 64
    assert len(st_model.tokenizer) == st_model[0].auto_model.config.vocab_size


def test_encode_shape_and_unit_norm(st_model: SentenceTransformer) -> None:
    """Embeddings have shape (n, 32), unit L2 norm, and differ between sentences."""
    embeddings = st_model.encode(SENTENCES, convert_to_numpy=True)
    assert embeddings.shape == (len(SENTENCES), HIDDEN_SIZE)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(embeddings[0], embeddings[1])


def test_same_seed_is_deterministic_and_other_seed_differs(tmp_path: Path) -> None:
    """Two builds with the same seed give identical embeddings; another seed does not."""
    first = _encode(build_tiny_model(tmp_path / "seed0_a", seed=0))
    second = _encode(build_tiny_model(tmp_path / "seed0_b", seed=0))
    other = _encode(build_tiny_model(tmp_path / "seed1", seed=1))

    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other, atol=1e-3)


def test_build_is_fast_and_keeps_global_rng(tmp_path: Path) -> None:
    """Building takes well under 2 s and does not disturb the caller's torch RNG."""
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    start = time.perf_counter()
    build_tiny_model(tmp_path / "timed")
    elapsed = time.perf_counter() - start
    assert torch.equal(torch.rand(3), expected)
    assert elapsed < 2.0


def test_tokenizer_splits_out_of_vocab_word(tiny_dir: Path) -> None:
    """Out-of-vocabulary words become word pieces rather than [UNK]; input is lowercased."""
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_dir))
    assert len(tokenizer) == len(
        (FIXTURE_DIR / "vocab.txt").read_text(encoding="utf-8").splitlines()
    )
    assert tokenizer.tokenize("Python") == ["python"]
    assert tokenizer.tokenize("snakes") == ["snake", "##s"]

    pieces = tokenizer.tokenize("xylophone")
    assert len(pieces) > 1
    assert "[UNK]" not in pieces
    assert not pieces[0].startswith("##")
    assert all(piece.startswith("##") for piece in pieces[1:])
    assert "".join(piece.removeprefix("##") for piece in pieces) == "xylophone"


def test_auto_model_eager_returns_attentions(tiny_dir: Path) -> None:
    """AutoModel with eager attention returns per-layer (batch, heads, T, T) row-stochastic maps."""
    model = AutoModel.from_pretrained(str(tiny_dir), attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_dir))
    batch = tokenizer(SENTENCES[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**batch, output_attentions=True)

    seq_len = batch["input_ids"].shape[1]
    assert len(outputs.attentions) == NUM_LAYERS
    for attention in outputs.attentions:
        assert attention.shape == (2, NUM_HEADS, seq_len, seq_len)
        torch.testing.assert_close(
            attention.sum(dim=-1), torch.ones(2, NUM_HEADS, seq_len), atol=1e-5, rtol=0
        )
    assert outputs.last_hidden_state.shape == (2, seq_len, HIDDEN_SIZE)


def test_max_seq_length_truncates_long_text(st_model: SentenceTransformer, tiny_dir: Path) -> None:
    """A long text is cut to max_seq_length tokens by sentence-transformers and the HF tokenizer."""
    features = st_model.preprocess([LONG_TEXT])
    assert features["input_ids"].shape == (1, 64)
    token_embeddings = st_model.encode(LONG_TEXT, output_value="token_embeddings")
    assert tuple(token_embeddings.shape) == (64, HIDDEN_SIZE)

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_dir))
    assert len(tokenizer(LONG_TEXT, truncation=True)["input_ids"]) == 64


def test_custom_max_seq_length(tmp_path: Path) -> None:
    """A smaller max_seq_length passed to the builder is honoured on load."""
    model = SentenceTransformer(
        str(build_tiny_model(tmp_path / "short", max_seq_length=16)), device="cpu"
    )
    assert model.max_seq_length == 16
    assert model.preprocess([LONG_TEXT])["input_ids"].shape == (1, 16)


@pytest.mark.parametrize("bad_length", [0, 1, 129])
def test_rejects_out_of_range_max_seq_length(tmp_path: Path, bad_length: int) -> None:
    """max_seq_length outside [2, max_position_embeddings] is refused."""
    with pytest.raises(ValueError, match="max_seq_length"):
        build_tiny_model(tmp_path / "bad", max_seq_length=bad_length)
