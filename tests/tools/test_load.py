"""The load test's arithmetic: the capacity bound and the p95 ratio (no browser needed)."""

from __future__ import annotations

import pytest

from measure import load as loadtest


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


def test_the_slowest_searches_are_set_against_what_ran_beside_them() -> None:
    from measure.timeline import Span, Timeline, tail_report

    timeline = Timeline()
    # 19 quick searches alone, one slow one while another session ingested
    timeline.spans = [Span("search", n % 4, 10.0 * n, 10.0 * n + 0.3, 80.0) for n in range(19)]
    timeline.spans.append(Span("search", 1, 200.0, 203.0, 700.0))
    timeline.spans.append(Span("ingest", -1, 199.0, 202.0))
    timeline.spans.append(Span("search", 1, 201.0, 201.2, 90.0))  # same session: not counted
    timeline.load = [(t / 2, 0.9 if 199 <= t / 2 <= 203 else 0.2, 0.5) for t in range(420)]
    report = tail_report(timeline, share=0.05)
    slow, rest = report["slowest"], report["rest"]
    assert slow["count"] == 1 and rest["count"] == 20
    assert slow["mean_ms"] == 3000.0 and slow["mean_server_ms"] == 700.0
    assert slow["overlapping"]["ingest"] == 1.0 and slow["overlapping"]["search"] == 0.0
    assert slow["machine_busy"] > 0.8 > 0.3 > rest["machine_busy"]
    assert report["slow_steps"][0]["at_s"] == 200.0 and report["slow_steps"][0]["session"] == 1
    assert tail_report(Timeline()) == {}


def test_the_timeline_file_lists_steps_from_the_phase_start() -> None:
    from measure.timeline import Span, Timeline

    timeline = Timeline([Span("open", 2, 50.0, 51.5), Span("search", 2, 52.0, 52.4, 70.0)])
    timeline.load = [(50.5, 0.4, None)]
    written = loadtest.timeline_json(timeline)
    assert written["steps"][0] == {
        "kind": "open",
        "session": 2,
        "start_s": 0.0,
        "ms": 1500.0,
        "server_ms": None,
    }
    assert written["steps"][1]["start_s"] == 2.0 and written["steps"][1]["server_ms"] == 70.0
    assert written["load"] == [{"t_s": 0.5, "machine": 0.4, "server": None}]


def test_explore_visits_keep_their_number_but_not_a_common_beat() -> None:
    plans = [loadtest.explore_after(n, 12, 4) for n in range(1, 9)]
    assert all(len(p) == 2 and p <= set(range(11)) for p in plans)  # never after the last
    assert len({frozenset(p) for p in plans}) > 1  # sessions do not all visit at once
    assert loadtest.explore_after(3, 12, 4) == plans[2]  # seeded: a rerun repeats it
    assert loadtest.explore_after(1, 3, 2) in ({0}, {1})
    assert loadtest.explore_after(99, 2, 1) == {0}  # the warm-up visits after its first
    assert loadtest.explore_after(1, 12, 0) == set()
