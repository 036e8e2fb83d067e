"""ui.charts: the charts pages draw, from values core returns.

Field names from documents (CSV headers, JSON keys) never become Altair or Vega-Lite field
syntax; one heat map serves both model pages.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ui import charts

HOSTILE_FIELDS = ["[link](http://127.0.0.2:9/link)", "a.b", "x:N", "a[0]", "<b>k</b>", "r\\s"]


@pytest.mark.parametrize("field", HOSTILE_FIELDS)
def test_map_coloured_by_any_field_name_renders(field: str) -> None:
    table = pd.DataFrame(
        {
            "chunk_id": range(4),
            "doc_id": list("abcd"),
            "title": list("ABCD"),
            "chunk": [0] * 4,
            "snippet": ["s"] * 4,
            "x": [0.0, 1.0, 2.0, 3.0],
            "y": [1.0, 0.0, 1.0, 0.0],
            field: ["one", "two", "one", 3],
        }
    )
    assert charts.colour_fields(table) == [field]
    spec = charts.map_chart(table, field).to_dict()
    tips = [t for layer in spec["layer"] for t in layer["encoding"].get("tooltip", [])]
    assert {"field": "_colour_value", "type": "nominal", "title": field} in tips
    values = next(iter(spec["datasets"].values()))
    assert [row["_colour_value"] for row in values] == ["one", "two", "one", "3"]


def test_heat_draws_every_cell_with_its_labels() -> None:
    matrix = np.arange(6, dtype=float).reshape(2, 3)
    chart = charts.heat(matrix, ["layer 1", "layer 2"], ["0:[CLS]", "1:a", "2:[SEP]"], "t", "layer")
    spec = chart.to_dict()
    cells = next(iter(spec["datasets"].values()))
    assert [(c["row"], c["token"], c["weight"]) for c in cells] == [
        ("layer 1", "0:[CLS]", 0.0),
        ("layer 1", "1:a", 1.0),
        ("layer 1", "2:[SEP]", 2.0),
        ("layer 2", "0:[CLS]", 3.0),
        ("layer 2", "1:a", 4.0),
        ("layer 2", "2:[SEP]", 5.0),
    ]
    assert spec["encoding"]["y"]["title"] == "layer"
    assert spec["encoding"]["x"]["sort"] == ["0:[CLS]", "1:a", "2:[SEP]"]
    log = charts.heat(matrix + 1, ["a", "b"], ["x", "y", "z"], "t", value="length", scale="log")
    assert log.to_dict()["encoding"]["color"]["scale"]["type"] == "log"
    assert json.dumps(log.to_dict()).count('"length"') >= 1
