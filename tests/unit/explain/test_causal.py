"""The How it works page's causal-model path, on a tiny random-weight GPT-2 built offline.

The committed fixture (``tests/fixtures/tiny_gpt2``) is a config plus a 71-entry byte-level
BPE vocabulary and its merges; the weights are drawn at test time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import InputError, ModelNotFoundError
from core.explain import causal
from tests.tiny_model import build_tiny_gpt2


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


def test_tokenizer_is_built_offline_from_the_fixture(tiny_gpt2: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_gpt2))
    assert tokenizer.tokenize("the sand") == ["the", "Ġs", "and"]


def test_next_token_and_logit_lens(tiny_gpt2: Path) -> None:
    result = causal.next_token("the cat and the", k=4, path=str(tiny_gpt2))
    assert "".join(result.tokens) == "the cat and the"
    assert len(result.top) == 4
    assert len(result.lens) == 3  # embedding layer + 2 layers
    probs = [p for _, p in result.top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert result.lens[-1] == result.top  # the last layer's lens is the model's own output


def test_lens_matches_manual_computation(tiny_gpt2: Path) -> None:
    import torch

    model, tokenizer = causal.load_causal(str(tiny_gpt2))
    ids = tokenizer("the cat", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model(input_ids=ids, output_hidden_states=True)
        first = model.lm_head(model.transformer.ln_f(out.hidden_states[1][0, -1]))
    best = int(np.argmax(first.numpy()))
    lens = causal.next_token("the cat", k=1, path=str(tiny_gpt2)).lens[1]
    assert lens[0][0] == tokenizer.decode([best])


def test_environment_variable_and_bad_input(
    tiny_gpt2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(causal.ENV_VAR, raising=False)
    assert causal.causal_model_path() is None
    with pytest.raises(ModelNotFoundError, match=causal.ENV_VAR):
        causal.next_token("hello")
    monkeypatch.setenv(causal.ENV_VAR, str(tiny_gpt2))
    assert causal.next_token("hello", k=2).model == str(tiny_gpt2)
    with pytest.raises(InputError):
        causal.next_token("   ")
    monkeypatch.setenv(causal.ENV_VAR, "/no/such/folder")
    with pytest.raises(ModelNotFoundError, match="not a folder"):
        causal.next_token("hello")
