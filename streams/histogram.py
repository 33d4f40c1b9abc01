"""Latency histograms that fit in a Faust table value and merge by addition.

Fixed log-scale buckets (four per doubling, from 1 ms up to ~13 days) keep a window's
latencies in a few dozen integers however many records it saw, and any two histograms
merge by adding counts. A percentile is read off the cumulative counts: it lands in the
right bucket, so it is within one bucket's width (~19%) of the exact value; the exact
minimum and maximum clamp it, so a window of equal latencies reads exactly.

The value is a plain JSON dict (what the table's changelog stores):
``{"n": count, "sum": ms, "min": ms, "max": ms, "b": {"<bucket>": count}}``.
"""

from __future__ import annotations

import math
from typing import Any

from schemas.streams import LatencySummary

PER_DOUBLING = 4
GROWTH = 2 ** (1 / PER_DOUBLING)
MAX_BUCKET = 120  # 2**(119/4) ms is about 13 days: anything slower shares the last bucket

Histogram = dict[str, Any]


def empty() -> Histogram:
    return {"n": 0, "sum": 0.0, "min": None, "max": None, "b": {}}


def bucket_of(ms: float) -> int:
    """Bucket 0 holds [0, 1) ms; bucket i >= 1 holds [GROWTH**(i-1), GROWTH**i) ms."""
    if ms < 1:
        return 0
    # The epsilon keeps exact bucket bounds (1, 2, 4 ms...) from rounding down a bucket.
    return min(MAX_BUCKET, 1 + math.floor(math.log(ms, GROWTH) + 1e-9))


def bucket_bounds(i: int) -> tuple[float, float]:
    if i == 0:
        return 0.0, 1.0
    return GROWTH ** (i - 1), GROWTH**i


def of(*samples_ms: float) -> Histogram:
    h = empty()
    for ms in samples_ms:
        h = merge(h, _single(ms))
    return h


def _single(ms: float) -> Histogram:
    ms = max(0.0, float(ms))  # clocks of two producers can disagree by a hair
    return {"n": 1, "sum": ms, "min": ms, "max": ms, "b": {str(bucket_of(ms)): 1}}


def merge(a: Histogram, b: Histogram) -> Histogram:
    buckets = dict(a["b"])
    for k, v in b["b"].items():
        buckets[k] = buckets.get(k, 0) + v
    return {
        "n": a["n"] + b["n"],
        "sum": a["sum"] + b["sum"],
        "min": _pick(min, a["min"], b["min"]),
        "max": _pick(max, a["max"], b["max"]),
        "b": buckets,
    }


def _pick(fn: Any, x: float | None, y: float | None) -> float | None:
    if x is None:
        return y
    if y is None:
        return x
    return float(fn(x, y))


def percentile(h: Histogram, q: float) -> float | None:
    """The q-quantile (0 < q <= 1) by nearest rank: the bucket holding that rank,
    reported as its geometric middle, clamped to the exact min and max."""
    n = h["n"]
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for i in sorted(int(k) for k in h["b"]):
        seen += h["b"][str(i)]
        if seen >= rank:
            lo, hi = bucket_bounds(i)
            middle = hi / 2 if i == 0 else math.sqrt(lo * hi)
            return float(min(max(middle, h["min"]), h["max"]))
    return float(h["max"])


def summary(h: Histogram) -> LatencySummary:
    n = h["n"]
    if n == 0:
        return LatencySummary(count=0)
    return LatencySummary(
        count=n,
        min=_round(h["min"]),
        p50=_round(percentile(h, 0.50)),
        p90=_round(percentile(h, 0.90)),
        p99=_round(percentile(h, 0.99)),
        max=_round(h["max"]),
        mean=_round(h["sum"] / n),
    )


def _round(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)
