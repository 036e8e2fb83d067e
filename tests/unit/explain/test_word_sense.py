"""The same-sense verdict: WiC loading, fitting, and the committed calibration on the real model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import InputError
from core.explain import word_sense as wic
from core.explain.context import compare_word
from measure.evaluation import default_eval_dir

ROWS = [
    ("bank", "N", "4-1", "We sat on the bank .", "The bank lent money .", "F"),
    ("bank", "N", "2-4", "A river bank floods .", "Trees grow on the bank .", "T"),
    ("run", "V", "1-1", "They run home .", "Engines run quietly .", "F"),
    ("run", "V", "0-2", "Run fast !", "You must run now .", "T"),
]


def write_wic(folder: Path, split: str, rows=ROWS, gold: bool = True) -> Path:
    (folder / split).mkdir(parents=True, exist_ok=True)
    data = "\n".join("\t".join(r[:5]) for r in rows) + "\n"
    (folder / split / f"{split}.data.txt").write_text(data, encoding="utf-8")
    if gold:
        labels = "\n".join(r[5] for r in rows) + "\n"
        (folder / split / f"{split}.gold.txt").write_text(labels, encoding="utf-8")
    return folder


def test_loader_reads_spans_and_labels(tmp_path: Path) -> None:
    pairs = wic.load_wic("train", write_wic(tmp_path, "train"))
    assert len(pairs) == 4
    first = pairs[0]
    assert first.sentence_a[slice(*first.span_a)] == "bank"
    assert first.sentence_b[slice(*first.span_b)] == "bank"
    assert [p.label for p in pairs] == [False, True, False, True]
    assert pairs[3].sentence_a[slice(*pairs[3].span_a)] == "Run"


def test_loader_without_gold_and_bad_files(tmp_path: Path) -> None:
    pairs = wic.load_wic("test", write_wic(tmp_path, "test", gold=False))
    assert all(p.label is None for p in pairs)
    with pytest.raises(InputError, match="missing"):
        wic.load_wic("dev", tmp_path)
    bad = [("bank", "N", "9-0", "short .", "The bank .", "T")]
    with pytest.raises(InputError, match="out of range"):
        wic.load_wic("train", write_wic(tmp_path / "bad", "train", bad))


def test_best_threshold_maximises_accuracy() -> None:
    scores = np.array([0.1, 0.2, 0.6, 0.7, 0.4])
    labels = np.array([False, False, True, True, False])
    threshold, accuracy = wic.best_threshold(scores, labels)
    assert accuracy == 1.0 and 0.4 < threshold < 0.6


def test_fit_save_load_round_trip_on_the_tiny_model(tiny_embedder, tmp_path: Path) -> None:
    pairs = wic.load_wic("train", write_wic(tmp_path, "train", ROWS * 3))
    calibration, x, y = wic.fit_calibration(tiny_embedder, pairs)
    assert x.shape == (12, 4 * 3) and y.shape == (12,)
    out = tmp_path / "calibration.json"
    wic.save_calibration(calibration, tiny_embedder, {"note": 1}, out)
    loaded = wic.load_calibration(out)
    assert loaded.fingerprint == tiny_embedder.fingerprint and loaded.summary == {"note": 1}
    np.testing.assert_allclose(loaded.probability(x), calibration.probability(x), atol=1e-4)
    raw = json.loads(out.read_text())
    assert [f["name"] for f in raw["features"]] == wic.feature_names(3)


WIC_DEV = default_eval_dir() / "wic" / "dev" / "dev.data.txt"


@pytest.mark.slow
@pytest.mark.skipif(not WIC_DEV.exists(), reason=f"evaluation data not at {WIC_DEV}")
def test_committed_calibration_reproduces_its_dev_accuracy(real_embedder) -> None:
    raw = json.loads(wic.CALIBRATION_PATH.read_text(encoding="utf-8"))
    summary = raw["summary"]
    assert raw["model"]["fingerprint"] == real_embedder.fingerprint
    assert len(raw["features"]) == 28 and 0 < raw["threshold"] < 1
    assert summary["dev_accuracy"] >= 0.63
    assert summary["dev_accuracy"] > summary["baseline_last_layer_cosine"]["dev_accuracy"]
    calibration = wic.calibration_for(real_embedder)
    x, y = wic.dev_features(real_embedder, calibration, wic.load_wic("dev"))
    assert len(y) == summary["dev_pairs"]
    assert wic.accuracy(calibration, x, y) == pytest.approx(summary["dev_accuracy"], abs=0.002)


@pytest.mark.slow
def test_compare_word_on_the_real_model(real_embedder) -> None:
    river = "We had a picnic on the grassy bank of the river."
    money = "She went to the bank to deposit her salary."
    loan = "The bank approved our mortgage and the loan."
    different = compare_word("bank", river, money, real_embedder)
    same = compare_word("bank", money, loan, real_embedder)
    assert different["same_sense"] is False and same["same_sense"] is True
    assert len(different["by_layer"]) == 7
    assert same["score"] > different["score"]
