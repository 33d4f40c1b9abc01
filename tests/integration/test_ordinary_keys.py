"""Keys a real producer fleet brings, and the holes they found (issue 22): every UTF-8 key
runs like any other, a binary key on a plain-service topic is dead-lettered (not merged
with another), a workflow past its retry budget gets an outcome, an input topic grown
while running keeps flowing, and a record too large to route is dead-lettered."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx
from confluent_kafka import Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
)

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.gate import MAX_RECORD_BYTES
from switchyard.core.kafka import producer_config
from switchyard.core.poll import poll_until
from switchyard.core.results import Record, TopicReader
from tests.examples import example
from tests.integration.kafka_driver import group_behind, group_caught_up, source_of

BENCH = topic("bench-events")
DEPOSITS = topic("wallet-deposits")
TRIPS = topic("trip-bookings")
RESERVATIONS = topic("product-reservations")
TASKS = topic("task-queue")

Sent = tuple[str, int, int]


class ForeignProducer:
    """Any key bytes as given, partitioned as Kafka's Java clients do (murmur2)."""

    def __init__(self, client: dict[str, str], **extra: str) -> None:
        self._producer = Producer(producer_config(client, **extra))
        self.sent: list[tuple[Sent, bytes | None, bytes | None]] = []
        self._lock = threading.Lock()

    def send(self, name: str, key: bytes | None, value: bytes | None) -> None:
        def report(err: Any, msg: Any) -> None:
            assert err is None, err
            with self._lock:
                self.sent.append(((msg.topic(), msg.partition(), msg.offset()), key, value))

        self._producer.produce(name, key=key, value=value, on_delivery=report)
        self._producer.poll(0)

    def flush(self) -> None:
        assert self._producer.flush(60) == 0


def one_outcome_each(reader: TopicReader, sent: list[Sent], timeout: float) -> dict[Sent, Record]:
    """Each of ``sent``'s one outcome (a second one, within a moment more, fails)."""
    wanted = set(sent)
    got = reader.collect(lambda rs: wanted <= {source_of(r) for r in rs}, timeout)
    got += reader.collect(lambda rs: False, 1.0)
    by_source: dict[Sent, list[Record]] = {s: [] for s in sent}
    for r in got:
        if source_of(r) in by_source:
            by_source[source_of(r)].append(r)
    missing = [s for s, rs in by_source.items() if not rs]
    assert not missing, f"no outcome within {timeout}s for {len(missing)} of {len(sent)}: {missing[:5]}"
    twice = {s: len(rs) for s, rs in by_source.items() if len(rs) > 1}
    assert not twice, f"more than one outcome: {twice}"
    return {s: rs[0] for s, rs in by_source.items()}


ORDINARY = ["Zürich-Hauptbahnhof", "naïve café", "what?", "a/b/c", "~tilde", "🚚📦", "ÿþ", "x\x00y", "%2F",
            "+plus", "tab\there", " ", "é" * 3000]


def test_ordinary_utf8_keys_run_like_any_other(settings: Settings, ingress: httpx.Client, unique: str) -> None:
    """Restate writes `kafka.key` as URL-safe base64; a standard decoder failed on every key
    whose bytes hit `-` or `_` (accents, `?`, `~`, emoji): no outcome, and the key blocked."""
    client = settings.kafka.client_config()
    producer = ForeignProducer(client)
    keys = [f"{unique}-{k}" for k in ORDINARY]
    with TopicReader(client, [BENCH.results, BENCH.dlq]) as reader:
        for key in keys:
            for amount in (1, 2):
                producer.send(BENCH.name, key.encode(), json.dumps({"amount": amount}).encode())
        producer.flush()
        got = one_outcome_each(reader, [s for s, _, _ in producer.sent], timeout=90)
    by_key: dict[str, list[Record]] = {}
    for sent, raw_key, _ in sorted(producer.sent, key=lambda item: item[0]):
        outcome = got[sent]
        assert outcome.topic == BENCH.results, (raw_key, outcome.header("error.reason"))
        assert outcome.key == raw_key
        by_key.setdefault(outcome.key_text, []).append(outcome)
    for key in keys:
        assert [r.json()["result"] for r in by_key[key]] == [{"total": 1, "count": 1}, {"total": 3, "count": 2}]
    # The state is the key's own, and a query finds it by the key, percent-encoded.
    answer = ingress.post(f"/BenchCounter/{quote(keys[0], safe='')}/get")
    assert answer.json() == {"total": 3, "count": 2}, answer.text


def test_binary_keys_on_a_plain_service_topic_are_dead_lettered_not_merged(
    settings: Settings, ingress: httpx.Client, unique: str
) -> None:
    """Two binary keys once decoded to one idempotency key (`errors="replace"`): one ran,
    the other got its outcome, neither was reported, and the service retried forever."""
    client = settings.kafka.client_config()
    wallet = f"{unique}-wallet"
    deposit = {**example(DEPOSITS).value, "walletId": wallet, "amount": 500}
    producer = ForeignProducer(client)
    with TopicReader(client, [DEPOSITS.results, DEPOSITS.dlq]) as reader:
        producer.send(DEPOSITS.name, b"\x80\x81" + unique.encode(), json.dumps(deposit).encode())
        producer.send(DEPOSITS.name, b"\x80\x82" + unique.encode(), json.dumps(deposit).encode())
        producer.send(DEPOSITS.name, f"{unique}-good".encode(), json.dumps({**deposit, "amount": 7}).encode())
        producer.flush()
        got = one_outcome_each(reader, [s for s, _, _ in producer.sent], timeout=90)
    for sent, raw_key, value in producer.sent:
        outcome = got[sent]
        if raw_key == f"{unique}-good".encode():
            assert outcome.topic == DEPOSITS.results
            continue
        assert outcome.topic == DEPOSITS.dlq
        assert (outcome.key, outcome.value) == (raw_key, value)  # the original bytes
        assert outcome.header("error.class") == "InvalidKey"
        assert "idempotency key" in (outcome.header("error.reason") or "")
    balance = ingress.post(f"/WalletService/{wallet}/getBalance").json()
    assert balance in (0, 7, {"balance": 0}, {"balance": 7}), balance  # never the binary keys' 500s


def test_a_workflow_past_its_retry_budget_is_dead_lettered(settings: Settings) -> None:
    """`poison-trip` fails in handler code on every attempt (retries.poison_keys): the
    workflow's front let RetriesExhausted escape, and the record got no outcome."""
    client = settings.kafka.client_config()
    producer = ForeignProducer(client)
    value = json.dumps(example(TRIPS).value).encode()
    with TopicReader(client, [TRIPS.results, TRIPS.dlq]) as reader:
        producer.send(TRIPS.name, b"poison-trip", value)
        producer.flush()
        [(sent, _, _)] = producer.sent
        outcome = one_outcome_each(reader, [sent], timeout=90)[sent]
    assert outcome.topic == TRIPS.dlq
    assert outcome.header("error.class") == "RetriesExhausted"
    assert (outcome.key, outcome.value) == (b"poison-trip", value)


def test_input_topics_grown_under_load_keep_flowing(settings: Settings, unique: str) -> None:
    """Growing a gated topic once halted it (its routed twin kept the old partition count);
    Restate's own consumers find new partitions within their metadata refresh."""
    client = settings.kafka.client_config()
    admin = AdminClient({**client, "log_level": "0"})
    # The foreign producer finds the new partitions within 2 s; the system's own clients
    # within their refresh (10 s), the records on them waiting in Kafka until then.
    producer = ForeignProducer(client, **{"topic.metadata.refresh.interval.ms": "2000"})
    stop = threading.Event()

    def load() -> None:
        n = 0
        while not stop.is_set() and n < 2000:
            producer.send(RESERVATIONS.name, f"{unique}-p{n % 40}".encode(),
                          json.dumps({"reservationId": f"r{n}"}).encode())
            producer.send(TASKS.name, f"{unique}-t{n}".encode(),
                          json.dumps({"taskName": "grow", "payload": str(n)}).encode())
            n += 1
            time.sleep(0.02)

    with TopicReader(client, [RESERVATIONS.results, RESERVATIONS.dlq, TASKS.results, TASKS.dlq]) as reader:
        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        time.sleep(2)
        now = admin.list_topics(timeout=10).topics
        grown = {t.name: len(now[t.name].partitions) + 2 for t in (RESERVATIONS, TASKS)}
        for future in admin.create_partitions([NewPartitions(n, c) for n, c in grown.items()]).values():
            future.result(timeout=30)
        time.sleep(8)  # past the producer's metadata refresh: records on the new partitions
        stop.set()
        loader.join()
        producer.flush()
        sent = [s for s, _, _ in producer.sent]
        got = one_outcome_each(reader, sent, timeout=120)
    new_partitions = {(t, p) for t, p, _ in sent if p >= grown[t] - 2}
    assert new_partitions, "no record landed on a new partition"
    assert all(r.topic.endswith("-results") for r in got.values()), \
        [(s, r.header("error.reason")) for s, r in got.items() if not r.topic.endswith("-results")][:3]
    topics = admin.list_topics(timeout=10).topics
    assert len(topics[RESERVATIONS.routed].partitions) == grown[RESERVATIONS.name]
    # The stream worker (Faust's own consumer) reads the new partitions too, within the same
    # refresh: its windows would otherwise miss their records for aiokafka's 5 minutes.
    try:
        poll_until(lambda: all(group_caught_up(client, settings.streams.app_id, t) for t in grown), 60, 1.0,
                   "the stream worker to read the grown topics' new partitions")
    except TimeoutError as exc:  # which partitions, and how far behind
        behind = {t: group_behind(client, settings.streams.app_id, t) for t in grown}
        raise AssertionError(f"{exc}; behind (committed, end): {behind}") from None


def test_a_record_too_large_to_route_is_dead_lettered_and_its_key_flows_on(settings: Settings, unique: str) -> None:
    """An input topic may take records larger than a routed copy (base64, 4/3 the size) can
    be: such a record once failed every gate batch, for ever."""
    client = settings.kafka.client_config()
    admin = AdminClient({**client, "log_level": "0"})
    limit = ConfigEntry("max.message.bytes", str(3 * MAX_RECORD_BYTES),
                        incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("topic", BENCH.name, incremental_configs=[limit])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    key = f"{unique}-big".encode()
    big = json.dumps({"amount": 1, "padding": "x" * (MAX_RECORD_BYTES * 7 // 8)}).encode()
    producer = ForeignProducer(client, **{"message.max.bytes": str(3 * MAX_RECORD_BYTES)})
    with TopicReader(client, [BENCH.results, BENCH.dlq]) as reader:
        producer.send(BENCH.name, key, big)
        producer.send(BENCH.name, key, b'{"amount": 5}')
        producer.flush()
        got = one_outcome_each(reader, [s for s, _, _ in producer.sent], timeout=90)
    too_large, after = (got[s] for s in sorted(got))  # one key, one partition: offset order
    assert too_large.topic == BENCH.dlq
    assert too_large.header("error.class") == "RecordTooLarge"
    assert too_large.value == big
    assert after.topic == BENCH.results
    assert after.json()["result"] == {"total": 5, "count": 1}


