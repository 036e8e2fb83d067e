"""Why did this match: per-token contributions add up to the search score."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.explain.contributions import (
    PairMatrix,
    hit_contributions,
    merge_pieces,
    pair_matrix,
    pair_shares,
    split_score,
    token_contributions,
)

QUERY = "a large snake that squeezes its prey"
DOCS = [
    "A python is a constrictor rather than a venomous snake.",
    "Python dominates data analysis thanks to libraries such as NumPy and pandas.",
    "Bees pollinate flowers in spring. " * 60,  # past the 256-token window: truncated
]


def test_split_score_is_exact_on_random_vectors() -> None:
    rng = np.random.default_rng(0)
    query, doc = rng.normal(size=(5, 8)), rng.normal(size=(9, 8))
    q_parts, d_parts, score = split_score(query, doc)
    q, d = query.mean(0), doc.mean(0)
    cosine = q @ d / (np.linalg.norm(q) * np.linalg.norm(d))
    assert q_parts.sum() == pytest.approx(cosine, abs=1e-12)
    assert d_parts.sum() == pytest.approx(cosine, abs=1e-12)
    assert score == pytest.approx(cosine, abs=1e-12)


@pytest.mark.slow
def test_contributions_add_up_to_the_real_score(real_embedder) -> None:
    vectors = real_embedder.encode([QUERY, *DOCS])
    for text, vector in zip(DOCS, vectors[1:], strict=True):
        q_tokens, q_parts, d_tokens, d_parts, score = token_contributions(
            real_embedder, QUERY, text
        )
        expected = float(vectors[0] @ vector)
        assert score == pytest.approx(expected, abs=1e-4)
        assert float(d_parts.sum()) == pytest.approx(expected, abs=1e-4)
        assert float(q_parts.sum()) == pytest.approx(expected, abs=1e-4)
        assert d_tokens[0] == "[CLS]" and d_tokens[-1] == "[SEP]"
        assert q_tokens[0] == "[CLS]" and len(q_parts) == len(q_tokens)
        assert len(d_tokens) <= real_embedder.model.max_seq_length
    assert len(token_contributions(real_embedder, QUERY, DOCS[2])[2]) == 256


@pytest.mark.slow
def test_snake_words_carry_the_snake_match(real_embedder) -> None:
    found = hit_contributions(real_embedder, QUERY, DOCS[:1])[0]
    parts = dict(zip(found.doc_tokens, found.doc_contribs, strict=True))
    assert parts["snake"] > parts["rather"]
    with pytest.raises(InputError):
        hit_contributions(real_embedder, "  ", DOCS)


@pytest.fixture(scope="module")
def both_encoders(real_embedder, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The real model with each encoder; the int8 one shares the torch one's loaded model, the
    light one runs the same export from its cache alone (no SentenceTransformer, no torch)."""
    from core.model.embedder import Embedder

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path_factory.mktemp("int8-export")))
        int8 = real_embedder.with_encoder("onnx-int8")
        light = Embedder(encoder="onnx-int8")
    assert light._model is None
    return {"torch": real_embedder, "onnx-int8": int8, "onnx-int8-light": light}


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["torch", "onnx-int8", "onnx-int8-light"])
def test_split_adds_up_to_the_score_a_search_shows(both_encoders: dict, encoder: str) -> None:
    """Ingest with one encoder, search, explain: the token parts sum to the hit's score and
    the highlighted sentence's score is that encoder's cosine, whichever encoder it is."""
    from core.documents.readers import from_text
    from core.ingest.pipeline import ingest_documents
    from core.search.highlight import explain
    from core.search.query import search
    from core.storage.collection import Collection, built_encoder

    embedder = both_encoders[encoder]
    texts = [*DOCS, "Cobras raise their hoods. Mice hide from them at night."]
    collection = Collection(f"why-{encoder}", embedder.info, create=True)
    ingest_documents(collection, embedder, [from_text(t, f"doc{i}") for i, t in enumerate(texts)])
    assert built_encoder(collection.name) == embedder.encoder == encoder.removesuffix("-light")
    result = search(collection, embedder, QUERY, k=len(texts), mode="dense")
    assert len(result.hits) == len(texts)
    reasons = explain(embedder, QUERY, result.vector, [hit.text for hit in result.hits])
    for hit, reason in zip(result.hits, reasons, strict=True):
        found = hit_contributions(embedder, QUERY, [hit.text])[0]
        assert found.score == pytest.approx(hit.score, abs=1e-4)
        assert float(found.doc_contribs.sum()) == pytest.approx(hit.score, abs=1e-4)
        assert float(found.query_contribs.sum()) == pytest.approx(hit.score, abs=1e-4)
        lo, hi = reason.sentence
        alone = float(embedder.encode([hit.text[lo:hi]])[0] @ embedder.encode_query(QUERY))
        assert reason.sentence_score == pytest.approx(alone, abs=1e-4)
    if encoder.endswith("-light"):  # explained without loading the SentenceTransformer
        assert embedder._model is None


def test_pair_shares_sum_to_the_per_piece_shares_and_the_cosine() -> None:
    rng = np.random.default_rng(1)
    query, doc = rng.normal(size=(4, 8)), rng.normal(size=(7, 8))
    shares = pair_shares(query, doc)
    q_parts, d_parts, score = split_score(query, doc)
    assert shares.shape == (4, 7)
    np.testing.assert_allclose(shares.sum(axis=1), q_parts, atol=1e-12)
    np.testing.assert_allclose(shares.sum(axis=0), d_parts, atol=1e-12)
    assert shares.sum() == pytest.approx(score, abs=1e-12)


@pytest.mark.slow
def test_pair_matrix_sums_to_the_real_search_score(real_embedder) -> None:
    vectors = real_embedder.encode([QUERY, DOCS[0]])
    pairs = pair_matrix(real_embedder, QUERY, DOCS[0])
    _, q_parts, _, d_parts, _ = token_contributions(real_embedder, QUERY, DOCS[0])
    assert pairs.matrix.shape == (len(pairs.query_tokens), len(pairs.doc_tokens))
    assert pairs.matrix.sum() == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-4)
    np.testing.assert_allclose(pairs.matrix.sum(axis=1), q_parts, atol=1e-4)
    np.testing.assert_allclose(pairs.matrix.sum(axis=0), d_parts, atol=1e-4)
    top = pairs.strongest(3)
    assert len(top) == 3 and top[0][2] >= top[1][2] >= top[2][2]
    assert top[0][2] == pytest.approx(pairs.matrix.max())


def test_merge_pieces_joins_continuations_to_their_word() -> None:
    words, groups = merge_pieces(["[CLS]", "echo", "##loc", "##ation", "of", "bats", "[SEP]"])
    assert words == ("[CLS]", "echolocation", "of", "bats", "[SEP]")
    assert groups.tolist() == [0, 1, 1, 1, 2, 3, 4]


def test_words_matrix_sums_the_pieces_cells() -> None:
    matrix = np.arange(12, dtype=float).reshape(3, 4)
    pairs = PairMatrix(("a", "##b", "c"), ("x", "##y", "##z", "w"), matrix, float(matrix.sum()))
    words = pairs.by_words()
    assert words.query_tokens == ("ab", "c") and words.doc_tokens == ("xyz", "w")
    expected = [[0 + 1 + 2 + 4 + 5 + 6, 3 + 7], [8 + 9 + 10, 11]]
    np.testing.assert_array_equal(words.matrix, expected)
    assert words.matrix.sum() == matrix.sum() == words.score


LONG = (
    "Bats hunt at night. "
    + "Farmers rotate crops to keep the soil fertile and reduce pests in the fields. " * 25
    + "Many bats find insects by echolocation: they emit ultrasonic calls and listen for "
    "the echoes bouncing off moths and beetles in the dark. "
    + "Rivers carry silt from the mountains down to the wide delta and the sea. "
    * 25
)


@pytest.mark.slow
def test_word_matrix_of_a_long_documents_best_chunk_sums_to_its_score(
    real_embedder, data_dir
) -> None:
    """A document of several chunks: the hit's best chunk's word matrix sums to the hit's
    cosine (within 1e-4), rows and columns to the words' shares (their pieces' summed)."""
    from core.documents.readers import Document
    from core.ingest.pipeline import ingest_documents
    from core.search.query import search
    from core.storage.collection import Collection

    collection = Collection("long", real_embedder.info, create=True)
    ingest_documents(collection, real_embedder, [Document("long", LONG, "t")])
    query = "how do bats find insects using echolocation in the dark"
    [hit] = search(collection, real_embedder, query, 1, mode="dense").hits
    assert hit.chunks > 2 and "echolocation" in hit.text and hit.text != LONG
    pieces = pair_matrix(real_embedder, query, hit.text)
    words = pieces.by_words()
    assert words.matrix.sum() == pytest.approx(hit.score, abs=1e-4)
    assert "echolocation" in words.doc_tokens and not any(
        w.startswith("##") for w in words.doc_tokens + words.query_tokens
    )
    assert len(words.doc_tokens) < len(pieces.doc_tokens)
    _, q_parts, _, d_parts, _ = token_contributions(real_embedder, query, hit.text)
    q_sum = np.bincount(merge_pieces(pieces.query_tokens)[1], weights=q_parts)
    d_sum = np.bincount(merge_pieces(pieces.doc_tokens)[1], weights=d_parts)
    np.testing.assert_allclose(words.matrix.sum(axis=1), q_sum, atol=1e-4)
    np.testing.assert_allclose(words.matrix.sum(axis=0), d_sum, atol=1e-4)
    top = words.strongest(5)
    assert [t[2] for t in top] == sorted((t[2] for t in top), reverse=True)
    assert top[0][2] == pytest.approx(words.matrix.max())
