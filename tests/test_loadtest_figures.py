"""The load test's arithmetic: the capacity bound and the p95 ratio (no browser needed)."""

from __future__ import annotations

import pytest

from core import loadtest


def test_capacity_is_the_utilisation_law(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadtest.os, "cpu_count", lambda: 2)
    # 10 searches in 10 s alone, the machine busy 10 CPU-s of which the server 2
    figures = loadtest.capacity(10, (100.0, 50.0), (110.0, 52.0), 10.0, sessions=8)
    assert figures["cycle_s"] == 1.0 and figures["demand_cpu_s"] == 1.0
    assert figures["server_cpu_s"] == 0.2
    assert figures["min_stretch"] == 4.0  # 8 cycles of 1 CPU-s on 2 cores: 4 s each
    assert figures["min_stretch_server_only"] == 1.0  # 8 x 0.2 / 2 = 0.8 s < 1 s: no stretch


def test_capacity_without_a_server_process_or_searches() -> None:
    figures = loadtest.capacity(4, (0.0, None), (8.0, None), 4.0, sessions=8)
    assert figures["server_cpu_s"] is None and figures["min_stretch_server_only"] is None
    assert figures["min_stretch"] >= 1.0
    assert loadtest.capacity(0, (0.0, None), (0.0, None), 0.0, sessions=8) == {}


def test_p95_ratio_of_two_summaries() -> None:
    one, many = loadtest.Phase(), loadtest.Phase()
    one.latencies_ms = [100.0] * 20
    many.latencies_ms = [300.0] * 19 + [1000.0]
    ratio = loadtest.p95_ratio(one.summary(), many.summary())
    assert ratio == pytest.approx(loadtest.percentile(many.latencies_ms, 95) / 100.0, abs=0.01)
    assert loadtest.p95_ratio(one.summary(), loadtest.Phase().summary()) is None
