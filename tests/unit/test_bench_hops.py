"""bench/hops.py splits each record's latency at the key gate's copy."""

from __future__ import annotations

from bench.hops import hops
from switchyard.core.envelope import ResultRecord, RoutedBatch, RoutedRecord, SourceRecord
from switchyard.core.results import Record


def record(topic: str, value: bytes, timestamp_ms: int) -> Record:
    return Record(topic=topic, partition=0, offset=0, key=b"k", value=value, headers=[], timestamp_ms=timestamp_ms)


def test_each_record_is_timed_from_input_to_its_copy_and_from_its_copy_to_its_result() -> None:
    sources = [SourceRecord(topic="bench-events", partition=0, offset=n) for n in range(3)]
    routed = [
        record("bench-events-routed", RoutedRecord.wrap(sources[0], b"{}", 1_000).to_json(), 1_010),
        record("bench-events-routed", RoutedBatch(records=[RoutedRecord.wrap(sources[1], b"{}", 1_002),
                                                           RoutedRecord.wrap(sources[2], b"{}", 1_004)]).to_json(),
               1_030),
    ]
    results = [record("bench-events-results", ResultRecord(source=s, target="BenchCounter/add", ok=True).to_json(),
                      at) for s, at in zip(sources, (1_050, 1_070, 1_090), strict=True)]
    found = hops(routed, results)
    assert found["input -> routed (key gate)"]["max"] == 28  # 1030 - 1002
    assert found["input -> routed (key gate)"]["p50"] == 26  # 10, 26, 28
    assert found["routed -> result (Restate)"]["p50"] == 40  # 40, 40, 60
    assert found["routed -> result (Restate)"]["max"] == 60
