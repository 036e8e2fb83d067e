"""AppTest for the Explore and Words pages, through app.py, on the real bundled model.

One data dir per module: the demo collection is built once, as on a user's first launch.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def data_dir(module_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pages share one data dir per module, so the demo is built once."""
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(module_data_dir))
    return module_data_dir


def run_page(name: str, query: dict[str, str] | None = None) -> AppTest:
    """Run a page as a browser reaches it: app.py, then the page (with URL parameters)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(name)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def tables_of(at: AppTest) -> list[pd.DataFrame]:
    """The escaped HTML tables (``components.html_table``) the page shows, as DataFrames."""
    out = []
    for block in at.html:
        found = re.search(r'<table class="lab-table">(.*?)</table>', block.value)
        if not found:
            continue
        head = re.findall(r"<th>(.*?)</th>", found.group(1))
        rows = re.findall(r"<tr>(<td.*?)</tr>", found.group(1))
        cells = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows]
        out.append(pd.DataFrame(cells, columns=head))
    return out


def charts_of(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def chart_data(chart) -> list[pd.DataFrame]:
    """The data frames a chart sends to the browser (Arrow IPC streams)."""
    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]


def text_of(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return "\n".join(parts + [i.value for i in at.info])


def test_explore_draws_the_demo_map_with_pca() -> None:
    at = run_page("pages/3_Explore.py")
    assert at.title[0].value == "Explore the space"
    assert at.radio(key="explore_method").value == "pca"
    assert len(charts_of(at)) == 1
    assert re.search(r"PCA of [\d,]+ points \(of [\d,]+ chunks\), seed 0", text_of(at))
    assert "of the variance" in text_of(at)
    assert at.query_params["method"] == "pca" and at.query_params["collection"] == "demo"


def test_explore_query_lists_true_neighbours_and_faithfulness() -> None:
    at = run_page("pages/3_Explore.py")
    at.text_input(key="explore_query").input("bats hunting insects in the dark").run()
    assert not at.exception
    table = tables_of(at)[0]
    assert len(table) == 8
    assert "bat" in " ".join(table["title"]).lower()
    assert list(table.columns) == ["rank", "rank on the map", "score", "title", "document"]
    assert any("Overlap@8" in m.label for m in at.metric)
    assert "exact PCA transform" in text_of(at)
    frames = chart_data(charts_of(at)[0])
    lines = next(d for d in frames if "qx" in d)
    assert len(lines) == 8 and list(lines["rank"]) == list(range(1, 9))
    assert at.query_params["q"] == "bats hunting insects in the dark"


def test_explore_opens_the_view_named_in_the_url() -> None:
    url = {"method": "tsne", "seed": "3", "colour": "topic", "q": "volcano eruptions"}
    at = run_page("pages/3_Explore.py", url)
    assert at.radio(key="explore_method").value == "tsne"
    assert at.number_input(key="explore_seed").value == 3
    assert at.selectbox(key="explore_colour").value == "topic"
    assert at.text_input(key="explore_query").value == "volcano eruptions"
    assert len(charts_of(at)) == 1
    assert "t-SNE placement (it has no transform)" in text_of(at)


def test_explore_colours_by_named_clusters() -> None:
    at = run_page("pages/3_Explore.py")
    at.selectbox(key="explore_colour").set_value("clusters").run()
    assert not at.exception
    spec = charts_of(at)[0].proto.spec
    assert '"title": "cluster"' in spec
    points = next(d for d in chart_data(charts_of(at)[0]) if "_colour" in d)
    names = sorted(points["_colour"].unique())
    assert len(names) == 6 and names[0].startswith("1 · ")
    assert all(len(n.split(", ")) == 3 for n in names), names


def test_explore_shows_map_trust_and_shades_by_neighbour_recall() -> None:
    at = run_page("pages/3_Explore.py", {"method": "pca"})
    labels = {m.label: m.value for m in at.metric}
    assert {"Neighbour recall@10", "Trustworthiness", "Continuity"} <= set(labels)
    recall = float(labels["Neighbour recall@10"].rstrip("%")) / 100
    assert 0.0 < recall < 1.0 and 0.5 < float(labels["Trustworthiness"]) <= 1.0
    shown = text_of(at).replace("\\", "")  # said as plain text: Markdown escapes removed
    assert "of a point's 10 nearest neighbours in the full space" in shown
    at.selectbox(key="explore_colour").set_value("neighbour recall").run()
    assert not at.exception and at.query_params["colour"] == "neighbour recall"
    assert '"scheme": "redyellowgreen"' in charts_of(at)[0].proto.spec
    points = next(d for d in chart_data(charts_of(at)[0]) if "_recall" in d)
    assert points["_recall"].between(0, 1).all()
    assert points["_recall"].mean() == pytest.approx(recall, abs=0.005)


def test_explore_selection_from_the_url_can_be_searched_summarised_and_saved() -> None:
    from core.storage.collection import collection_path

    at = run_page("pages/3_Explore.py", {"box": "-1e9,1e9,-1e9,1e9"})
    total = len(chart_data(charts_of(at)[0])[0])
    heads = [h.value for h in at.subheader]
    assert f"The selection: {total:,} chunks from {total:,} documents" in heads, heads
    assert at.query_params["box"] == "-1e+09,1e+09,-1e+09,1e+09"
    assert "Most distinctive words" in text_of(at)
    at.text_input(key="explore_within_q").input("bats hunting insects in the dark").run()
    found = tables_of(at)[-1]
    assert len(found) == 10 and "bat" in found["title"].iloc[0].lower()
    at.text_input(key="explore_save_name").input("everything-selected")
    at.button[-1].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Saved" in s.value for s in at.success)
    assert (collection_path("everything-selected") / "store.sqlite").is_file()


def test_explore_selects_a_whole_cluster_and_keeps_it_in_the_url() -> None:
    at = run_page("pages/3_Explore.py", {"colour": "clusters"})
    name = at.selectbox(key="explore_pick_cluster").options[1]
    at.selectbox(key="explore_pick_cluster").set_value(name).run()
    assert not at.exception and at.query_params["cluster"] == name
    points = next(d for d in chart_data(charts_of(at)[0]) if "_colour" in d)
    size = int((points["_colour"] == name).sum())
    assert any(h.value.startswith(f"The selection: {size:,} chunks") for h in at.subheader)


def test_explore_bad_url_values_fall_back() -> None:
    at = run_page("pages/3_Explore.py", {"method": "magic", "seed": "-5", "colour": "<b>"})
    assert at.radio(key="explore_method").value == "pca"
    assert at.number_input(key="explore_seed").value == 0
    assert at.selectbox(key="explore_colour").value == "(none)"


def test_explore_empty_and_one_document_collections(real_embedder) -> None:
    from core.documents.readers import Document
    from core.ingest.pipeline import ingest_documents
    from core.storage.collection import Collection

    Collection("empty-one", real_embedder.info, create=True)
    single = Collection("single", real_embedder.info, create=True)
    ingest_documents(single, real_embedder, [Document("only", "Bees make honey.", "t", "Bees")])
    at = run_page("pages/3_Explore.py", {"collection": "empty-one"})
    assert any("has no documents yet" in i.value for i in at.info)
    assert not charts_of(at)
    at = run_page("pages/3_Explore.py", {"collection": "single", "method": "umap"})
    assert any("One point only" in i.value for i in at.info)
    assert any("showing PCA instead" in i.value for i in at.info)
    at.text_input(key="explore_query").input("honey").run()
    assert not at.exception and len(tables_of(at)[0]) == 1


def test_words_default_list_shows_pieces_maps_and_neighbours() -> None:
    at = run_page("pages/4_Words.py")
    assert at.title[0].value == "Words and word pieces"
    pieces = at.dataframe[0].value
    assert list(pieces["word"])[:3] == ["bound", "jump", "leap"]
    assert len(charts_of(at)) == 4
    neighbours = tables_of(at)[0]
    assert neighbours["piece"].iloc[0] == "bounds" and len(neighbours) == 15  # measured 0.57
    analogy = tables_of(at)[1]
    assert analogy["piece"].iloc[0] == "queen"
    assert "left out" in text_of(at)


def test_words_split_an_unknown_word_into_pieces() -> None:
    at = run_page("pages/4_Words.py")
    at.text_area(key="words_input").input("embeddings, jump").run()
    pieces = at.dataframe[0].value
    row = pieces[pieces["word"] == "embeddings"].iloc[0]
    assert row["pieces"] == "em · ##bed · ##ding · ##s" and not row["in vocabulary"]
    assert "not in the vocabulary, so split into pieces" in text_of(at)
    assert at.query_params["words"] == "embeddings, jump"
    shared = run_page("pages/4_Words.py", {"words": "embeddings, jump"})
    assert shared.text_area(key="words_input").value == "embeddings, jump"
    at.selectbox(key="words_neighbour").set_value("embeddings").run()
    assert "splits into 4 pieces" in text_of(at)


def test_words_refuses_200_words_and_empty_input() -> None:
    at = run_page("pages/4_Words.py")
    at.text_area(key="words_input").input(" ".join(f"word{i}" for i in range(200))).run()
    assert not at.exception
    assert at.error and "limit is 100" in at.error[0].value
    at.text_area(key="words_input").input("  ,, ").run()
    assert at.error and "Type a few words" in at.error[0].value


def test_a_selection_opens_the_search_page_restricted_to_its_documents() -> None:
    """Explore (a box over a cluster) -> its link -> Search restricted to exactly those
    documents (the ranking equals the exact search within them) -> cleared: the whole
    collection again."""
    from urllib.parse import parse_qsl

    from core.model.embedder import Embedder
    from core.search.query import search
    from core.storage import selections
    from core.storage.collection import Collection

    at = run_page("pages/3_Explore.py", {"colour": "clusters"})
    name = at.selectbox(key="explore_pick_cluster").options[1]
    at.selectbox(key="explore_pick_cluster").set_value(name).run()
    points = next(d for d in chart_data(charts_of(at)[0]) if "_colour" in d)
    chosen = points.loc[points["_colour"] == name, "chunk_id"].to_numpy()
    [link] = [p for p in at.get("page_link") if "restricted" in p.proto.label]
    assert "Search" in link.proto.page
    query = dict(parse_qsl(link.proto.query_string))
    assert query["collection"] == "demo" and query["within"].startswith("i")

    question = "animals that live in the sea"
    search_page = run_page("pages/1_Search.py", {**query, "q": question})
    assert any("Searching only within a selection of" in i.value for i in search_page.info)
    collection = Collection("demo", Embedder().info)
    rows = selections.document_rows(collection, chosen)
    selected = {r.doc_id for r in collection.store.chunk_rows(chosen).values()}
    expected = search(collection, Embedder(), question, 10, within=rows).hits
    cards = "".join(h.value for h in search_page.html)
    shown = [html.unescape(d) for d in re.findall(r'<div class="meta">id (.*?) · ', cards)]
    assert len(expected) == min(10, len(selected)) and {h.doc_id for h in expected} <= selected
    assert shown == [h.doc_id for h in expected]

    search_page.button(key="search_within_clear").click().run()
    assert "within" not in search_page.query_params
    assert not any("Searching only within" in i.value for i in search_page.info)


def selection_params(chart) -> dict[str, dict]:
    """The chart's selection parameters by name (top level or in a layer)."""
    import json

    spec = json.loads(chart.proto.spec)
    found = [*spec.get("params", []), *(p for la in spec["layer"] for p in la.get("params", []))]
    return {p["name"]: p for p in found}


def test_a_selection_in_the_url_is_drawn_on_the_map_again() -> None:
    """A link with a box (or clicked points) opens a map whose selection parameters start at
    that box (those points), so the box is drawn and the points outside it fade."""
    at = run_page("pages/3_Explore.py", {"box": "-1,2,-3,4"})
    params = selection_params(charts_of(at)[0])
    assert params["box"]["value"] == {"x": [-1.0, 2.0], "y": [-3.0, 4.0]}
    assert "value" not in params["pick"]
    ids = chart_data(charts_of(at)[0])[-1]["chunk_id"].iloc[:2].tolist()
    at = run_page("pages/3_Explore.py", {"pick": ",".join(str(i) for i in ids)})
    params = selection_params(charts_of(at)[0])
    assert params["pick"]["value"] == [{"chunk_id": int(i)} for i in ids]
    assert any(h.value.startswith("The selection: 2 chunks") for h in at.subheader)


def test_a_linked_selection_is_not_drawn_on_another_map() -> None:
    """The box a link named belongs to its map (PCA here): switched to t-SNE, no box."""
    at = run_page("pages/3_Explore.py", {"box": "-1,2,-3,4", "method": "pca"})
    assert selection_params(charts_of(at)[0])["box"]["value"]["x"] == [-1.0, 2.0]
    at.radio(key="explore_method").set_value("tsne").run()
    assert not at.exception
    assert "value" not in selection_params(charts_of(at)[0])["box"]
