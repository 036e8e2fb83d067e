"""The int8 ONNX Runtime encoder: offline export, cache reuse, selection, collection checks."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core import config
from core.errors import LabError, ModelMismatchError, ModelNotFoundError
from core.model import onnx_encoder, onnx_export
from core.model.embedder import Embedder, ModelInfo
from core.storage.collection import Collection

SENTENCES = [
    "A cat sleeps on the warm windowsill.",
    "Interest rates rose again this quarter, and mortgage holders paid more.",
    "tea",
    "Penguins huddle together to survive the Antarctic winter. " * 4,
]


@pytest.fixture(scope="module")
def int8_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose cache holds the real model's int8 export (made once per module)."""
    return tmp_path_factory.mktemp("int8-data")


@pytest.fixture(scope="module")
def int8_embedder(int8_cache: Path) -> Embedder:
    """The bundled model with the onnx-int8 encoder, exported into ``int8_cache``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(int8_cache))
        return Embedder(encoder="onnx-int8")


def test_encoder_name_default_and_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDLAB_ENCODER", raising=False)
    assert config.encoder_name() == config.DEFAULT_ENCODER
    monkeypatch.setenv("EMBEDLAB_ENCODER", " ONNX-int8 ")
    assert config.encoder_name() == "onnx-int8"
    monkeypatch.setenv("EMBEDLAB_ENCODER", "torch")
    assert config.encoder_name() == "torch"


def test_unknown_encoder_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    monkeypatch.setenv("EMBEDLAB_ENCODER", "fp16")
    with pytest.raises(ModelNotFoundError, match=r"EMBEDLAB_ENCODER='fp16'.*onnx-int8"):
        config.encoder_name()
    with pytest.raises(LabError, match="onnx-int8"):
        Embedder(str(tiny_model_dir))
    with pytest.raises(LabError, match="Unknown encoder 'int4'"):
        Embedder(str(tiny_model_dir), encoder="int4")


def test_int8_vector_of_a_text_does_not_depend_on_its_neighbours(tiny_model_dir: Path) -> None:
    # int8 activations get one scale per call: batched, a text's vector moved with the texts
    # beside it (up to 0.01 in cosine on the real model), and explanations could not add up
    embedder = Embedder(str(tiny_model_dir), encoder="onnx-int8")
    together = embedder.encode(SENTENCES)
    alone = np.stack([embedder.encode([text])[0] for text in SENTENCES])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(embedder.encode_query(SENTENCES[0]), alone[0])
    pooled = [onnx_encoder.pool(t) for t in embedder.token_vectors(SENTENCES)]
    np.testing.assert_allclose(np.stack(pooled), together, atol=1e-6)


def test_with_encoder_shares_the_model(tiny_model_dir: Path, tiny_embedder: Embedder) -> None:
    twin = tiny_embedder.with_encoder("onnx-int8")
    assert twin.model is tiny_embedder.model and twin.encoder == "onnx-int8"
    assert tiny_embedder.encoder == "torch" and tiny_embedder.with_encoder("torch") is tiny_embedder
    expected = Embedder(str(tiny_model_dir), encoder="onnx-int8").encode(SENTENCES)
    np.testing.assert_array_equal(twin.encode(SENTENCES), expected)


def test_env_selects_onnx_int8_on_the_tiny_model(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path, tiny_embedder: Embedder
) -> None:
    monkeypatch.setenv("EMBEDLAB_ENCODER", "onnx-int8")
    embedder = Embedder(str(tiny_model_dir))
    assert embedder.encoder == "onnx-int8"
    assert embedder.info == replace(tiny_embedder.info, encoder="onnx-int8")
    assert tiny_embedder.encoder == tiny_embedder.info.encoder == "torch"
    vectors = embedder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), embedder.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_query("tea").shape == (embedder.dimension,)


def test_stale_export_is_replaced(tiny_model_dir: Path, tiny_embedder: Embedder) -> None:
    embedder = Embedder(str(tiny_model_dir), encoder="onnx-int8")
    folder = onnx_encoder.cache_folder(embedder.fingerprint)
    manifest = json.loads((folder / onnx_encoder.MANIFEST_FILE).read_text())
    manifest["recipe"]["format"] = 0
    (folder / onnx_encoder.MANIFEST_FILE).write_text(json.dumps(manifest))
    Embedder(str(tiny_model_dir), encoder="onnx-int8")
    manifest = json.loads((folder / onnx_encoder.MANIFEST_FILE).read_text())
    assert manifest["recipe"] == onnx_encoder.recipe()
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no temp left


def test_model_without_mean_pooling_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(tiny_model_dir, tmp_path / "cls-model")
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "pooling_mode": "cls"}))
    with pytest.raises(ModelNotFoundError, match="EMBEDLAB_ENCODER=torch"):
        Embedder(str(folder), encoder="onnx-int8")


def test_collection_refuses_another_encoder() -> None:
    torch_info = ModelInfo("m", "/models/m", "f00d", 32, "torch")
    int8_info = replace(torch_info, encoder="onnx-int8")
    Collection("built-with-torch", torch_info, create=True)
    assert Collection("built-with-torch", torch_info).model == torch_info
    with pytest.raises(ModelMismatchError, match="EMBEDLAB_ENCODER=torch") as refused:
        Collection("built-with-torch", int8_info)
    assert "'torch' encoder" in str(refused.value)
    Collection("built-with-int8", int8_info, create=True)
    with pytest.raises(ModelMismatchError, match="EMBEDLAB_ENCODER=onnx-int8"):
        Collection("built-with-int8", torch_info, create=True)


def test_collection_recorded_before_encoders_counts_as_torch() -> None:
    info = ModelInfo("m", "/models/m", "f00d", 32, "torch")
    collection = Collection("old", info, create=True)
    old = json.loads(collection.store.get_meta("model"))
    old.pop("encoder")
    collection.store.set_meta({"model": json.dumps(old)})
    assert Collection("old", info).model.encoder == "torch"
    with pytest.raises(ModelMismatchError):
        Collection("old", replace(info, encoder="onnx-int8"))


@pytest.mark.slow
def test_real_model_exports_offline_into_the_cache(int8_embedder: Embedder, int8_cache) -> None:
    folder = int8_cache / ".cache" / "encoders" / f"{int8_embedder.fingerprint}-onnx-int8"
    assert sorted(p.name for p in folder.iterdir()) == ["encoder.json", "model.onnx"]
    assert (folder / "model.onnx").stat().st_size < 30e6  # int8: a quarter of the fp32 weights
    assert json.loads((folder / "encoder.json").read_text())["recipe"] == onnx_encoder.recipe()
    assert int8_embedder.info.encoder == "onnx-int8"
    assert int8_embedder.model is not None and int8_embedder.tokenizer is not None


@pytest.mark.slow
def test_real_int8_vectors_are_unit_norm_and_close_to_fp32(int8_embedder: Embedder) -> None:
    vectors = int8_embedder.encode(SENTENCES)
    fp32 = int8_embedder.model.encode(SENTENCES, normalize_embeddings=True)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.sum(vectors * fp32, axis=1).min() > 0.98
    query = int8_embedder.encode_query(SENTENCES[0])
    assert float(query @ fp32[0]) > 0.98


@pytest.mark.slow
def test_real_export_is_reused(
    int8_embedder: Embedder, int8_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(int8_cache))
    model_file = onnx_encoder.cache_folder(int8_embedder.fingerprint) / "model.onnx"
    before = model_file.stat().st_mtime_ns

    def no_export(*args: object) -> None:
        raise AssertionError("the cached export should have been reused")

    monkeypatch.setattr(onnx_export, "export_int8", no_export)
    again = Embedder(encoder="onnx-int8")
    assert model_file.stat().st_mtime_ns == before
    np.testing.assert_allclose(again.encode(SENTENCES), int8_embedder.encode(SENTENCES), atol=1e-6)


def test_cli_uses_the_encoder_that_built_each_collection(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from core import cli
    from core.storage.collection import built_encoder

    monkeypatch.setenv("EMBEDLAB_MODEL", str(tiny_model_dir))
    notes = tmp_path / "notes.txt"
    notes.write_text("Penguins huddle in winter.")
    monkeypatch.setenv("EMBEDLAB_ENCODER", "torch")
    assert built_encoder("old") is None
    assert cli.main(["ingest", str(notes), "--collection", "old"]) == 0
    monkeypatch.setenv("EMBEDLAB_ENCODER", "onnx-int8")  # the default changed since
    assert cli.main(["ingest", str(notes), "--collection", "new"]) == 0
    assert (built_encoder("old"), built_encoder("new")) == ("torch", "onnx-int8")
    capsys.readouterr()
    for name in ("old", "new"):  # each searched with its own encoder: no mismatch refusal
        assert cli.main(["search", "penguins", "--collection", name, "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)["hits"]
        assert [hit["doc_id"] for hit in hits] == [hits[0]["doc_id"]] and len(hits) == 1
    notes.write_text("Penguins huddle in winter.\n\nKrill swarm in summer.")
    assert cli.main(["ingest", str(notes), "--collection", "old"]) == 0  # extended, still torch
    assert built_encoder("old") == "torch"
