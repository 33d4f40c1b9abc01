"""The service's `/metrics` against the real stack: each Kafka record is counted once in
and once by its outcome (a retried record's attempts are not counted again as records),
its retries and its handler time are counted, and a scraper needs no Restate signature.
restate-server's own metrics are on its node port (docs/metrics.md)."""

from __future__ import annotations

import contextlib
import json
import time

import httpx
from confluent_kafka import KafkaError, Message, Producer

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.poll import poll_until
from switchyard.core.results import TopicReader, source_of
from switchyard.ops.service_metrics import TopicRow, metrics_urls, summary
from tests.integration.kafka_driver import KafkaDriver

BENCH = topic("bench-events")  # BenchCounter/add: an object topic, through the key gate
POISON = "poison-pkg"  # conftest: retries.poison_keys, a simulated outage on every attempt
GOOD = 6


def bench_row(settings: Settings) -> TopicRow:
    return {r.topic: r for r in summary(settings)}[BENCH.name]


def rise(before: TopicRow, after: TopicRow) -> dict[str, int]:
    return {name: getattr(after, name) - getattr(before, name)
            for name in ("received", "ok", "failed", "dead_lettered", "retried", "latency_count")}


def settled(settings: Settings, before: TopicRow, expected: dict[str, int]) -> TopicRow:
    """The row once the counters rose by ``expected`` (an outcome reaches Kafka a moment
    before the counter that follows its ack), and a second later: no replay counts a
    record twice."""
    with contextlib.suppress(TimeoutError):  # the assertion below shows what was counted instead
        poll_until(lambda: rise(before, bench_row(settings)) == expected, 10, what="the counters' rise")
    time.sleep(1.0)
    after = bench_row(settings)
    assert rise(before, after) == expected
    return after


def test_each_record_is_counted_once_in_and_once_by_its_outcome(
    kafka: KafkaDriver, settings: Settings, unique: str
) -> None:
    before = bench_row(settings)
    good = [(f"{unique}-{n % 2}", json.dumps({"amount": n})) for n in range(GOOD)]
    # The bad record sits between good ones of its key: the gate may batch them together.
    records = [*good[:3], (f"{unique}-1", "not JSON"), *good[3:], (POISON, '{"amount": 1}')]
    outcomes = kafka.send(BENCH, records)
    assert [o.dead_lettered for o in outcomes] == [False] * 3 + [True] + [False] * (GOOD - 3) + [True]
    assert all(o.ok for o in outcomes if not o.dead_lettered)

    retries = settings.retries.max_attempts - 1  # the last attempt dead-letters the poison record
    expected = {"received": GOOD + 2, "ok": GOOD, "failed": 0, "dead_lettered": 2, "retried": retries,
                "latency_count": GOOD}
    after = settled(settings, before, expected)
    assert after.p50 is not None
    assert after.p99 is not None


def test_a_record_the_key_gate_dead_letters_is_counted_in_and_dead_lettered(
    settings: Settings, unique: str
) -> None:
    """A binary key on an object topic never reaches a handler: the key gate dead-letters
    it, and counts it (switchyard/core/gate.py)."""
    client = settings.kafka.client_config()
    before = bench_row(settings)
    sent: list[tuple[str, int, int]] = []

    def delivered(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        sent.append((msg.topic() or "", msg.partition() or 0, msg.offset() or 0))

    with TopicReader(client, [BENCH.dlq]) as reader:
        producer = Producer({**client, "log_level": "3"})  # a foreign producer: any key bytes
        producer.produce(BENCH.name, key=b"\xff\xfe" + unique.encode(), value=b'{"amount": 1}',
                         on_delivery=delivered)
        assert producer.flush(30) == 0
        got = reader.collect(lambda rs: any(source_of(r) in sent for r in rs), 30)
    [dead] = [r for r in got if source_of(r) in sent]
    assert dead.header("error.class") == "InvalidKey"
    settled(settings, before, {"received": 1, "ok": 0, "failed": 0, "dead_lettered": 1, "retried": 0,
                               "latency_count": 0})


def test_the_endpoint_needs_no_signature_and_restate_server_has_its_own(settings: Settings) -> None:
    url = metrics_urls(settings)[0]
    assert url == f"http://{settings.service.bind}/metrics"
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'switchyard_record_outcomes_total{outcome="ok",topic="bench-events"}' in response.text
    # Restate's own paths still refuse an unsigned caller.
    assert httpx.get(f"http://{settings.service.bind}/discover", timeout=10).status_code != 200

    host, _ = settings.admin_address
    restate = httpx.get(f"http://{host}:{settings.stack.restate_node_port}/metrics", timeout=10)
    assert restate.status_code == 200
    assert "restate_invoker_invocation_tasks_total" in restate.text
    assert "restate_kafka_ingress_requests_total" in restate.text
