"""measure.ingest: a whole-process ingest is timed end to end and stores every text; the
bench table shows each encoder's ratio to plain encode."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.storage.collection import built_encoder
from measure.ingest import process_ingest
from measure.suite import rows


def test_process_ingest_stores_every_text_with_that_encoder(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDLAB_MODEL", str(tiny_model_dir))
    data = tmp_path / "data"
    texts = [f"note {i} about penguins" for i in range(7)]
    seconds = process_ingest(texts, "torch", data, tmp_path / "short-torch.jsonl")
    assert seconds > 0
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(data))
    assert built_encoder("short-torch") == "torch"
    from core.storage.store import Store

    store = Store(data / "short-torch" / "store.sqlite", read_only=True)
    assert store.counts()[0] == len(texts)


def test_bench_table_has_a_row_per_text_set_and_encoder() -> None:
    ingest = {"documents": 5, "demo_query_p50_ms_torch": 9.0, "demo_query_p95_ms_torch": 20.0}
    ingest |= {"demo_query_p50_ms_onnx_int8": 4.0, "demo_query_p95_ms_onnx_int8": 10.0}
    for texts in ("short", "abstracts"):
        ingest[f"{texts}_plain_encode_s"] = 6.0
        for key, seconds in (("onnx_int8", 2.0), ("torch", 4.0)):
            ingest[f"{texts}_ingest_{key}_s"] = seconds
            ingest[f"{texts}_ingest_{key}_vs_plain"] = 6.0 / seconds
    ingest |= {"one_document_ingest_onnx_int8_s": 1.5, "one_document_ingest_torch_s": 6.0}
    table = rows({"ingest": ingest})
    ratios = [row[3] for row in table]
    assert ratios == ["3.00x", "1.50x", "3.00x", "1.50x", "4.00x", "2.00x"]
    assert table[0][0] == "whole-process ingest s, 5 short, onnx-int8"
