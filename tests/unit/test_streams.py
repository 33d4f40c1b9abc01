"""The stream workers' plain decisions: histograms and percentiles, window bucketing,
the velocity alert, the latency join, lag and invocation classification."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
from faust.windows import TumblingWindow

from streams import histogram, windows
from streams.latency import LatencyJoin
from streams.pipeline import Offsets, classify, count_issues, gaps, lag
from streams.status import COLUMNS, render
from streams.velocity import Limits, fresh, step
from streams.web import BadRequest, window_param


def exact_percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@pytest.mark.parametrize("ms", [0, 0.5, 1, 1.5, 2, 3, 10, 99.9, 100, 1234, 60_000, 3_600_000])
def test_a_sample_falls_in_the_bucket_whose_bounds_hold_it(ms: float) -> None:
    lo, hi = histogram.bucket_bounds(histogram.bucket_of(ms))
    assert lo <= ms < hi


def test_buckets_are_log_scale_and_capped() -> None:
    lo, hi = histogram.bucket_bounds(40)
    assert hi / lo == pytest.approx(histogram.GROWTH)
    assert histogram.bucket_of(1e15) == histogram.MAX_BUCKET


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_are_within_one_bucket_of_the_exact_ones(seed: int) -> None:
    rng = random.Random(seed)
    samples = [rng.lognormvariate(5, 1.2) for _ in range(2000)]
    h = histogram.of(*samples)
    for q in (0.5, 0.9, 0.99):
        exact = exact_percentile(samples, q)
        got = histogram.percentile(h, q)
        assert got is not None
        assert exact / histogram.GROWTH <= got <= exact * histogram.GROWTH, (q, exact, got)
    s = histogram.summary(h)
    assert s.count == 2000
    assert s.min == round(min(samples), 1)
    assert s.max == round(max(samples), 1)
    assert s.mean == pytest.approx(sum(samples) / 2000, abs=0.1)


def test_equal_latencies_read_exactly_and_empty_reads_none() -> None:
    assert histogram.summary(histogram.of(250, 250, 250)).p99 == 250
    assert histogram.percentile(histogram.empty(), 0.5) is None
    assert histogram.summary(histogram.empty()).count == 0


def test_histograms_merge_by_addition() -> None:
    a, b = histogram.of(1, 5, 900), histogram.of(3, 70_000)
    merged = histogram.merge(a, b)
    assert merged == histogram.of(1, 5, 900, 3, 70_000)
    assert merged["n"] == 5
    assert histogram.merge(histogram.empty(), a) == a


def test_negative_latencies_count_as_zero() -> None:
    assert histogram.of(-3)["min"] == 0


@pytest.mark.parametrize("size", [2, 5, 10, 60])
def test_window_start_is_fausts_tumbling_window(size: int) -> None:
    faust_window = TumblingWindow(size)
    for ts in (0.0, 1.5, size - 0.01, size, 1_795_617_536.25, 1_795_617_539.999):
        start = windows.window_start(ts, size)
        assert faust_window.current(ts) == windows.faust_range(start, size)
        assert start <= ts < start + size


def test_recent_windows_are_newest_first_and_contiguous() -> None:
    assert windows.recent_starts(125.0, 10, 3) == [120, 110, 100]


def test_window_sizes_must_be_whole_seconds() -> None:
    assert windows.whole_seconds([timedelta(seconds=10), timedelta(minutes=1)], "f") == [10, 60]
    with pytest.raises(ValueError, match=r"streams.windows: .* whole seconds"):
        windows.whole_seconds([timedelta(milliseconds=1500)], "streams.windows")
    with pytest.raises(ValueError, match="at least one"):
        windows.whole_seconds([], "streams.windows")


def test_window_figures_add_up() -> None:
    stats = windows.empty()
    for delta in (windows.received(), windows.received(), windows.outcome(True), windows.outcome(False),
                  windows.dead_lettered(), windows.latency(120), windows.latency(80)):
        stats = windows.add(stats, delta)
    view = windows.counts(100, 10, stats, now=115)
    assert (view.recordsIn, view.resultsOk, view.resultsFailed, view.dlq) == (2, 1, 1, 1)
    assert view.closed
    assert (view.start, view.end) == (100_000, 110_000)
    assert view.latencyMs.count == 2
    assert view.latencyMs.min == 80
    assert not windows.counts(100, 10, stats, now=109.9).closed


LIMITS = Limits(max_count=3, max_sum=1000)


def test_one_alert_per_window_at_the_deposit_that_crosses() -> None:
    state, alerts = fresh(), []
    for _ in range(6):
        state, over = step(state, 10, LIMITS)
        alerts.append(over)
    assert alerts == [[], [], [], ["count"], [], []]
    assert state == {"count": 6, "sum": 60, "alerted": True}


def test_the_sum_limit_alerts_too_and_at_the_limit_is_not_over() -> None:
    state, over = step(fresh(), 1000, LIMITS)
    assert over == []
    state, over = step(state, 1, LIMITS)
    assert over == ["sum"]
    _, over = step(fresh(), 5000, Limits(max_count=0, max_sum=100))
    assert over == ["count", "sum"]


def test_latency_pairs_in_either_order() -> None:
    join = LatencyJoin()
    assert join.input_seen(("t", 0, 1), 1000) is None
    pair = join.result_seen(("t", 0, 1), 1250)
    assert pair is not None
    assert pair.latency_ms == 250
    assert join.result_seen(("t", 0, 2), 2300) is None
    pair = join.input_seen(("t", 0, 2), 2000)
    assert pair is not None
    assert (pair.latency_ms, pair.result_ms) == (300, 2300)
    assert join.pending() == (0, 0)


def test_latency_join_forgets_dead_letters_and_stays_bounded() -> None:
    join = LatencyJoin(capacity=2)
    join.input_seen(("t", 0, 1), 1)
    join.forget(("t", 0, 1))
    assert join.result_seen(("t", 0, 1), 5) is None
    for offset in range(10):
        join.input_seen(("t", 1, offset), offset)
    assert join.pending()[0] == 2
    assert join.result_seen(("t", 1, 0), 50) is None  # evicted: the oldest went first
    assert join.result_seen(("t", 1, 9), 50) is not None


def test_lag_counts_uncommitted_records_per_partition() -> None:
    offsets = Offsets(low={("t", 0): 0, ("t", 1): 5}, high={("t", 0): 10, ("t", 1): 9, ("u", 0): 3})
    assert lag(offsets, "t", {0: 10, 1: 7}) == 2
    assert lag(offsets, "t", {0: 4}) == 6 + 4  # partition 1 uncommitted: from its low watermark
    assert offsets.size("t") == 14
    assert offsets.partitions("u") == [0]
    assert gaps(offsets, "t", {0: 10, 1: 7}) == {1: (7, 9)}  # partition 0 is done: no gap


def test_invocations_retrying_or_paused() -> None:
    rows = [
        {"id": "a", "target_service_name": "S", "target_handler_name": "h", "status": "backing-off", "retry_count": 3},
        {"id": "b", "target_service_name": "S", "target_handler_name": "h", "status": "paused", "retry_count": 20,
         "last_failure": "boom"},
        {"id": "c", "target_service_name": "S", "target_handler_name": "h", "status": "running", "retry_count": 1},
        {"id": "d", "target_service_name": "T", "target_handler_name": "h", "status": "running", "retry_count": 2},
    ]
    issues = classify(rows)
    assert [i.id for i in issues] == ["a", "b", "d"]
    assert count_issues(issues, "S/h") == (1, 1)
    assert count_issues(issues, "T/h") == (1, 0)


def test_window_parameter_names_itself() -> None:
    assert window_param({}, [2, 10]) == 10
    assert window_param({"window": "2"}, [2, 10]) == 2
    with pytest.raises(BadRequest, match="window: expected one of 2, 10"):
        window_param({"window": "3"}, [2, 10])


def pipeline_view(**changes: object) -> dict[str, object]:
    window = {"start": 0, "end": 10_000, "closed": True, "recordsIn": 9, "resultsOk": 6, "resultsFailed": 2,
              "dlq": 1, "latencyMs": {"count": 8, "p50": 12.5, "p90": 40.1, "p99": 40.1}}
    rows = [
        {"topic": "package-location-updates", "target": "PackageTracker/updateLocation",
         "subscriptions": ["sub_1"], "consumerGroups": ["sub_1"], "lag": 3, "dlqSize": 4, "retrying": 1,
         "paused": 0, "window": window, "ratePerSecond": 0.9},
        {"topic": "task-queue", "target": "AsyncTaskWorker/runTask", "subscriptions": [], "consumerGroups": [],
         "lag": None, "dlqSize": None, "retrying": 0, "paused": 0, "window": None, "ratePerSecond": None},
    ]
    view = {"generatedAt": 1_700_000_000_000, "windowSeconds": 10, "rows": rows, "invocations": [],
            "alerts": [], "problems": []}
    return {**view, **changes}


def test_the_pipeline_table_shows_the_page_figures_per_topic() -> None:
    lines = render(pipeline_view()).splitlines()
    assert lines[0].endswith("window figures: the last closed 10 s window")
    assert lines[2].split() == [c for col in COLUMNS for c in col.split()]
    assert lines[3].split() == ["package-location-updates", "sub_1", "3", "0.9", "9", "6", "2", "1",
                                "12.5", "40.1", "40.1", "4", "1", "0"]
    assert lines[4].split() == ["task-queue", "missing", *["-"] * 10, "0", "0"]


def test_the_pipeline_table_lists_stuck_invocations_alerts_and_problems() -> None:
    view = pipeline_view(
        invocations=[{"id": "inv_1", "target": "S/h", "key": "k", "status": "paused", "retryCount": 9,
                      "lastFailure": "boom"}],
        alerts=[{"userId": "u1", "windowStart": 0, "depositCount": 6, "depositSum": 60, "breached": ["count"]}],
        problems=["Restate: down"],
    )
    text = render(view)
    assert "  inv_1  S/h  key=k  paused  attempts=9  boom" in text
    assert "  u1: 6 deposits, sum 60 (over count)" in text
    assert text.endswith("problem: Restate: down")
