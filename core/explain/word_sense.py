"""Same sense or not: a verdict on a word in two sentences, calibrated on WiC.

Word-in-Context (Pilehvar & Camacho-Collados, 2019) pairs two sentences that use one word and
says whether the senses are the same. The verdict reads four similarities at each of the
model's 7 layers (the embedding layer and 6 transformer layers):

- the cosine of the word's two vectors;
- the same after subtracting the average word vector of that layer (every vector of a layer
  shares a common direction that makes any two of them look alike; removing it helps);
- the cosine of the two whole sentences (mean of their token vectors at that layer), raw and
  centred the same way: sentences about the same thing tend to use a word in the same sense.

A logistic regression over these 28 numbers, fitted on WiC train only (dev is only reported),
gives the probability that the senses are the same; the verdict compares it with a threshold
chosen on train. :func:`fit_wic` writes everything to ``core/explain/wic_calibration.json``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core import config
from core.errors import InputError, LabError
from core.explain.word_vectors import cosine, span_layer_vectors
from core.model.embedder import Embedder

log = logging.getLogger(__name__)

CALIBRATION_PATH = Path(__file__).with_name("wic_calibration.json")
FORMAT_VERSION = 1
FEATURE_KINDS = ("word", "word centred", "sentence", "sentence centred")
METHOD = (
    "Logistic regression over 28 similarities: at each of the 7 layers, the cosine of the "
    "word's two vectors, the same after subtracting the layer's average word vector, and the "
    "cosine of the two sentences' mean token vectors, raw and centred. Fitted on WiC train "
    "only; threshold on P(same sense) chosen on train; dev only reported."
)


@dataclass(frozen=True)
class WicPair:
    """One WiC example; ``span_a``/``span_b`` are the target word's characters."""

    word: str
    pos: str
    sentence_a: str
    sentence_b: str
    span_a: tuple[int, int]
    span_b: tuple[int, int]
    label: bool | None = None


def whitespace_span(sentence: str, index: int) -> tuple[int, int]:
    """Characters of the ``index``-th whitespace-separated token of ``sentence``.

    Raises:
        InputError: when the sentence has fewer tokens.
    """
    tokens = list(re.finditer(r"\S+", sentence))
    if not 0 <= index < len(tokens):
        raise InputError(f"Token {index} is out of range in \u201c{sentence[:60]}\u201d.")
    return tokens[index].span()


def load_wic(split: str, folder: Path | None = None) -> list[WicPair]:
    """Read ``<folder>/<split>/<split>.data.txt`` (and ``.gold.txt`` when present).

    Args:
        split: "train" or "dev" (the test split is held back).
        folder: the WiC folder; default ``config.eval_dir() / "wic"``.

    Raises:
        InputError: when the files are missing or malformed.
    """
    base = Path(folder) if folder is not None else config.eval_dir() / "wic"
    data, gold = base / split / f"{split}.data.txt", base / split / f"{split}.gold.txt"
    if not data.is_file():
        raise InputError(f"WiC file {data} is missing. Put the WiC data set in {base}.")
    labels = gold.read_text(encoding="utf-8").split() if gold.is_file() else None
    pairs = []
    for number, line in enumerate(data.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 5:
            raise InputError(f"{data}:{number}: expected 5 tab-separated fields.")
        word, pos, where, s1, s2 = parts
        i1, i2 = (int(i) for i in where.split("-"))
        label = None if labels is None else labels[number - 1] == "T"
        pairs.append(
            WicPair(word, pos, s1, s2, whitespace_span(s1, i1), whitespace_span(s2, i2), label)
        )
    return pairs


def feature_names(layers: int) -> list[str]:
    """Names of the features, e.g. "word L3" or "sentence centred L6"."""
    return [f"{kind} L{layer}" for kind in FEATURE_KINDS for layer in range(layers)]


def features(
    words: tuple[np.ndarray, np.ndarray],
    sentences: tuple[np.ndarray, np.ndarray],
    centres: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """(N, 4 * layers) similarities from word and sentence vectors, each (N, layers, D)."""
    (wa, wb), (sa, sb), (wc, sc) = words, sentences, centres
    return np.hstack(
        [cosine(wa, wb), cosine(wa - wc, wb - wc), cosine(sa, sb), cosine(sa - sc, sb - sc)]
    ).astype(np.float64)


def pair_vectors(embedder: Embedder, pairs: list[WicPair]) -> tuple[tuple, tuple]:
    """Word and sentence vectors at every layer for both sides of each pair, in one run."""
    texts = [p.sentence_a for p in pairs] + [p.sentence_b for p in pairs]
    spans = [p.span_a for p in pairs] + [p.span_b for p in pairs]
    words, sentences = span_layer_vectors(embedder, texts, spans)  # (2N, L+1, D) each
    n = len(pairs)
    return (words[:n], words[n:]), (sentences[:n], sentences[n:])


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Threshold maximising accuracy of ``scores >= t`` -> (threshold, accuracy)."""
    order = np.argsort(scores, kind="stable")
    s, y = scores[order], labels[order].astype(int)
    below_true = np.concatenate([[0], np.cumsum(y)])  # true labels under each cut
    below = np.arange(len(s) + 1)
    correct = (below - below_true) + (y.sum() - below_true)
    cut = int(np.argmax(correct))
    if cut == 0:
        return float(s[0]) - 1e-6, correct[cut] / len(s)
    if cut == len(s):
        return float(s[-1]) + 1e-6, correct[cut] / len(s)
    return float((s[cut - 1] + s[cut]) / 2), correct[cut] / len(s)


@dataclass(frozen=True)
class Calibration:
    """The fitted verdict: centres, feature scaling, weights and threshold."""

    fingerprint: str
    layers: int
    word_centre: np.ndarray  # (layers, D)
    sentence_centre: np.ndarray  # (layers, D)
    mean: np.ndarray  # (features,)
    scale: np.ndarray  # (features,)
    weights: np.ndarray  # (features,)
    intercept: float
    threshold: float
    summary: dict

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(same sense) for feature rows ``x`` (N, features)."""
        z = (x - self.mean) / self.scale @ self.weights + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each feature's share of the log-odds for one row ``x`` (features,)."""
        return (x - self.mean) / self.scale * self.weights


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=5000).fit((x - mean) / scale, y)
    return mean, scale, model


def _cross_validated(x: np.ndarray, y: np.ndarray, folds: int = 5) -> float:
    from sklearn.model_selection import StratifiedKFold

    correct = 0
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        mean, scale, model = _fit_logistic(x[train], y[train])
        correct += int((model.predict((x[test] - mean) / scale) == y[test]).sum())
    return correct / len(y)


def fit_wic(
    embedder: Embedder | None = None, folder: Path | None = None, out: Path = CALIBRATION_PATH
) -> dict:
    """Fit the verdict on WiC train, report train, cross-validated train and dev accuracy.

    This is ``python -m measure wic-fit``; dev is never used to choose anything.
    Args:
        embedder: the model (default: the configured one).
        folder: the WiC folder (default: ``config.eval_dir() / "wic"``).
        out: where to write the calibration JSON.

    Returns:
        The summary stored in the file (accuracies, counts, the last-layer baseline).
    """
    embedder = embedder or Embedder()
    train, dev = load_wic("train", folder), load_wic("dev", folder)
    calibration, x, y = fit_calibration(embedder, train)
    layers = calibration.layers
    base_t, base_train = best_threshold(x[:, layers - 1], y)
    summary = {
        "train_accuracy": round(accuracy(calibration, x, y), 4),
        "train_cv_accuracy": round(_cross_validated(x, y), 4),
        "dev_accuracy": None,
        "baseline_last_layer_cosine": {
            "threshold": round(base_t, 4),
            "train_accuracy": round(float(base_train), 4),
            "dev_accuracy": None,
        },
        "train_pairs": len(train),
        "dev_pairs": len(dev),
    }
    save_calibration(calibration, embedder, summary, out)
    saved = load_calibration(out)  # dev is scored with exactly what the file holds
    dev_x, dev_y = dev_features(embedder, saved, dev)
    summary["dev_accuracy"] = round(accuracy(saved, dev_x, dev_y), 4)
    base_dev = float(((dev_x[:, layers - 1] >= base_t) == dev_y).mean())
    summary["baseline_last_layer_cosine"]["dev_accuracy"] = round(base_dev, 4)
    save_calibration(saved, embedder, summary, out)
    log.info("WiC calibration written to %s: %s", out, summary)
    return summary


def fit_calibration(
    embedder: Embedder, pairs: list[WicPair]
) -> tuple[Calibration, np.ndarray, np.ndarray]:
    """Fit centres, scaling, weights and threshold on labelled ``pairs``.

    Returns:
        (calibration, features (N, 4 * layers), labels (N,)).
    """
    words, sentences = pair_vectors(embedder, pairs)
    y = np.array([p.label for p in pairs])
    centres = (_centre(words), _centre(sentences))
    x = features(words, sentences, centres)
    mean, scale, model = _fit_logistic(x, y)
    threshold, _ = best_threshold(model.predict_proba((x - mean) / scale)[:, 1], y)
    calibration = Calibration(
        fingerprint=embedder.fingerprint,
        layers=words[0].shape[1],
        word_centre=centres[0],
        sentence_centre=centres[1],
        mean=mean,
        scale=scale,
        weights=model.coef_[0],
        intercept=float(model.intercept_[0]),
        threshold=threshold,
        summary={},
    )
    return calibration, x, y


def _centre(pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return np.concatenate(pair).mean(axis=0)  # (L+1, D)


def dev_features(
    embedder: Embedder, calibration: Calibration, pairs: list[WicPair]
) -> tuple[np.ndarray, np.ndarray]:
    """Features and gold labels of ``pairs`` under ``calibration``'s centres."""
    words, sentences = pair_vectors(embedder, pairs)
    centres = (calibration.word_centre, calibration.sentence_centre)
    return features(words, sentences, centres), np.array([p.label for p in pairs])


def accuracy(calibration: Calibration, x: np.ndarray, y: np.ndarray) -> float:
    """Share of verdicts that agree with the gold labels."""
    return float(((calibration.probability(x) >= calibration.threshold) == y).mean())


def save_calibration(
    calibration: Calibration, embedder: Embedder, summary: dict, out: Path
) -> None:
    """Write the calibration as JSON (atomically); numbers rounded to keep it small."""
    from core.atomic import write_bytes

    names = feature_names(calibration.layers)
    head = {
        "format_version": FORMAT_VERSION,
        "model": {"label": embedder.label, "fingerprint": calibration.fingerprint},
        "method": METHOD,
        "layers": calibration.layers,
        "threshold": round(calibration.threshold, 6),
        "intercept": round(calibration.intercept, 6),
        "summary": summary,
        "features": [
            {
                "name": n,
                "weight": round(float(w), 6),
                "mean": round(float(m), 6),
                "scale": round(float(s), 6),
            }
            for n, w, m, s in zip(
                names, calibration.weights, calibration.mean, calibration.scale, strict=True
            )
        ],
    }
    text = json.dumps(head, indent=2)[:-2]
    for key in ("word_centre", "sentence_centre"):
        rows = np.round(np.asarray(getattr(calibration, key), np.float64), 4).tolist()
        text += f',\n  "{key}": [\n' + ",\n".join(f"    {json.dumps(r)}" for r in rows) + "\n  ]"
    write_bytes(out, (text + "\n}\n").encode("utf-8"))
    os.chmod(out, 0o644)  # a file to commit, readable by all


def load_calibration(path: Path = CALIBRATION_PATH) -> Calibration:
    """Read a calibration written by :func:`fit_wic`.

    Raises:
        LabError: when the file is missing or unreadable.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        feats = raw["features"]
        return Calibration(
            fingerprint=raw["model"]["fingerprint"],
            layers=int(raw["layers"]),
            word_centre=np.asarray(raw["word_centre"], np.float32),
            sentence_centre=np.asarray(raw["sentence_centre"], np.float32),
            mean=np.array([f["mean"] for f in feats]),
            scale=np.array([f["scale"] for f in feats]),
            weights=np.array([f["weight"] for f in feats]),
            intercept=float(raw["intercept"]),
            threshold=float(raw["threshold"]),
            summary=raw.get("summary", {}),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LabError(
            f"The same-sense calibration {path} cannot be read ({exc}). Rebuild it with "
            "python -m measure wic-fit."
        ) from None


@lru_cache(maxsize=4)
def _cached_calibration(path: str, modified: float) -> Calibration:
    del modified  # part of the cache key: a rewritten file is read again
    return load_calibration(Path(path))


def calibration_for(embedder: Embedder, path: Path = CALIBRATION_PATH) -> Calibration:
    """The committed calibration, if it was fitted for ``embedder``'s weights.

    Raises:
        LabError: when it was fitted for another model (or cannot be read).
    """
    try:
        modified = Path(path).stat().st_mtime
    except OSError:
        modified = 0.0
    calibration = _cached_calibration(str(path), modified)
    if calibration.fingerprint != embedder.fingerprint:
        raise LabError(
            f"The same-sense verdict was calibrated for another model (fingerprint "
            f"{calibration.fingerprint}), not {embedder.label}. Fit it for this model with "
            "python -m measure wic-fit."
        )
    return calibration


@dataclass(frozen=True)
class Verdict:
    """Same sense or not, with the evidence.

    Attributes:
        same_sense: the verdict.
        score: P(same sense) from the calibrated model.
        threshold: the score at or above which the verdict is "same".
        by_layer: cosine of the two word vectors at each layer, the embedding layer first.
        evidence: (feature, value, contribution to the log-odds), largest effect first.
    """

    same_sense: bool
    score: float
    threshold: float
    by_layer: tuple[float, ...]
    evidence: tuple[tuple[str, float, float], ...]


def verdicts(
    calibration: Calibration,
    words: tuple[np.ndarray, np.ndarray],
    sentences: tuple[np.ndarray, np.ndarray],
) -> list[Verdict]:
    """Verdicts for N pairs from their word and sentence vectors, each (N, layers, D)."""
    x = features(words, sentences, (calibration.word_centre, calibration.sentence_centre))
    probs = calibration.probability(x)
    names = feature_names(calibration.layers)
    out = []
    for row, prob in zip(x, probs, strict=True):
        parts = calibration.contributions(row)
        top = np.argsort(-np.abs(parts))[:6]
        out.append(
            Verdict(
                same_sense=bool(prob >= calibration.threshold),
                score=float(prob),
                threshold=calibration.threshold,
                by_layer=tuple(float(v) for v in row[: calibration.layers]),
                evidence=tuple((names[i], float(row[i]), float(parts[i])) for i in top),
            )
        )
    return out
