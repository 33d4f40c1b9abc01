"""Tumbling windows and the per-topic figures kept in each (plain functions).

A window's figures are a JSON dict that the table's changelog stores and that merges by
addition: ``{"in", "ok", "failed", "dlq", "lat": <histogram>}``. Each record adds a small
delta to the window its own timestamp falls in: an input record to its input window, a
result or dead letter to the window it was written in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from schemas.streams import WindowCounts
from streams import histogram

Stats = dict[str, Any]
COUNTERS = ("in", "ok", "failed", "dlq")


def whole_seconds(sizes: Iterable[timedelta], field: str) -> list[int]:
    """Window sizes in whole seconds (Faust's tumbling windows step in whole seconds)."""
    out = []
    for size in sizes:
        seconds = size.total_seconds()
        if seconds < 1 or seconds != int(seconds):
            raise ValueError(f"{field}: window sizes must be whole seconds >= 1, got {seconds:g}")
        out.append(int(seconds))
    if not out:
        raise ValueError(f"{field}: at least one window size is needed")
    return out


def window_start(ts: float, size: int) -> int:
    """The start (seconds) of the tumbling window of ``size`` seconds holding ``ts``;
    the same window Faust's TumblingWindow(size) gives."""
    return int(math.floor(ts / size) * size)


def faust_range(start: int, size: int) -> tuple[float, float]:
    """Faust's key for a window: (start, start + size - 0.1)."""
    return float(start), start + size - 0.1


def recent_starts(now: float, size: int, count: int) -> list[int]:
    """The starts of the window holding ``now`` and the ``count - 1`` before it, newest first."""
    current = window_start(now, size)
    return [current - k * size for k in range(count)]


def empty() -> Stats:
    return {"in": 0, "ok": 0, "failed": 0, "dlq": 0, "lat": histogram.empty()}


def add(stats: Stats, delta: Stats) -> Stats:
    """``stats`` plus a (sparse) delta: counters add, histograms merge."""
    out = {name: stats.get(name, 0) + delta.get(name, 0) for name in COUNTERS}
    lat = stats.get("lat") or histogram.empty()
    out["lat"] = histogram.merge(lat, delta["lat"]) if "lat" in delta else lat
    return out


def received() -> Stats:
    return {"in": 1}


def outcome(ok: bool) -> Stats:
    return {"ok": 1} if ok else {"failed": 1}


def dead_lettered() -> Stats:
    return {"dlq": 1}


def latency(ms: float) -> Stats:
    return {"lat": histogram.of(ms)}


def counts(start: int, size: int, stats: Stats, now: float) -> WindowCounts:
    return WindowCounts(
        start=start * 1000,
        end=(start + size) * 1000,
        closed=start + size <= now,
        recordsIn=stats.get("in", 0),
        resultsOk=stats.get("ok", 0),
        resultsFailed=stats.get("failed", 0),
        dlq=stats.get("dlq", 0),
        latencyMs=histogram.summary(stats.get("lat") or histogram.empty()),
    )
