"""Search by a word's sense: the passages of a collection that use a word as a given sentence does.

word + example sentence -> candidate chunks from the keyword index (FTS5 with the Porter
stemmer, so "model" also finds "models" and "modelling") -> one occurrence per sentence that
holds a form of the word (at most :data:`MAX_OCCURRENCES`, stated in the result) -> the word's
contextual vectors at every layer (computed in batches with a progress callback, cached per
collection generation) -> ranked by the cosine of the word's last-layer vector with the
example's -> the WiC-calibrated same-sense verdict on each -> same-sense hits first, the other
senses listed apart.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.explain.context import find_word
from core.explain.word_sense import Calibration, calibration_for, verdicts
from core.explain.word_vectors import cosine, span_layer_vectors
from core.model.embedder import Embedder
from core.search.highlight import sentence_spans
from core.storage.backend import ChunkStore

log = logging.getLogger(__name__)

MAX_OCCURRENCES = 5_000  # occurrences read and run through the model per search, at most
BATCH = 64  # occurrences per model run (one progress step)
WINDOW = 300  # characters kept either side of the word in a long sentence
KEEP_CACHED = 3  # words' vectors kept in memory (about 75 MB each at the limit)
WORD_RE = re.compile(r"[^\W_]+")  # the keyword index's tokens (unicode61: "_" splits words)
Progress = Callable[[int, int], None]
_CACHE: OrderedDict[tuple, OccurrenceVectors] = OrderedDict()
_CACHE_LOCK = threading.Lock()  # sessions of one server share the cache


@dataclass(frozen=True)
class Occurrence:
    """One use of the word: the sentence around it and where the word sits in it."""

    chunk_id: int
    doc_id: str
    title: str
    sentence: str
    start: int
    end: int

    @property
    def form(self) -> str:
        """The word as written here (it may be another form of the searched word)."""
        return self.sentence[self.start : self.end]


@dataclass(frozen=True)
class OccurrenceVectors:
    """Every occurrence found and its contextual vectors (both (n, layers + 1, D))."""

    occurrences: tuple[Occurrence, ...]
    words: np.ndarray
    sentences: np.ndarray
    capped: bool  # True: more occurrences exist than the limit; the first ones were kept


@dataclass(frozen=True)
class SenseHit:
    """An occurrence ranked against the example: its cosine and the same-sense verdict."""

    rank: int
    occurrence: Occurrence
    cosine: float  # of the two words' last-layer vectors
    same_sense: bool
    probability: float  # P(same sense), calibrated on WiC


@dataclass(frozen=True)
class SenseSearch:
    """The result: same-sense hits best first, and the other senses apart."""

    word: str
    sentence: str
    span: tuple[int, int]  # the example word's characters in ``sentence``
    same: tuple[SenseHit, ...]
    other: tuple[SenseHit, ...]
    examined: int  # occurrences compared
    capped: bool
    limit: int
    threshold: float

    @property
    def note(self) -> str:
        """How many occurrences were compared, and the cap when it was reached."""
        text = f"Compared {self.examined:,} occurrences of '{self.word}' and its forms"
        if self.capped:
            return f"{text}: the first {self.limit:,} found (the limit); more exist."
        return f"{text}: every one in the collection."


def check_word(word: str) -> str:
    """The word, stripped.

    Raises:
        InputError: unless it is one word of letters or digits.
    """
    word = (word or "").strip()
    if not WORD_RE.fullmatch(word) or len(word) > 60:
        raise InputError("Type one word to search by its sense (letters or digits, e.g. bank).")
    return word


class FormMatcher:
    """Tells whether a token is a form of ``word`` exactly as the keyword index does (FTS5's
    Porter stemmer in an in-memory table holding the word)."""

    def __init__(self, word: str) -> None:
        self.db = sqlite3.connect(":memory:")
        tokenizer = "porter unicode61 remove_diacritics 2"  # as the store's chunks_fts
        self.db.execute(f"CREATE VIRTUAL TABLE w USING fts5(form, tokenize='{tokenizer}')")
        self.db.execute("INSERT INTO w(form) VALUES (?)", (word,))
        self.known: dict[str, bool] = {}

    def __call__(self, token: str) -> bool:
        """True when ``token`` has the word's stem."""
        key = token.casefold()
        if key not in self.known:
            found = self.db.execute("SELECT 1 FROM w WHERE w MATCH ?", (f'"{key}"',)).fetchone()
            self.known[key] = found is not None
        return self.known[key]


def _window(sentence: str, start: int, end: int) -> tuple[str, int, int]:
    """A long sentence cut to :data:`WINDOW` characters either side of the word."""
    if len(sentence) <= 2 * WINDOW:
        return sentence, start, end
    left = max(0, start - WINDOW)
    return sentence[left : end + WINDOW], start - left, end - left


def find_occurrences(
    store: ChunkStore, word: str, limit: int = MAX_OCCURRENCES
) -> tuple[list[Occurrence], bool]:
    """The first occurrence of ``word`` (any form) in each sentence of the chunks holding it.

    Chunks come from the keyword index in id order. Returns (occurrences, capped).
    """
    word = check_word(word)
    is_form = FormMatcher(word)
    found: list[Occurrence] = []
    seen: set[tuple[str, int]] = set()  # (document, character): overlapping chunks repeat text
    for chunk_id, text, offset, doc_id, title in _candidates(store, word):
        for start, end in sentence_spans(text):
            match = next((m for m in WORD_RE.finditer(text, start, end) if is_form(m[0])), None)
            if match is None or (doc_id, offset + match.start()) in seen:
                continue
            seen.add((doc_id, offset + match.start()))
            if len(found) == limit:
                return found, True
            sentence, a, b = _window(text[start:end], match.start() - start, match.end() - start)
            found.append(Occurrence(chunk_id, doc_id, title or doc_id, sentence, a, b))
    return found, False


def _candidates(store: ChunkStore, word: str) -> Iterator[tuple[int, str, int, str, str]]:
    yield from store.word_chunks(word)


def occurrence_vectors(
    embedder: Embedder,
    store: ChunkStore,
    word: str,
    limit: int = MAX_OCCURRENCES,
    progress: Progress | None = None,
) -> OccurrenceVectors:
    """The occurrences of ``word`` and their vectors, from the cache while the collection's
    generation is unchanged (the last :data:`KEEP_CACHED` words)."""
    word = check_word(word)
    key = (str(store.path), store.generation, embedder.fingerprint, word.casefold(), limit)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    found, capped = find_occurrences(store, word, limit)
    if not found:
        raise InputError(f"'{word}' is not in this collection (no form of it either).")
    parts = []
    for start in range(0, len(found), BATCH):
        batch = found[start : start + BATCH]
        texts, spans = [o.sentence for o in batch], [(o.start, o.end) for o in batch]
        parts.append(span_layer_vectors(embedder, texts, spans))
        if progress is not None:
            progress(start + len(batch), len(found))
    words = np.concatenate([w for w, _ in parts])  # (n, L+1, D)
    sentences = np.concatenate([s for _, s in parts])
    result = OccurrenceVectors(tuple(found), words, sentences, capped)
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > KEEP_CACHED:
            _CACHE.popitem(last=False)
    return result


def search_sense(
    embedder: Embedder,
    store: ChunkStore,
    word: str,
    sentence: str,
    k: int = 10,
    progress: Progress | None = None,
    calibration: Calibration | None = None,
    limit: int = MAX_OCCURRENCES,
) -> SenseSearch:
    """Passages using ``word`` as ``sentence`` does, best first, and the other senses apart.

    Args:
        embedder: the model (its contextual vectors and its same-sense calibration).
        store: the collection's store (its keyword index finds the candidates).
        word: the word (its forms are found too).
        sentence: an example sentence using the word in the wanted sense.
        k: the most hits in each list.
        progress: called with (occurrences done, total) while vectors are computed.
        calibration: the same-sense verdict (default: the committed one for ``embedder``).
        limit: the most occurrences compared (the first found).

    Raises:
        InputError: for a bad word, a sentence without it, or a word not in the collection.
        LabError: when no same-sense calibration fits the model.
    """
    if not 1 <= k <= 1000:
        raise InputError("Ask for between 1 and 1,000 hits.")
    calibration = calibration or calibration_for(embedder)
    _, start, end = find_word(sentence, check_word(word))
    query_word, query_sentence = span_layer_vectors(embedder, [sentence], [(start, end)])
    found = occurrence_vectors(embedder, store, word, limit, progress)
    n = len(found.occurrences)
    scores = cosine(found.words[:, -1], query_word[:, -1])  # (n,)
    pairs = (np.repeat(query_word, n, axis=0), found.words)
    judged = verdicts(calibration, pairs, (np.repeat(query_sentence, n, axis=0), found.sentences))
    order = np.argsort(-scores, kind="stable")  # ties: the order found
    same = [i for i in order if judged[i].same_sense][:k]
    other = [i for i in order if not judged[i].same_sense][:k]

    def hits(rows: list[int]) -> tuple[SenseHit, ...]:
        return tuple(
            SenseHit(r + 1, found.occurrences[i], float(scores[i]), *_verdict(judged[i]))
            for r, i in enumerate(rows)
        )

    return SenseSearch(
        word.strip(),
        sentence,
        (start, end),
        hits(same),
        hits(other),
        n,
        found.capped,
        limit,
        calibration.threshold,
    )


def as_dict(result: SenseSearch) -> dict:
    """The result as plain JSON-ready data (numbers rounded to 6 places)."""

    def hit(h: SenseHit) -> dict:
        o = h.occurrence
        return {
            "rank": h.rank,
            "doc_id": o.doc_id,
            "title": o.title,
            "chunk_id": o.chunk_id,
            "sentence": o.sentence,
            "start": o.start,
            "end": o.end,
            "form": o.form,
            "cosine": round(h.cosine, 6),
            "probability": round(h.probability, 6),
            "same_sense": h.same_sense,
        }

    return {
        "word": result.word,
        "sentence": result.sentence,
        "examined": result.examined,
        "capped": result.capped,
        "limit": result.limit,
        "threshold": round(result.threshold, 6),
        "same": [hit(h) for h in result.same],
        "other": [hit(h) for h in result.other],
    }


def _verdict(verdict) -> tuple[bool, float]:
    return verdict.same_sense, verdict.score
