"""Words -> word pieces -> the model's own input vectors, beside whole-sentence embeddings.

The input token embedding matrix (about 30,000 word pieces x 384 for all-MiniLM-L6-v2) is the
table the model looks every piece up in before any attention layer runs: each piece has one
fixed vector whatever its context. A word the vocabulary lacks is split into pieces
(``embeddings`` -> ``em ##bed ##ding ##s``); its input vector here is the mean of its pieces'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InputError
from core.explain.projection import pca
from core.model.embedder import Embedder

MAX_WORDS = 100
MAX_WORD_CHARS = 40
DEFAULT_WORDS = "bound, jump, leap, hop, skip, river, money, king, queen, apple"


class WordsError(InputError):
    """Words that cannot be compared (none, too many, too long, nothing left after splitting)."""


def parse_words(text: str, limit: int = MAX_WORDS) -> list[str]:
    """Split ``text`` on commas, semicolons and white space; drop repeats (ignoring case).

    Raises:
        WordsError: for no words, more than ``limit`` words, or an over-long word.
    """
    first: dict[str, str] = {}
    for word in re.split(r"[\s,;]+", text or ""):
        if word:
            first.setdefault(word.lower(), word)
    words = list(first.values())
    if not words:
        raise WordsError(f"Type a few words separated by commas or spaces, e.g. {DEFAULT_WORDS}.")
    if len(words) > limit:
        raise WordsError(
            f"{len(words)} words at once is too many: the limit is {limit}, so the charts stay "
            f"readable and the page quick. Remove {len(words) - limit} of them."
        )
    longest = max(len(w) for w in words)
    if longest > MAX_WORD_CHARS:
        raise WordsError(
            f"One 'word' has {longest:,} characters: keep words under {MAX_WORD_CHARS} letters."
        )
    return words


def input_embeddings(embedder: Embedder) -> np.ndarray:
    """The model's input token embedding matrix (vocabulary, dimension), float32."""
    module = embedder.model[0]  # sentence-transformers' Transformer module
    network = getattr(module, "auto_model", None) or module.model
    weight = network.get_input_embeddings().weight  # (V, d) torch parameter
    return weight.detach().cpu().numpy().astype(np.float32, copy=True)


class Vocabulary:
    """Word pieces and their input vectors for one model."""

    def __init__(self, embedder: Embedder) -> None:
        """Read the tokenizer and the input embedding matrix of ``embedder``."""
        self.tokenizer = embedder.tokenizer
        self.matrix = input_embeddings(embedder)  # (V, d)
        norms = np.linalg.norm(self.matrix, axis=1, keepdims=True)
        self.unit = self.matrix / np.maximum(norms, 1e-12)  # (V, d), rows of length 1
        ids = self.tokenizer.get_vocab()
        self.tokens = np.empty(len(self.matrix), dtype=object)
        for token, index in ids.items():
            if index < len(self.tokens):
                self.tokens[index] = token
        special = set(self.tokenizer.all_special_ids)
        self.usable = np.array(
            [i not in special and not str(t).startswith("[") for i, t in enumerate(self.tokens)]
        )

    def __len__(self) -> int:
        return len(self.matrix)

    def pieces(self, word: str) -> list[str]:
        """How the tokenizer splits ``word`` (lower-cased by an uncased model)."""
        return list(self.tokenizer.tokenize(word))

    def vector(self, word: str) -> np.ndarray:
        """The input vector of ``word``: its piece's row, or the mean of its pieces' rows.

        Raises:
            WordsError: if the tokenizer keeps nothing of ``word``.
        """
        ids = self.tokenizer.convert_tokens_to_ids(self.pieces(word))
        if not ids:
            raise WordsError("A word has no pieces the model can read (only control characters?).")
        return self.matrix[ids].mean(axis=0)  # (d,)

    def nearest(
        self, vector: np.ndarray, k: int = 15, exclude: tuple[str, ...] = ()
    ) -> pd.DataFrame:
        """The ``k`` vocabulary pieces closest to ``vector`` by cosine: columns piece, cosine."""
        unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
        scores = np.where(self.usable, self.unit @ unit, -np.inf)  # (V,)
        skip = {t.lower() for t in exclude}
        order = [i for i in np.argsort(-scores)[: k + len(skip)] if self.tokens[i] not in skip]
        top = order[:k]
        return pd.DataFrame({"piece": self.tokens[top].astype(str), "cosine": scores[top].round(3)})


@dataclass(frozen=True)
class Neighbours:
    """Nearest vocabulary pieces of a word, and a note on how its vector was made."""

    word: str
    pieces: tuple[str, ...]
    table: pd.DataFrame
    note: str


def word_neighbours(vocab: Vocabulary, word: str, k: int = 15) -> Neighbours:
    """The pieces nearest to ``word``'s input vector (the word itself left out)."""
    words = parse_words(word, limit=1)
    pieces = tuple(vocab.pieces(words[0]))
    table = vocab.nearest(vocab.vector(words[0]), k, exclude=(words[0],))
    note = f"'{words[0]}' is one piece of the vocabulary ({len(vocab):,} pieces)."
    if vocab.tokenizer.unk_token in pieces:
        note = (
            f"The tokenizer cannot read '{words[0]}' (or part of it): it becomes "
            f"{vocab.tokenizer.unk_token}, one shared 'unknown' vector, so these neighbours "
            "say nothing about the word itself."
        )
    elif len(pieces) > 1:
        note = (
            f"'{words[0]}' is not in the vocabulary: it splits into {len(pieces)} pieces "
            f"({' '.join(pieces)}); its vector here is their mean, a crude stand-in that "
            "leans towards its pieces' meanings."
        )
    return Neighbours(words[0], pieces, table, note)


@dataclass(frozen=True)
class Analogy:
    """``a - b + c`` among the input vectors."""

    table: pd.DataFrame
    note: str


def analogy(vocab: Vocabulary, a: str, b: str, c: str, k: int = 10) -> Analogy:
    """Nearest pieces to vector(a) - vector(b) + vector(c), the three inputs left out."""
    words = [parse_words(w, limit=1)[0] for w in (a, b, c)]
    target = vocab.vector(words[0]) - vocab.vector(words[1]) + vocab.vector(words[2])
    table = vocab.nearest(target, k, exclude=tuple(words))
    first = vocab.nearest(target, 1).iloc[0]
    note = (
        "The three input words are left out of the answers, as is usual. "
        f"Kept in, the nearest piece is '{first.piece}' (cosine {first.cosine:.2f})"
    )
    if first.piece in {w.lower() for w in words}:
        note += ": the sum mostly stays where it started, and the famous answer shows only"
        note += " once the inputs are removed."
    else:
        note += "."
    note += " Input vectors were trained to feed attention layers, not to solve analogies."
    return Analogy(table, note)


@dataclass(frozen=True)
class WordMap:
    """A few words compared two ways: the model's input vectors and whole-sentence embeddings."""

    words: list[str]
    pieces: pd.DataFrame  # word, pieces, count, in vocabulary
    input_cosine: np.ndarray  # (n, n)
    sentence_cosine: np.ndarray  # (n, n)
    input_xy: pd.DataFrame  # word, pieces, x, y (PCA of these words only)
    sentence_xy: pd.DataFrame


def compare_words(vocab: Vocabulary, embedder: Embedder, words: list[str]) -> WordMap:
    """Word pieces, input vectors and full-model vectors of ``words``, with 2D PCA maps."""
    split = [vocab.pieces(w) for w in words]
    pieces = pd.DataFrame(
        {
            "word": words,
            "pieces": [" · ".join(p) or "(nothing)" for p in split],
            "count": [len(p) for p in split],
            "in vocabulary": [len(p) == 1 and p[0] != vocab.tokenizer.unk_token for p in split],
        }
    )
    inputs = np.stack([vocab.vector(w) for w in words])  # (n, d)
    inputs = inputs / np.maximum(np.linalg.norm(inputs, axis=1, keepdims=True), 1e-12)
    sentences = embedder.encode(words)  # (n, d), already unit length
    return WordMap(
        words,
        pieces,
        inputs @ inputs.T,
        sentences @ sentences.T,
        _xy(inputs, pieces),
        _xy(sentences, pieces),
    )


def _xy(vectors: np.ndarray, pieces: pd.DataFrame) -> pd.DataFrame:
    coords = pca(vectors)[0]
    coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))  # (n, 2)
    return pieces[["word", "pieces"]].assign(x=coords[:, 0], y=coords[:, 1])
