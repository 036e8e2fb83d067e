"""Projections to 2D: layouts, placement of new points, the disk cache, faithfulness, clusters,
exports and the chart specs. Collections use the tiny random BERT; oracles are sklearn's PCA
and hand-built cases."""

from __future__ import annotations

import json
import time
import zipfile
from io import BytesIO
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest

from core.documents.readers import Document
from core.errors import LabError
from core.explain import explore
from core.explain.projection import (
    Params,
    Projection,
    ProjectionError,
    estimate_seconds,
    plan,
    project_collection,
    project_vectors,
)
from core.ingest.pipeline import ingest_documents
from core.storage import export
from core.storage.collection import Collection
from ui import charts

TOPICS = ("garden", "space", "music")


def blobs(per: int = 40, dims: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated clusters of unit vectors, and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, dims)) * 4
    labels = np.repeat(np.arange(3), per)
    x = centres[labels] + rng.standard_normal((3 * per, dims))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def docs(count: int, prefix: str = "d") -> list[Document]:
    words = {"garden": "tomato soil compost", "space": "rocket orbit moon", "music": "violin bass"}
    out = []
    for i in range(count):
        topic = TOPICS[i % 3]
        text = f"Note {prefix}{i} about {topic}: {words[topic]} and item number {i * 7919 % 1000}."
        title = f"<b>{topic}</b> {i}"
        out.append(Document(f"{prefix}{i}", text, "test", title, {"topic": topic, "n": i}))
    return out


@pytest.fixture
def collection(tiny_embedder) -> Collection:
    """A 30-document collection on the tiny model."""
    made = Collection("maps", tiny_embedder.info, create=True)
    ingest_documents(made, tiny_embedder, docs(30))
    return made


def nearest_label(coords: np.ndarray, labels: np.ndarray, points: np.ndarray) -> np.ndarray:
    distance = np.linalg.norm(coords[None, :, :] - points[:, None, :], axis=2)
    return labels[distance.argmin(axis=1)]


# --- layouts of arrays ---------------------------------------------------------------------


def test_pca_is_deterministic_and_matches_sklearn_up_to_sign() -> None:
    from sklearn.decomposition import PCA

    x, _ = blobs()
    first, second = project_vectors(x, Params()), project_vectors(x, Params())
    assert first.coords.shape == (120, 2) and first.method == "pca"
    np.testing.assert_array_equal(first.coords, second.coords)
    oracle = PCA(2).fit_transform(x)
    np.testing.assert_allclose(np.abs(first.coords), np.abs(oracle), atol=1e-4)
    assert 0 < first.explained <= 1


def test_pca_places_training_points_on_themselves_and_new_points_like_sklearn() -> None:
    from sklearn.decomposition import PCA

    x, _ = blobs()
    fit = project_vectors(x, Params())
    projection = Projection(fit, Params(), np.arange(120), np.arange(120).astype(str), 120, 0, "k")
    placed = explore.place(projection, None, x[:5])
    np.testing.assert_allclose(placed.coords, fit.coords[:5], atol=1e-5)
    assert placed.how == "exact PCA transform"
    new = blobs(per=2, seed=7)[0]
    oracle = PCA(2).fit(x)
    signs = np.sign(fit.coords[0] / oracle.transform(x[:1])[0])
    got = explore.place(projection, None, new).coords
    np.testing.assert_allclose(got, oracle.transform(new) * signs, atol=1e-4)


def test_umap_is_deterministic_and_transform_lands_in_the_right_cluster() -> None:
    x, labels = blobs()
    first = project_vectors(x, Params(method="umap", seed=1))
    again = project_vectors(x, Params(method="umap", seed=1))
    other = project_vectors(x, Params(method="umap", seed=2))
    assert first.method == "umap" and first.coords.shape == (120, 2)
    np.testing.assert_array_equal(first.coords, again.coords)
    assert not np.allclose(first.coords, other.coords)
    projection = Projection(first, Params(), np.arange(120), labels.astype(str), 120, 0, "u")
    new, new_labels = blobs(per=3, seed=0)  # same centres, fresh noise
    placed = explore.place(projection, None, new)
    assert placed.how == "UMAP transform"
    assert (nearest_label(first.coords, labels, placed.coords) == new_labels).all()
    again_placed = explore.place(projection, None, new)
    np.testing.assert_allclose(placed.coords, again_placed.coords, atol=1e-5)


def test_tsne_is_deterministic_under_a_seed() -> None:
    x, labels = blobs(per=20)
    first = project_vectors(x, Params(method="tsne", seed=3))
    again = project_vectors(x, Params(method="tsne", seed=3))
    np.testing.assert_array_equal(first.coords, again.coords)
    assert first.method == "tsne" and first.mean is None
    same_cluster = nearest_label(
        np.delete(first.coords, 0, 0), np.delete(labels, 0), first.coords[:1]
    )
    assert same_cluster[0] == labels[0]


def test_zero_one_two_points_and_duplicates() -> None:
    x, _ = blobs()
    with pytest.raises(ProjectionError, match="nothing to draw"):
        project_vectors(x[:0], Params())
    one = project_vectors(x[:1], Params(method="umap"))
    assert one.coords.tolist() == [[0.0, 0.0]] and "One point only" in one.notes[0]
    two = project_vectors(x[:2], Params(method="tsne"))
    assert two.method == "pca" and np.linalg.norm(two.coords[0] - two.coords[1]) > 0
    assert any("showing PCA instead" in n for n in two.notes)
    same = project_vectors(np.repeat(x[:1], 25, axis=0), Params(method="umap"))
    assert same.method == "pca" and np.allclose(same.coords, same.coords[0])
    assert "24 duplicate vectors" in same.notes[0]
    mixed = project_vectors(np.vstack([x, x[:5]]), Params(method="pca"))
    assert mixed.coords.shape == (125, 2) and "5 duplicate" in mixed.notes[0]
    np.testing.assert_allclose(mixed.coords[120:], mixed.coords[:5], atol=1e-6)


def test_absurd_or_bad_requests_are_clear_errors() -> None:
    with pytest.raises(ProjectionError, match="500,000 points") as caught:
        Params(max_points=500_000).checked()
    assert isinstance(caught.value, LabError)
    for bad in (Params(method="mds"), Params(perplexity=500), Params(seed=-1)):
        with pytest.raises(ProjectionError):
            bad.checked()


def test_estimates_grow_with_size_and_pca_is_fast() -> None:
    assert estimate_seconds("pca", 100_000) < 5
    for method in ("pca", "umap", "tsne"):
        assert estimate_seconds(method, 100_000) > estimate_seconds(method, 10_000)
    assert estimate_seconds("tsne", 100_000) > estimate_seconds("umap", 100_000)


# --- maps of collections and the disk cache ------------------------------------------------


def test_projection_is_cached_on_disk_as_npy_and_json(collection: Collection) -> None:
    params = Params(method="tsne", seed=5)
    assert not plan(collection, params).cached
    started = time.perf_counter()
    first = project_collection(collection, params)
    computed = time.perf_counter() - started
    folder = collection.path / "projections" / first.key
    assert sorted(p.name for p in folder.iterdir()) == [
        "chunk_ids.npy",
        "coords.npy",
        "doc_ids.npy",
        "meta.json",
    ]
    for path in folder.glob("*.npy"):
        np.load(path, allow_pickle=False)  # raises if anything needed pickle
    assert json.loads((folder / "meta.json").read_text())["method"] == "tsne"
    assert plan(collection, params).cached
    started = time.perf_counter()
    second = project_collection(collection, params)
    assert second.cached and not first.cached
    assert time.perf_counter() - started < computed / 3
    np.testing.assert_array_equal(first.coords, second.coords)
    np.testing.assert_array_equal(first.chunk_ids, second.chunk_ids)
    assert first.doc_ids.tolist() == second.doc_ids.tolist()


def test_cache_key_follows_content_and_parameters(collection: Collection, tiny_embedder) -> None:
    first = project_collection(collection, Params())
    assert project_collection(collection, Params(seed=1)).key != first.key
    ingest_documents(collection, tiny_embedder, docs(3, prefix="new"))
    after = project_collection(collection, Params())
    assert after.key != first.key and not after.cached and after.total == first.total + 3


def test_big_collections_are_sampled_with_the_seed(collection: Collection) -> None:
    sample = project_collection(collection, Params(max_points=10, seed=4))
    assert len(sample.chunk_ids) == 10 and sample.total == 30
    assert "seeded sample of 10 of the 30" in sample.fit.notes[0]
    again = project_collection(collection, Params(max_points=10, seed=4))
    other = project_collection(collection, Params(max_points=10, seed=5))
    assert again.chunk_ids.tolist() == sample.chunk_ids.tolist()
    assert other.chunk_ids.tolist() != sample.chunk_ids.tolist()


def test_empty_collection_is_a_clear_error(tiny_embedder) -> None:
    empty = Collection("empty", tiny_embedder.info, create=True)
    with pytest.raises(ProjectionError, match="no documents yet"):
        project_collection(empty, Params())


# --- the query on the map ------------------------------------------------------------------


def brute_force_documents(collection: Collection, vector: np.ndarray, k: int) -> list[str]:
    """Exact cosine over every stored chunk, each document at its best chunk."""
    ids, vectors = collection.store.all_vectors(collection.model.dimension)
    rows = collection.store.chunk_rows(ids)
    order = np.argsort(-(vectors @ vector), kind="stable")
    return list(dict.fromkeys(rows[int(ids[i])].doc_id for i in order))[:k]


def test_query_view_uses_the_true_neighbours(collection, tiny_embedder) -> None:
    projection = project_collection(collection, Params())
    view = explore.query_view(collection, tiny_embedder, projection, "rocket to the moon", 5)
    vector = tiny_embedder.encode_query("rocket to the moon")
    truth = brute_force_documents(collection, vector, 5)
    assert [h.doc_id for h in view.hits] == truth
    assert all(view.on_map) and view.faithfulness.k == 5
    rows = [projection.doc_ids.tolist().index(h.doc_id) for h in view.hits]
    np.testing.assert_allclose(view.neighbour_xy, projection.coords[rows])
    expected = (vector - projection.fit.mean) @ projection.fit.components.T
    np.testing.assert_allclose(view.xy, expected, atol=1e-5)


def test_query_view_on_a_sample_places_missing_neighbours(collection, tiny_embedder) -> None:
    projection = project_collection(collection, Params(method="tsne", max_points=12))
    view = explore.query_view(collection, tiny_embedder, projection, "violin and bass", 10)
    assert not all(view.on_map) and np.isfinite(view.neighbour_xy).all()
    assert "t-SNE placement (it has no transform)" in view.placement


def test_neighbours_of_a_document_leave_it_out(collection: Collection) -> None:
    chunk_id = int(collection.store.db.execute("SELECT MIN(id) FROM chunks").fetchone()[0])
    hits = explore.neighbours_of(collection, chunk_id, 5)
    own = collection.store.chunk_rows([chunk_id])[chunk_id].doc_id
    assert len(hits) == 5 and own not in [h.doc_id for h in hits]
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_faithfulness_on_a_line() -> None:
    coords = np.stack([np.arange(10.0), np.zeros(10)], axis=1)
    doc_ids = np.asarray([f"d{i}" for i in range(10)])
    query = np.asarray([-1.0, 0.0])
    perfect = explore.faithfulness(query, coords, doc_ids, ["d0", "d1", "d2"])
    assert perfect.map_ranks == (1, 2, 3) and perfect.overlap == 1.0
    assert perfect.mean_rank == 2.0 and perfect.verdict.startswith("faithful")
    worst = explore.faithfulness(query, coords, doc_ids, ["d9", "d8", "d7"])
    assert worst.map_ranks == (10, 9, 8) and worst.overlap == 0.0
    assert worst.verdict.startswith("misleading")
    half = explore.faithfulness(query, coords, doc_ids, ["d0", "d5"])
    assert half.map_ranks == (1, 6) and half.overlap == 0.5
    chunks = explore.faithfulness(query, coords, np.asarray(["a"] * 5 + ["b"] * 5), ["b"])
    assert chunks.map_ranks == (2,)  # documents rank at their closest chunk


def test_knn_placement_is_a_softmax_weighted_mean() -> None:
    coords = np.asarray([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], dtype=np.float32)
    rows, similarity = np.asarray([[0, 1], [2, 2]]), np.asarray([[0.9, 0.9 - 0.05 * np.log(3)]])
    similarity = np.vstack([similarity, [[0.5, 0.1]]])
    placed = explore.knn_place(coords, rows, similarity)  # weights 3:1, then one point twice
    np.testing.assert_allclose(placed, [[2.5, 0.0], [0.0, 10.0]], atol=1e-5)


def test_clusters_are_found_and_named_by_distinctive_terms() -> None:
    x, labels = blobs()
    found = explore.kmeans_labels(x, 3, seed=0)
    assert len(set(zip(found.tolist(), labels.tolist(), strict=True))) == 3
    texts = ["tomato soil compost garden"] * 4 + ["rocket orbit launch moon"] * 4
    names = explore.cluster_terms(texts, np.asarray([0] * 4 + [1] * 4), top=2)
    assert names[0].startswith("1 · ") and {"compost", "garden"} & set(names[0][4:].split(", "))
    assert "rocket" in names[1] or "orbit" in names[1] or "moon" in names[1]
    assert explore.cluster_terms(["a 1", "b 2"], np.asarray([0, 1])) == ["1", "2"]
    assert explore.kmeans_labels(np.repeat(x[:1], 5, axis=0), 4).tolist() == [0] * 5


def test_collection_clusters_cover_every_point(collection: Collection) -> None:
    projection = project_collection(collection, Params())
    found = explore.clusters(collection, projection, 3)
    assert found.labels.shape == (30,) and len(found.names) == 3


# --- exports and charts --------------------------------------------------------------------


def test_points_table_and_csv_keep_metadata(collection: Collection) -> None:
    projection = project_collection(collection, Params())
    table = export.points_table(collection, projection.chunk_ids)
    assert list(table.columns[:6]) == list(export.BASE_COLUMNS)
    assert {"topic", "n"} <= set(table.columns) and len(table) == 30
    with_xy = table.assign(x=projection.coords[:, 0], y=projection.coords[:, 1])
    back = pd.read_csv(BytesIO(export.coordinates_csv(with_xy)))
    assert back["title"].tolist() == table["title"].tolist() and "<b>" in back["title"][0]
    np.testing.assert_allclose(back["x"], projection.coords[:, 0], rtol=1e-5)


def test_export_projector_writes_two_aligned_tsv_files(
    collection: Collection, tiny_embedder, tmp_path: Path
) -> None:
    tricky = Document("tabs", "Line one\twith a tab\nand a newline.", "t", "Tab\ttitle", {})
    ingest_documents(collection, tiny_embedder, [tricky])
    report = export.export_projector(collection, tmp_path / "out")
    vectors = report.vectors.read_text().splitlines()
    metadata = report.metadata.read_text().splitlines()
    assert report.rows == len(vectors) == len(metadata) - 1 == 31
    assert all(len(line.split("\t")) == 32 for line in vectors)
    header = metadata[0].split("\t")
    assert header[:2] == ["doc_id", "title"] and "topic" in header
    assert all(len(line.split("\t")) == len(header) for line in metadata)
    stored = collection.store.all_vectors(32)[1]
    np.testing.assert_allclose(np.loadtxt(report.vectors, delimiter="\t"), stored, atol=1e-5)
    assert "Tab title" in report.metadata.read_text()
    with pytest.raises(LabError):
        export.export_projector(collection, report.vectors)


def test_projector_zip_holds_the_chosen_points(collection: Collection) -> None:
    ids = project_collection(collection, Params(max_points=7)).chunk_ids
    with zipfile.ZipFile(BytesIO(export.projector_zip(collection, ids))) as archive:
        assert sorted(archive.namelist()) == ["metadata.tsv", "vectors.tsv"]
        assert len(archive.read("vectors.tsv").decode().splitlines()) == 7
        assert len(archive.read("metadata.tsv").decode().splitlines()) == 8


def test_map_chart_has_zoom_selection_tooltips_query_and_density(collection) -> None:
    projection = project_collection(collection, Params())
    table = export.points_table(collection, projection.chunk_ids)
    table = table.assign(x=projection.coords[:, 0], y=projection.coords[:, 1])
    near = table.head(3).assign(rank=[1, 2, 3])
    cells = charts.density(projection.coords, bins=4)
    assert cells["points"].sum() == 30
    chart = charts.map_chart(table, "topic", {"x": 0.0, "y": 0.0}, near, cells)
    spec = chart.to_dict()
    names = {p["name"] for p in spec.get("params", [])} | {
        p["name"] for layer in spec["layer"] for p in layer.get("params", [])
    }
    assert {"zoom", "pick", "box"} <= names
    text = json.dumps(spec)
    assert '"tooltip"' in text and "snippet" in text and '"diamond"' in text
    assert '"rule"' in text and '"rect"' in text and "usermeta" not in text
    assert isinstance(chart, alt.LayerChart)


def test_selected_points_from_click_and_box() -> None:
    table = pd.DataFrame({"chunk_id": [1, 2, 3], "x": [0.0, 1.0, 5.0], "y": [0.0, 1.0, 5.0]})
    assert charts.selected_points(table, {}).empty
    picked = charts.selected_points(table, {"pick": [{"chunk_id": 3}]})
    assert picked["chunk_id"].tolist() == [3]
    boxed = charts.selected_points(table, {"box": {"x": [2.0, -1.0], "y": [-1.0, 2.0]}})
    assert boxed["chunk_id"].tolist() == [1, 2]


def test_big_tables_draw_a_sample_and_colours_are_capped() -> None:
    table = pd.DataFrame({"x": np.arange(30_000.0), "group": np.arange(30_000) % 50})
    drawn = charts.draw_sample(table, seed=1)
    assert len(drawn) == charts.DRAW_LIMIT and drawn.index.equals(
        charts.draw_sample(table, seed=1).index
    )
    assert charts.limit_categories(table["group"]).nunique() == charts.MAX_COLOURS
