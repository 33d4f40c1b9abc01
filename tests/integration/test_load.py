"""The load generator against the real stack: every record gets a result, latencies are real."""

from __future__ import annotations

import httpx
import pytest
from confluent_kafka import Producer

from handlers.settings import ExampleStackSettings as Settings
from switchyard.core.kafka import IdempotenceWatch, producer_config, producer_with_id
from switchyard.ops import load
from switchyard.ops.load import LoadSpec, generate_load


def test_every_record_gets_a_result_with_a_positive_latency(settings: Settings, unique: str) -> None:
    spec = LoadSpec("bench-events", count=300, rate=600, keys=20, skew="hot", payload_size=64,
                    key_prefix=f"{unique}-", drain_timeout=20)
    report = generate_load(settings.kafka.client_config(), spec)
    assert report.errors == []
    assert report.produced == 300
    assert report.results == 300, f"{report.missing} record(s) without a result"
    assert all(ms >= 0 for ms in report.latencies_ms)
    assert max(report.latencies_ms) > 0
    assert sum(report.summary()["per_second"]) == 300


def test_counter_adds_every_record_of_its_key(settings: Settings, ingress: httpx.Client, unique: str) -> None:
    spec = LoadSpec("bench-events", count=50, keys=1, key_prefix=f"{unique}-", drain_timeout=20)
    report = generate_load(settings.kafka.client_config(), spec)
    assert report.results == 50
    total = ingress.post(f"/BenchCounter/{unique}-0/get").json()
    assert total == {"total": 50, "count": 50}


def test_three_step_workflow_over_http(ingress: httpx.Client, unique: str) -> None:
    answer = ingress.post(f"/BenchWorkflow/{unique}/run", json={"value": 1})
    assert answer.status_code == 200
    # each step adds the length of its name: validate (8) + reserve (7) + confirm (7)
    assert answer.json() == {"steps": ["validate", "reserve", "confirm"], "value": 23}


def test_the_load_generator_starts_its_clock_with_a_producer_that_has_its_id(
        settings: Settings, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh idempotent producer gets its id on a timer (about 0.5 s after start-up), and
    the records produced before that wait for it: the load generator waits first."""
    client = settings.kafka.client_config()
    for _ in range(3):  # the timer fires late in most starts, early in some
        watch = IdempotenceWatch()
        producer = producer_with_id(producer_config(client), watch=watch)
        assert watch.state == "Assigned"
        producer.flush(1)
    handed: list[str | None] = []

    def watched(config: dict[str, str], timeout: float = 10.0, watch: IdempotenceWatch | None = None) -> Producer:
        watch = watch or IdempotenceWatch()
        producer = producer_with_id(config, timeout, watch)
        handed.append(watch.state)
        return producer

    monkeypatch.setattr(load, "producer_with_id", watched)
    report = generate_load(client, LoadSpec("bench-events", count=5, keys=5, key_prefix=f"{unique}-",
                                            drain_timeout=20))
    assert handed == ["Assigned"]
    assert report.results == 5
