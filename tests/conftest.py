"""Shared fixtures: a private data dir for every test, the tiny random BERT, the real model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests (and the apps they start) run the torch encoder unless they choose onnx-int8: its
# export lives in each test's private data dir and would be made again for every test.
os.environ.setdefault("EMBEDLAB_ENCODER", "torch")

from tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT.parent / "shared" / "eval"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty data dir, so nothing touches real collections."""
    folder = tmp_path / "collections"
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight BERT sentence-transformers folder (32 dimensions), built once."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_embedder(tiny_model_dir: Path):
    """An Embedder over the tiny model: fast, deterministic, meaningless vectors."""
    from core.model.embedder import Embedder

    return Embedder(str(tiny_model_dir))


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled all-MiniLM-L6-v2, loaded once for the whole run."""
    from core.model.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Llama-family causal model (SmolLM2's family) folder, built once."""
    from tiny_model import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_llama(tiny_llama_dir: Path):
    """The tiny Llama loaded as the lab loads a causal model (``CausalLM``)."""
    from core.model.causal_lm import load_causal_lm

    return load_causal_lm(str(tiny_llama_dir))


@pytest.fixture(scope="session")
def real_causal_lm():
    """The bundled SmolLM2-135M, loaded once for the whole run (converted on first use ever,
    into the project's data/cache, which survives across runs)."""
    from core.model.causal_lm import load_causal_lm

    return load_causal_lm()


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory):
    """Milvus Lite's gRPC server on a free localhost port, for the whole run (its own temp
    dir); a failure to start fails the tests that need it (never a skip)."""
    from measure.milvus_server import milvus_lite_server

    with milvus_lite_server(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri
