"""Map trust figures against sklearn's trustworthiness and a brute-force kNN recall."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.manifold import trustworthiness

from core.explain.map_trust import map_trust, neighbourhood_scores, sample_rows


def clustered(n: int, d: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((6, d))
    x = centres[rng.integers(0, 6, n)] + 0.6 * rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_recall(vectors: np.ndarray, coords: np.ndarray, k: int) -> np.ndarray:
    """Per point: |true cosine kNN & map kNN| / k, by full sorts."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    flat = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(flat, np.inf)
    out = []
    for i in range(len(vectors)):
        true = set(np.argsort(-sims[i])[:k])
        near = set(np.argsort(flat[i])[:k])
        out.append(len(true & near) / k)
    return np.array(out)


def pca2(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


@pytest.mark.parametrize(("n", "k"), [(40, 5), (300, 10), (700, 12)])
def test_trustworthiness_and_continuity_match_sklearn(n: int, k: int) -> None:
    x = clustered(n, seed=n)
    coords = pca2(x) + 0.05 * np.random.default_rng(1).standard_normal((n, 2))
    trust, cont, _ = neighbourhood_scores(x, coords, k)
    assert trust == pytest.approx(trustworthiness(x, coords, n_neighbors=k, metric="cosine"))
    # continuity is trustworthiness with the spaces' roles swapped (unit vectors: the
    # Euclidean ranking equals the cosine ranking)
    assert cont == pytest.approx(trustworthiness(coords, x, n_neighbors=k))


def test_recall_matches_brute_force_and_spans_blocks() -> None:
    x = clustered(600, seed=3)  # more than two blocks of 256 rows
    coords = pca2(x)
    _, _, recall = neighbourhood_scores(x, coords, 8)
    assert recall.shape == (600,)
    np.testing.assert_allclose(recall, brute_recall(x, coords, 8))
    assert 0.0 < recall.mean() < 1.0


def test_a_faithful_map_scores_near_one_and_a_shuffled_one_low() -> None:
    rng = np.random.default_rng(0)
    plane = rng.standard_normal((200, 2))
    # far from the origin along a third axis, cosine order follows distance on the plane
    x = np.hstack([plane, np.full((200, 1), 1e3)])
    trust, cont, recall = neighbourhood_scores(x, plane)
    assert trust > 0.99 and cont > 0.99 and recall.mean() > 0.95
    t2, c2, r2 = neighbourhood_scores(x, plane[rng.permutation(200)])
    assert t2 < 0.6 and c2 < 0.6 and r2.mean() < 0.2


def test_sample_is_seeded_bounded_and_sorted() -> None:
    assert list(sample_rows(5, 10)) == [0, 1, 2, 3, 4]
    a, b = sample_rows(10_000, 5_000, seed=7), sample_rows(10_000, 5_000, seed=7)
    assert len(a) == 5_000 and np.array_equal(a, b) and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, sample_rows(10_000, 5_000, seed=8))


def test_map_trust_measures_the_sample_only() -> None:
    x = clustered(500, seed=5)
    coords = pca2(x)
    result = map_trust(x, coords, k=6, limit=120, seed=2)
    assert result is not None and result.sampled and result.total == 500
    assert len(result.rows) == 120 and result.point_recall.shape == (120,)
    rows = result.rows
    expected = trustworthiness(x[rows], coords[rows], n_neighbors=6, metric="cosine")
    assert result.trustworthiness == pytest.approx(expected)
    assert result.recall == pytest.approx(brute_recall(x[rows], coords[rows], 6).mean())
    assert "6 nearest neighbours" in result.summary


def test_small_maps_lower_k_and_tiny_ones_give_none() -> None:
    x = clustered(9)
    result = map_trust(x, pca2(x), k=10)
    assert result is not None and result.k == 4 and not result.sampled
    assert map_trust(x[:2], pca2(x)[:2]) is None
    with pytest.raises(ValueError, match="map points"):
        neighbourhood_scores(x, pca2(x)[:5], 2)
