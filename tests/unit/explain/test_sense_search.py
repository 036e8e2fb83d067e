"""Search by a word's sense: occurrences from the keyword index, vectors, ranking, verdicts.

Plumbing on the tiny random model (a calibration fitted for it); the ranking itself on the
real model over a small labelled set (two senses each of "bank" and "model").
"""

from __future__ import annotations

import numpy as np
import pytest

from core.documents.readers import Document
from core.errors import InputError
from core.explain import sense_search
from core.explain.sense_search import FormMatcher, find_occurrences, search_sense
from core.explain.word_sense import WicPair, fit_calibration
from core.explain.word_vectors import cosine, span_layer_vectors
from core.ingest.pipeline import ingest_documents
from core.storage.collection import Collection

SENSES = {
    "bank-river": [
        "We had a picnic on the grassy bank of the river.",
        "The canoe drifted toward the muddy bank after the storm.",
        "Herons stood still on the far bank, watching the water.",
        "Floods washed away part of the river bank near the bridge.",
        "Both banks of the stream were lined with willows.",
    ],
    "bank-money": [
        "The bank raised its interest rates on savings accounts.",
        "She deposited her salary at the bank on Friday.",
        "The bank refused to approve the mortgage application.",
        "Central bank officials warned about inflation this year.",
        "Several banks lent money to the struggling company.",
    ],
    "model-fashion": [
        "The model walked down the runway in a silk gown.",
        "A famous fashion model posed for the magazine cover.",
        "Photographers crowded around the model backstage at the show.",
        "She worked as a catwalk model in Milan and Paris.",
        "The designer chose tall models to wear the new collection.",
    ],
    "model-ml": [
        "We trained the model on a million labelled images.",
        "The language model predicts the next word in a sentence.",
        "Overfitting happens when a model memorises its training data.",
        "The neural network model reached high accuracy on the test set.",
        "We fine-tuned two pretrained models with a smaller learning rate.",
    ],
}
QUERIES = [
    ("bank", "They fished from the bank of the lake.", "bank-river"),
    ("bank", "The bank charged a fee for the loan.", "bank-money"),
    ("model", "The fashion model walked the runway.", "model-fashion"),
    ("model", "The model was trained with gradient descent.", "model-ml"),
]


def build(embedder, name: str = "senses", extra: tuple[str, ...] = ()) -> Collection:
    collection = Collection(name, embedder.info, create=True)
    docs = [
        Document(f"{group}-{i}", text, "t", f"{group} {i}")
        for group, texts in SENSES.items()
        for i, text in enumerate(texts)
    ]
    docs += [Document(f"extra-{i}", t, "t", f"extra {i}") for i, t in enumerate(extra)]
    ingest_documents(collection, embedder, docs)
    return collection


@pytest.fixture
def tiny_calibration(tiny_embedder):
    rows = [
        ("bank", "We sat on the bank.", "The bank lent money.", False),
        ("bank", "A river bank floods.", "Trees grow on the bank.", True),
        ("run", "They run home.", "Engines run quietly.", False),
        ("run", "Run fast!", "You must run now.", True),
    ] * 3
    pairs = []
    for word, a, b, label in rows:
        span_a = (a.lower().index(word), a.lower().index(word) + len(word))
        span_b = (b.lower().index(word), b.lower().index(word) + len(word))
        pairs.append(WicPair(word, "N", a, b, span_a, span_b, label))
    return fit_calibration(tiny_embedder, pairs)[0]


def test_forms_follow_the_keyword_index_stemmer() -> None:
    is_form = FormMatcher("model")
    assert [is_form(w) for w in ("model", "Models", "modelling", "modeled")] == [True] * 4
    assert not any(is_form(w) for w in ("modest", "mode", "remodel", "bank"))


def test_occurrences_one_per_sentence_with_forms_and_a_stated_cap(tiny_embedder) -> None:
    collection = build(tiny_embedder, extra=("A bank. Another bank here. No word.",))
    found, capped = find_occurrences(collection.store, "bank")
    assert not capped and len(found) == 12  # 10 labelled sentences + 2 in the extra document
    assert all(o.form.lower() in ("bank", "banks") for o in found)
    assert sorted(o.form for o in found).count("banks") == 2
    extra = [o for o in found if o.doc_id == "extra-0"]
    assert [(o.sentence, o.start, o.end) for o in extra] == [
        ("A bank.", 2, 6),
        ("Another bank here.", 8, 12),
    ]
    first, capped = find_occurrences(collection.store, "bank", limit=3)
    assert capped and first == found[:3]
    with pytest.raises(InputError, match="one word"):
        find_occurrences(collection.store, "two words")


def test_long_sentences_are_cut_around_the_word(tiny_embedder) -> None:
    text = "word " * 200 + "the bank is here " + "word " * 200 + "."
    collection = build(tiny_embedder, "long", extra=(text,))
    (hit,) = [o for o in find_occurrences(collection.store, "bank")[0] if o.doc_id == "extra-0"]
    assert hit.form == "bank" and len(hit.sentence) <= 2 * sense_search.WINDOW + 4


def test_search_ranks_by_the_word_cosine_and_splits_by_verdict(
    tiny_embedder, tiny_calibration
) -> None:
    collection = build(tiny_embedder)
    steps: list[tuple[int, int]] = []
    sentence = "The bank charged a fee for the loan."
    result = search_sense(
        tiny_embedder,
        collection.store,
        "bank",
        sentence,
        k=100,
        progress=lambda done, total: steps.append((done, total)),
        calibration=tiny_calibration,
    )
    assert result.examined == 10 and not result.capped and steps[-1] == (10, 10)
    hits = result.same + result.other
    assert len(hits) == 10 and {h.occurrence.doc_id for h in hits} == {
        f"bank-{g}-{i}" for g in ("river", "money") for i in range(5)
    }
    assert all(h.same_sense for h in result.same) and not any(h.same_sense for h in result.other)
    for group in (result.same, result.other):
        assert [h.rank for h in group] == list(range(1, len(group) + 1))
        assert [h.cosine for h in group] == sorted((h.cosine for h in group), reverse=True)
    # brute force: each occurrence alone through the model, last layer, cosine with the example
    query, _ = span_layer_vectors(tiny_embedder, [sentence], [(4, 8)])
    for hit in hits:
        occ = hit.occurrence
        alone, _ = span_layer_vectors(tiny_embedder, [occ.sentence], [(occ.start, occ.end)])
        assert hit.cosine == pytest.approx(float(cosine(alone[0, -1], query[0, -1])), abs=1e-5)
    again = search_sense(
        tiny_embedder, collection.store, "bank", sentence, k=3, calibration=tiny_calibration
    )
    assert len(again.same) <= 3 and len(again.other) <= 3 and len(steps) == 1  # cached


def test_cache_follows_the_collection_generation(tiny_embedder, tiny_calibration) -> None:
    collection = build(tiny_embedder)
    args = (tiny_embedder, collection.store, "model", "A model walked.")
    assert search_sense(*args, calibration=tiny_calibration).examined == 10
    ingest_documents(collection, tiny_embedder, [Document("new", "One more model.", "t", "n")])
    assert search_sense(*args, calibration=tiny_calibration).examined == 11


def test_clear_messages_for_bad_input(tiny_embedder, tiny_calibration) -> None:
    collection = build(tiny_embedder)
    store = collection.store
    with pytest.raises(InputError, match="not in this collection"):
        search_sense(tiny_embedder, store, "zebra", "A zebra ran.", calibration=tiny_calibration)
    with pytest.raises(InputError, match="not a word of the sentence"):
        search_sense(tiny_embedder, store, "bank", "No such word.", calibration=tiny_calibration)
    with pytest.raises(InputError, match="between 1 and"):
        search_sense(tiny_embedder, store, "bank", "A bank.", k=0, calibration=tiny_calibration)


@pytest.mark.slow
@pytest.mark.parametrize(("word", "sentence", "sense"), QUERIES)
def test_same_sense_ranks_first_on_the_real_model(real_embedder, word, sentence, sense) -> None:
    collection = build(real_embedder, f"senses-{sense}")
    result = search_sense(real_embedder, collection.store, word, sentence, k=10)
    assert result.examined == 10
    expected = {f"{sense}-{i}" for i in range(5)}
    by_cosine = sorted(result.same + result.other, key=lambda h: -h.cosine)
    assert {h.occurrence.doc_id for h in by_cosine[:5]} == expected  # same sense first
    assert len(result.same) == 5 and {h.occurrence.doc_id for h in result.same} == expected
    assert np.all([h.probability < h_.probability for h in result.other for h_ in result.same])
