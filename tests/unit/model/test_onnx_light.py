"""The int8 encoder run from its cached export alone: tokenizer.json + ONNX Runtime, no torch.

Once an export exists and matches the model folder, an ``Embedder(encoder="onnx-int8")`` never
loads the SentenceTransformer: its vectors, token vectors and tokens must be the ones the
loaded path gives, a changed folder must send it back to the loaded path, and a whole
``python -m core`` ingest and search must finish without importing torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import config
from core.errors import ModelNotFoundError
from core.model import onnx_encoder
from core.model.embedder import Embedder
from core.model.text_tokenizer import TextTokenizer

TEXTS = [
    "A cat sleeps on the warm windowsill.",
    "tea",
    "Crème brûlée, jalapeño and Σίσυφος at 12:30 — naïve façade! 北京 🐧",
    "Penguins huddle together to survive the Antarctic winter, " * 40,  # past the window
    "  leading and trailing spaces\t",
]
HEAVY = ("torch", "transformers", "sentence_transformers")


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the bundled model's int8 export, made once by a loaded model."""
    folder = tmp_path_factory.mktemp("int8-light")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(folder))
        Embedder(encoder="torch").with_encoder("onnx-int8")
    return folder


@pytest.fixture(scope="module")
def light_pair(export_dir: Path) -> tuple[Embedder, Embedder]:
    """(loaded, light): the same export run behind a loaded model and from the cache alone."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(export_dir))
        loaded = Embedder(encoder="torch").with_encoder("onnx-int8")
        light = Embedder(encoder="onnx-int8")
    return loaded, light


def _rows(tokenizer, **kwargs) -> list[list]:
    """Each text's ids (or offsets, when asked for) as plain lists, whoever tokenized."""
    key = "offset_mapping" if kwargs.get("return_offsets_mapping") else "input_ids"
    rows = tokenizer(TEXTS, **kwargs)[key]
    return [[tuple(x) if isinstance(x, list | tuple) else int(x) for x in row] for row in rows]


@pytest.mark.parametrize("which", ["tiny", "real"])
def test_text_tokenizer_gives_the_fast_tokenizers_ids_and_offsets(
    which: str, request: pytest.FixtureRequest
) -> None:
    embedder = request.getfixturevalue(f"{which}_embedder")
    folder = Path(embedder.name)
    light = TextTokenizer(folder / "tokenizer.json")
    fast = embedder.tokenizer
    for kwargs in (
        {"truncation": True, "max_length": embedder.max_length},
        {"truncation": True, "max_length": 12},
        {"add_special_tokens": False, "return_offsets_mapping": True},
        {},
    ):
        assert _rows(light, **kwargs) == _rows(fast, **kwargs), kwargs
    ids = fast(TEXTS[2])["input_ids"]
    assert light(TEXTS[2])["input_ids"] == ids and len(ids) > 10
    assert light.convert_ids_to_tokens(ids) == fast.convert_ids_to_tokens(ids)


@pytest.mark.slow
def test_light_path_loads_no_model_and_gives_the_loaded_paths_vectors(
    light_pair: tuple[Embedder, Embedder],
) -> None:
    loaded, light = light_pair
    assert loaded._model is not None and light._model is None
    assert light.info == loaded.info and light.max_tokens == loaded.max_tokens
    expected = loaded.encode(TEXTS)
    np.testing.assert_allclose(light.encode(TEXTS), expected, atol=1e-6)
    np.testing.assert_allclose(light.encode_query(TEXTS[0]), expected[0], atol=1e-6)
    for mine, theirs in zip(light.token_vectors(TEXTS), loaded.token_vectors(TEXTS), strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    assert light._model is None  # encoding never loaded it
    assert light.model is not None and light.dimension == light.model.get_embedding_dimension()


@pytest.mark.slow
def test_a_changed_model_folder_is_loaded_not_run_from_the_cache(
    export_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the cache is keyed by the weights; a copy with the same weights and other settings
    # must not borrow facts recorded for the original folder
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(export_dir))
    copy = Path(shutil.copytree(config.default_model_path(), tmp_path / "model"))
    assert Embedder(str(copy), encoder="onnx-int8")._model is None  # same files: light
    bert = copy / "sentence_bert_config.json"
    bert.write_text(json.dumps({**json.loads(bert.read_text()), "max_seq_length": 128}))
    shorter = Embedder(str(copy), encoder="onnx-int8")
    assert shorter._model is not None and shorter.max_length == 128
    pooling = copy / "1_Pooling" / "config.json"
    stated = json.loads(pooling.read_text())
    stated.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(stated))
    with pytest.raises(ModelNotFoundError, match="mean pooling"):
        Embedder(str(copy), encoder="onnx-int8")


def test_light_manifest_refuses_what_it_cannot_vouch_for(
    tiny_model_dir: Path, tiny_embedder: Embedder
) -> None:
    int8 = tiny_embedder.with_encoder("onnx-int8")
    dimension = onnx_encoder.folder_dimension(tiny_model_dir)
    assert dimension == tiny_embedder.dimension
    fingerprint = int8.fingerprint
    assert onnx_encoder.light_manifest(tiny_model_dir, fingerprint, dimension) is not None
    assert onnx_encoder.light_manifest(tiny_model_dir, fingerprint, dimension + 1) is None
    manifest_file = onnx_encoder.cache_folder(fingerprint) / onnx_encoder.MANIFEST_FILE
    manifest = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**manifest, "tokenizer_json": False}))
    assert onnx_encoder.light_manifest(tiny_model_dir, fingerprint, dimension) is None
    assert Embedder(str(tiny_model_dir), encoder="onnx-int8")._model is not None


@pytest.mark.slow
def test_command_line_ingest_and_search_import_no_torch(export_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "notes.jsonl"
    lines = [
        {"id": "p", "text": "Penguins huddle in the Antarctic winter."},
        {"id": "r", "text": "Interest rates rose again this quarter."},
    ]
    corpus.write_text("".join(json.dumps(line) + "\n" for line in lines))
    script = (
        "import json, sys\n"
        "from core.cli import main\n"
        f"assert main(['ingest', {str(corpus)!r}, '--collection', 'notes']) == 0\n"
        "assert main(['search', 'penguins in winter', '--collection', 'notes', '--json']) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in %r)\n"
        "print(json.dumps(heavy))\n" % (HEAVY,)
    )
    env = {**os.environ, "EMBEDLAB_DATA_DIR": str(export_dir), "EMBEDLAB_ENCODER": "onnx-int8"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        cwd=config.PROJECT_ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    search_line, heavy_line = done.stdout.strip().splitlines()[-2:]
    assert [hit["doc_id"] for hit in json.loads(search_line)["hits"]] == ["p", "r"]
    assert json.loads(heavy_line) == []


@pytest.mark.slow
def test_search_page_searches_and_explains_without_torch(export_dir: Path) -> None:
    script = (
        "import json, sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(config.PROJECT_ROOT / 'app.py')!r}, default_timeout=600)\n"
        "at.switch_page('pages/1_Search.py')\n"
        "at.run()\n"
        "before = len(at.html)\n"
        "at.text_input(key='search_query').set_value('penguins in the cold').run()\n"
        "assert not at.exception and not at.error, (at.exception, at.error)\n"
        "print(len(at.html) - before)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in %r)))\n" % (HEAVY,)
    )
    env = {**os.environ, "EMBEDLAB_DATA_DIR": str(export_dir), "EMBEDLAB_ENCODER": "onnx-int8"}
    env["PYTHONPATH"] = str(config.PROJECT_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        cwd=config.PROJECT_ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shown, heavy = done.stdout.strip().splitlines()[-2:]
    assert int(shown) > 0  # the hits (and their explanations) were drawn
    assert json.loads(heavy) == []
