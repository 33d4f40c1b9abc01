"""Keys a foreign producer writes: binary (Avro ids, hashes) and missing. Restate alone
halts a whole object or workflow subscription on the first non-UTF-8 key and runs keyless
records as the object `""`; through the key gate each such record is dead-lettered with
its original bytes, and every other record, on its key and on others, still runs."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import CATALOGUE, Topic, topic
from switchyard.core.admin import RestateAdmin
from switchyard.core.bootstrap import retire_direct_subscriptions
from switchyard.core.envelope import parse_routed
from switchyard.core.gate import KeyGate, takeover_offsets
from switchyard.core.results import Record, TopicReader
from switchyard.core.settings import GateSettings
from switchyard.stack.stack import Stack
from tests.examples import example
from tests.integration.kafka_driver import group_at_end, source_of

PACKAGES = topic("package-location-updates")
TRIPS = topic("trip-bookings")
BENCH = topic("bench-events")

Sent = tuple[str, int, int]


class RawProducer:
    """A foreign producer: any key bytes, or none, exactly as given."""

    def __init__(self, client: dict[str, str]) -> None:
        self._producer = Producer({**client, "log_level": "3"})
        self.sent: list[tuple[Sent, bytes | None, bytes]] = []

    def send(self, name: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        def report(err: Any, msg: Any) -> None:
            assert err is None, err
            self.sent.append(((msg.topic(), msg.partition(), msg.offset()), key, value))

        if partition is None:
            self._producer.produce(name, key=key, value=value, on_delivery=report)
        else:
            self._producer.produce(name, key=key, value=value, on_delivery=report, partition=partition)

    def flush(self) -> None:
        assert self._producer.flush(30) == 0


def outcomes(reader: TopicReader, sent: list[Sent], timeout: float) -> dict[Sent, list[Record]]:
    """Every outcome record of ``sent``, waiting until each has at least one (then a moment
    more, so a second outcome of the same record would be seen too)."""
    wanted = set(sent)
    got = reader.collect(lambda rs: wanted <= {source_of(r) for r in rs}, timeout)
    got += reader.collect(lambda rs: False, 1.0)
    by_source: dict[Sent, list[Record]] = {s: [] for s in sent}
    for r in got:
        if source_of(r) in by_source:
            by_source[source_of(r)].append(r)
    missing = [s for s, rs in by_source.items() if not rs]
    assert not missing, f"no outcome within {timeout}s for {missing}"
    return by_source


def bad_keys(n: int) -> list[bytes | None]:
    """Keys Restate refuses for an object: invalid UTF-8 of several shapes, and none."""
    shapes: list[bytes | None] = [b"\xff\xfe", b"\x00\x01\xc3\x28", None, b"\x80" * 9]
    return [None if shape is None else shape + bytes([i % 256]) for i in range(n)
            for shape in [shapes[i % len(shapes)]]]


def good_value(t: Topic, i: int) -> bytes:
    if t is PACKAGES:
        return json.dumps({"timestamp": f"{i:04d}", "location": f"stop {i}"}).encode()
    return example(t).encoded()


@pytest.mark.parametrize("t", [PACKAGES, TRIPS], ids=lambda t: t.name)
def test_a_poison_storm_of_bad_keys_is_dead_lettered_and_the_topic_keeps_flowing(
    t: Topic, settings: Settings, ingress: httpx.Client, unique: str
) -> None:
    client = settings.kafka.client_config()
    keys = [f"{unique}-{k}" for k in range(3)]
    if t is PACKAGES:
        for key in keys:
            assert ingress.post(f"/PackageTracker/{key}/registerPackage",
                                json={"finalDestination": "Ghent"}).status_code == 200
    producer = RawProducer(client)
    expected_good: dict[str, list[bytes]] = {k: [] for k in keys}
    storm = bad_keys(120)
    began = time.monotonic()
    with TopicReader(client, [t.results, t.dlq]) as reader:
        for i, bad in enumerate(storm):
            producer.send(t.name, bad, f"poison {i}".encode() if i % 3 else good_value(t, i))
            if i % 8 == 0:  # good records interleaved, on every partition
                good_key = keys[(i // 8) % len(keys)] if t is PACKAGES else f"{unique}-trip-{i}"
                value = good_value(t, i)
                producer.send(t.name, good_key.encode(), value)
                expected_good.setdefault(good_key, []).append(value)
        producer.flush()
        got = outcomes(reader, [s for s, _, _ in producer.sent], timeout=90)
    took = time.monotonic() - began

    for sent, raw_key, value in producer.sent:
        [outcome] = got[sent]  # exactly one outcome per record
        if raw_key is None or not _utf8(raw_key):
            assert outcome.topic == t.dlq, (sent, outcome.value)
            assert (outcome.key, outcome.value) == (raw_key, value)  # the original bytes, replayable
            assert outcome.header("error.class") == ("MissingKey" if raw_key is None else "InvalidKey")
            assert source_of(outcome) == sent
        else:
            assert outcome.topic == t.results, outcome.header("error.reason")
            assert outcome.json()["ok"] is True, outcome.json()
    assert took < 60, f"the storm took {took:.0f}s"
    if t is PACKAGES:  # the good records of each key ran in order, none lost
        for package in keys:
            info = ingress.get(f"/PackageTracker/{package}/getPackageInfo").json()
            wanted = [json.loads(v)["location"] for v in expected_good[package]]
            assert [e["location"] for e in info["locations"]] == wanted


def _utf8(key: bytes) -> bool:
    try:
        key.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.fixture
def direct_subscription(admin: RestateAdmin, settings: Settings, unique: str) -> Iterator[dict[str, Any]]:
    """A subscription reading bench-events itself, as every stack did before the key gate,
    on a group of Restate's naming (`sub_...`) that starts at the topic's current end."""
    group = f"sub_{unique}"
    group_at_end(settings.kafka.client_config(), group, BENCH.name)
    created = admin.create_subscription(f"kafka://my-cluster/{BENCH.name}", BENCH.sink,
                                        {**settings.kafka.subscription_options, "group.id": group})
    yield created
    if any(s["id"] == created["id"] for s in admin.subscriptions()):
        admin.delete_subscription(created["id"])


def committed(client: dict[str, str], group: str, tp: TopicPartition) -> int:
    admin = AdminClient({**client, "log_level": "0"})
    answer = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, [tp])])[group].result(30)
    return int(answer.topic_partitions[0].offset)


def test_records_stuck_behind_a_bad_key_before_the_gate_are_freed_and_applied_once(
    stack: Stack, settings: Settings, admin: RestateAdmin, ingress: httpx.Client, unique: str,
    direct_subscription: dict[str, Any],
) -> None:
    client = settings.kafka.client_config()
    group = direct_subscription["options"]["group.id"]
    tp = TopicPartition(BENCH.name, 0)
    key = f"{unique}-k"
    reader = TopicReader(client, [BENCH.dlq])
    producer = RawProducer(client)
    event = json.dumps({"amount": 1}).encode()
    producer.send(BENCH.name, key.encode(), event, partition=0)
    producer.send(BENCH.name, b"\xff\xfe\xfd", event, partition=0)  # Restate alone stops here
    producer.send(BENCH.name, key.encode(), event, partition=0)
    producer.flush()
    first, stuck_at = producer.sent[0][0][2], producer.sent[1][0][2]

    # The direct subscription halts at the bad key: its consumer fails and restarts from
    # its committed offset, over and over, and never commits past the bad record.
    halted = f"{direct_subscription['id']} topic {BENCH.name} partition 0 offset {stuck_at}"
    log = stack.run_dir / "restate.log"
    deadline = time.monotonic() + 30
    while halted not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the direct subscription did not halt at the bad key"
        time.sleep(0.5)
    time.sleep(2)
    assert committed(client, group, tp) <= stuck_at

    # A gate that never read the topic (as on an upgraded stack) starts where it stopped.
    start = takeover_offsets(client, [tp])[(BENCH.name, 0)]
    assert first <= start <= stuck_at
    gate = KeyGate(settings.kafka, GateSettings(group_id=f"gate-{unique}"), f"gate-{unique}", [BENCH])
    with reader:
        gate.start()
        try:
            letters = reader.collect(lambda rs: len([r for r in rs if source_of(r) == producer.sent[1][0]]) >= 2, 30)
            deadline = time.monotonic() + 30
            while gate.routed + gate.dead_lettered < 3 - (start - first):
                assert time.monotonic() < deadline, "the new gate did not forward the stuck records"
                time.sleep(0.2)
        finally:
            gate.stop()
    # The service's gate and this one each dead-letter the bad record once.
    mine = [r for r in letters if source_of(r) == producer.sent[1][0]]
    assert len(mine) == 2
    assert all(r.key == b"\xff\xfe\xfd" and r.header("error.class") == "InvalidKey" for r in mine)
    # From the stuck position on, nothing before it: one dead letter, the good records after.
    assert (gate.dead_lettered, gate.routed) == (1, 2 - (start - first))

    # Delivered directly, by the service's own gate and by this one: applied once each.
    deadline = time.monotonic() + 30
    while (count := ingress.post(f"/BenchCounter/{key}/get").json())["count"] < 2:
        assert time.monotonic() < deadline, count
        time.sleep(0.3)
    time.sleep(1)
    assert ingress.post(f"/BenchCounter/{key}/get").json()["count"] == 2
    # The bootstrap retires the direct subscription: the gate reads that topic now.
    retired = retire_direct_subscriptions(admin, settings, CATALOGUE)
    assert f"{BENCH.name} -> {BENCH.sink}" in retired
    assert not any(s["id"] == direct_subscription["id"] for s in admin.subscriptions())


def test_gate_dead_letters_carry_the_source_for_a_replay(settings: Settings, unique: str) -> None:
    client = settings.kafka.client_config()
    producer = RawProducer(client)
    value = json.dumps({"content": "hi", "metadata": "public"}).encode()
    with TopicReader(client, [topic("social-media-posts").dlq]) as reader:
        producer.send("social-media-posts", b"\xc3\x28" + unique.encode(), value)
        producer.flush()
        sent = producer.sent[0][0]
        got = reader.collect(lambda rs: any(source_of(r) == sent for r in rs), 30)
    [letter] = [r for r in got if source_of(r) == sent]
    assert letter.header("source.topic") == "social-media-posts"
    assert "not UTF-8" in (letter.header("error.reason") or "")
    assert "userId" in (letter.header("error.reason") or "")
    assert Counter(k for k, _ in letter.headers)["error.class"] == 1


class CommitsNothing(KeyGate):
    """An idempotent gate that dies after its copies are acknowledged and before it commits
    their offsets (gate.mode idempotent: the crash that leaves repeated copies behind)."""

    def _forward_idempotent(self, consumer: Any, producer: Any, batch: Any) -> None:
        class NoCommit:
            def commit(self, **_: Any) -> None:
                pass

        super()._forward_idempotent(NoCommit(), producer, batch)  # type: ignore[arg-type]


def run_gate(gate: KeyGate, records: int) -> None:
    gate.start()
    try:
        deadline = time.monotonic() + 60
        while gate.routed < records:
            assert time.monotonic() < deadline, f"the gate copied {gate.routed} of {records} records"
            time.sleep(0.2)
    finally:
        gate.stop()


@pytest.mark.parametrize("t", [BENCH, TRIPS], ids=lambda t: t.name)
def test_a_batch_copied_again_after_a_crash_before_the_commit_has_one_outcome_per_record(
    t: Topic, settings: Settings, ingress: httpx.Client, unique: str
) -> None:
    """Records copied by the service's gate, by a gate that crashed before its commit, and
    again by that gate's successor (from the uncommitted offsets) run once each: the object's
    and the workflow ingest's applied marks skip the repeated copies, so each record has
    exactly one outcome, and a workflow's repeat is not a second (409) outcome."""
    client = settings.kafka.client_config()
    group = f"gate-{unique}"
    group_at_end(client, group, t.name)
    key = f"{unique}-k"

    def value(i: int) -> bytes:
        return json.dumps({"amount": 1}).encode() if t is BENCH else good_value(t, i)

    keys = [key.encode()] * 4 if t is BENCH else [f"{unique}-trip-{i}".encode() for i in range(4)]
    producer = RawProducer(client)
    with TopicReader(client, [t.results, t.dlq]) as reader, TopicReader(client, [t.routed]) as routed:
        for i, k in enumerate(keys):
            producer.send(t.name, k, value(i), partition=0)
        producer.flush()
        sent = [s for s, _, _ in producer.sent]
        gate_settings = GateSettings(group_id=group, mode="idempotent")
        run_gate(CommitsNothing(settings.kafka, gate_settings, group, [t]), len(sent))
        assert committed(client, group, TopicPartition(t.name, 0)) <= sent[0][2]  # nothing committed
        run_gate(KeyGate(settings.kafka, gate_settings, group, [t]), len(sent))
        # A last record of the same key (of every trip) comes after every copy above on its
        # key's partition, so once it has an outcome each copy before it has run.
        for k in dict.fromkeys(keys):
            producer.send(t.name, k, value(9), partition=0)
        producer.flush()
        got = outcomes(reader, [s for s, _, _ in producer.sent], timeout=90)
        copies = Counter(source_of_copy for r in routed.collect(lambda rs: False, timeout=5.0, idle=1.0)
                         for source_of_copy in routed_sources(r))
    assert all(copies[s] >= 3 for s in sent), copies  # the service's gate, the crashed one, its successor
    for s in sent:
        [outcome] = got[s]  # exactly one outcome per record
        assert outcome.topic == t.results
        assert outcome.json()["ok"] is True, outcome.json()
    if t is BENCH:
        assert ingress.post(f"/BenchCounter/{key}/get").json()["count"] == len(keys) + 1


def routed_sources(r: Record) -> list[Sent]:
    return [(e.source.topic, e.source.partition, e.source.offset) for e in parse_routed(r.value or b"{}")]
