"""Several browser sessions searching while another uploads: every search answered, no error.

A small run of ``python -m measure.load`` (3 searching sessions, 3 searches each, 1 uploading
session) against ``streamlit run app.py`` on the tiny model. Latencies are printed, not
asserted: the full run (8 sessions) reports the p95 ratio.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.ingest import builtin
from measure import load as loadtest

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_three_sessions_search_and_explore_while_one_uploads(
    tmp_path: Path, tiny_model_dir: Path, tiny_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path(loadtest.CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {loadtest.CHROMIUM}: apt-get install chromium")
    data = tmp_path / "data"
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(data))
    builtin.ensure_demo(tiny_embedder)  # as the server would on its first request, only sooner
    args = loadtest.build_parser().parse_args(
        [
            "--sessions",
            "3",
            "--searches",
            "3",
            "--single",
            "3",
            "--records",
            "40",
            "--explore-every",
            "2",
            "--think",
            "0.2",
        ]
    )
    env = {"EMBEDLAB_MODEL": str(tiny_model_dir)}
    with loadtest.streamlit_server(data, env) as (url, proc):
        figures = asyncio.run(loadtest.measure(url, args, proc.pid))
    print(figures)
    single, loaded = figures["single_user"], figures["loaded"]
    assert single["answered"] == single["searches"] == 3
    assert loaded["answered"] == loaded["searches"] == 9, loaded["error_samples"]
    assert figures["errors_total"] == 0, figures
    assert figures["uploads"]["done"] >= 1 and figures["uploads"]["errors"] == []
    assert single["outbound_blocked"] == loaded["outbound_blocked"] == 0
    assert figures["server_rss_mb"]["after_load"] is not None
    assert single["search_p95_ms"] is not None and loaded["search_p95_ms"] is not None
    explored = figures["explore"]  # each session opened Explore once, after its 2nd search
    assert explored["single_user"]["answered"] == explored["single_user"]["searches"] == 1
    assert explored["loaded"]["answered"] == explored["loaded"]["searches"] == 3, explored
    cpu = figures["loaded_cpu"]
    assert cpu["server_s"] > 0 and cpu["machine_busy_s"] >= cpu["server_s"]
    capacity = figures["capacity"]
    assert capacity["demand_cpu_s"] >= capacity["server_cpu_s"] > 0
    assert capacity["min_stretch"] >= capacity["min_stretch_server_only"] >= 1.0


def test_memory_levels_off_over_five_session_cycles(
    tmp_path: Path, tiny_model_dir: Path, tiny_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search, explore, context and upload, five times: memory within 10% of round 2."""
    data = tmp_path / "data"
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(data))
    builtin.ensure_demo(tiny_embedder)
    env = {"EMBEDLAB_MODEL": str(tiny_model_dir)}
    with loadtest.streamlit_server(data, env) as (url, proc):
        figures = asyncio.run(loadtest.memory_rounds(url, proc.pid, 5, 180))
    print(figures)
    assert figures["errors"] == [] and figures["outbound_blocked"] == 0
    assert len(figures["server_rss_mb"]) == 5 and all(figures["server_rss_mb"])
    assert figures["growth_after_round_2"] <= 0.10, figures["server_rss_mb"]
