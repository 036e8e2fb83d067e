"""What the load test's slowest searches had running beside them.

The load test (``measure.load``) notes when each timed step ran: searches, Explore visits,
page opens and the uploading session's steps, and a sampler notes how busy the machine and
the server were every half second. :func:`tail_report` then compares the slowest searches
with the rest: how many other steps of each kind overlapped them, how busy the machine was
while they ran, and how long the server itself said it took. A tail that comes with uploads
points at ingest; one that comes with a full machine but nothing in particular points at
the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("search", "explore", "open", "upload-open", "ingest")


@dataclass(frozen=True)
class Span:
    """One timed step: its kind, the session that ran it, and when (``time.monotonic``)."""

    kind: str
    who: int
    start: float
    end: float
    server_ms: float | None = None  # searches: embed + search + fetch, as the page reports it

    @property
    def ms(self) -> float:
        """How long the step took."""
        return (self.end - self.start) * 1000


@dataclass
class Timeline:
    """The steps of one phase and the machine's load while they ran."""

    spans: list[Span] = field(default_factory=list)
    # (time, machine busy share of all cores, server's share of all cores) per sample
    load: list[tuple[float, float, float | None]] = field(default_factory=list)

    def add(
        self,
        kind: str,
        who: int,
        start: float,
        server_ms: float | None = None,
        end: float | None = None,
    ) -> None:
        """Note a step that ran from ``start`` to ``end`` (default: now)."""
        end = time.monotonic() if end is None else end
        self.spans.append(Span(kind, who, start, end, server_ms))

    async def sample(self, pid: int | None, stop: asyncio.Event, every_s: float = 0.5) -> None:
        """Note the machine's and the server's CPU use every ``every_s`` until ``stop``."""
        cores = os.cpu_count() or 1
        last = (time.monotonic(), *cpu_seconds(pid))
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
            now = (time.monotonic(), *cpu_seconds(pid))
            wall = now[0] - last[0]
            if wall > 0:
                busy = (now[1] - last[1]) / wall / cores
                server = None if None in (now[2], last[2]) else (now[2] - last[2]) / wall / cores
                self.load.append((now[0], busy, server))
            last = now

    def busy_during(self, start: float, end: float) -> tuple[float | None, float | None]:
        """Mean machine and server shares of the samples that overlap ``[start, end]``."""
        every = np.diff([t for t, _, _ in self.load]).mean() if len(self.load) > 1 else 0.5
        rows = [(b, s) for t, b, s in self.load if t - every < end and t > start]
        if not rows:
            return None, None
        servers = [s for _, s in rows if s is not None]
        return (
            float(np.mean([b for b, _ in rows])),
            float(np.mean(servers)) if servers else None,
        )

    def overlaps(self, span: Span) -> dict[str, int]:
        """How many other sessions' steps of each kind ran during ``span``."""
        counts = dict.fromkeys(KINDS, 0)
        for other in self.spans:
            if other is span or other.who == span.who:
                continue
            if other.start < span.end and other.end > span.start:
                counts[other.kind] = counts.get(other.kind, 0) + 1
        return counts


def cpu_seconds(pid: int | None) -> tuple[float, float | None]:
    """(CPU seconds the whole machine has been busy, those of process ``pid``) so far (Linux).

    Sampled before and after the loaded phase, the two differences say how much of the
    machine's work was the server's and how much the browsers' (and everything else's).
    """
    tick = os.sysconf("SC_CLK_TCK")
    busy = 0.0
    with contextlib.suppress(OSError):
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        values = [int(v) for v in fields]
        busy = (sum(values[:8]) - values[3] - values[4]) / tick  # less idle and iowait
    own = None
    if pid:
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            own = (int(stat[11]) + int(stat[12])) / tick  # utime + stime
    return busy, own


def _describe(timeline: Timeline, spans: list[Span]) -> dict[str, Any]:
    """Means over ``spans``: latency, the server's figure, overlapping steps, CPU use."""
    if not spans:
        return {"count": 0}
    loads = [timeline.busy_during(s.start, s.end) for s in spans]
    overlaps = [timeline.overlaps(s) for s in spans]
    machine = [m for m, _ in loads if m is not None]
    server = [s for _, s in loads if s is not None]
    server_ms = [s.server_ms for s in spans if s.server_ms is not None]
    return {
        "count": len(spans),
        "mean_ms": round(float(np.mean([s.ms for s in spans])), 1),
        "mean_server_ms": round(float(np.mean(server_ms)), 1) if server_ms else None,
        "overlapping": {
            kind: round(float(np.mean([o.get(kind, 0) for o in overlaps])), 2) for kind in KINDS
        },
        "machine_busy": round(float(np.mean(machine)), 2) if machine else None,
        "server_busy": round(float(np.mean(server)), 2) if server else None,
    }


def tail_report(timeline: Timeline, share: float = 0.05, kind: str = "search") -> dict:
    """The slowest ``share`` of the ``kind`` steps against the rest, and each slow one."""
    steps = sorted((s for s in timeline.spans if s.kind == kind), key=lambda s: s.ms)
    if not steps:
        return {}
    cut = max(1, round(len(steps) * share))
    slow, rest = steps[-cut:], steps[:-cut]
    origin = min(s.start for s in timeline.spans)
    return {
        "slowest": _describe(timeline, slow),
        "rest": _describe(timeline, rest),
        "slow_steps": [
            {
                "at_s": round(s.start - origin, 1),
                "session": s.who,
                "ms": round(s.ms),
                "server_ms": s.server_ms,
                "overlapping": {k: v for k, v in timeline.overlaps(s).items() if v},
                "machine_busy": _round(timeline.busy_during(s.start, s.end)[0]),
            }
            for s in reversed(slow)
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
