"""Rewinding a subscription's consumer group redelivers records that were already taken
in; none of them is applied again. (Restate's own deduplication is per subscription: a
subscription created again is a new producer to it, so the object sinks' applied mark is
what keeps these from being applied twice.)

The rewind is what an operator does: delete the subscription (its consumer leaves the
group), move the group's committed offsets back with Kafka's admin API, and create the
subscription again on the same consumer group. It is rewound only to this test's own
first records, so the session's other records are not replayed; the subscription is left
as the bootstrap makes it (same source, sink and options), on its original group.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import Topic, topic
from switchyard.core.admin import RestateAdmin, Subscription, kafka_source
from switchyard.core.results import Record, TopicReader, routed_sources
from tests.integration.kafka_driver import KafkaDriver, Outcome

PACKAGES = topic("package-location-updates")
PAYMENTS = topic("payment-requests")


def poll(check: Callable[[], bool], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def subscription_of(admin: RestateAdmin, settings: Settings, t: Topic) -> Subscription:
    source = kafka_source(settings.kafka.cluster_name, t.subscribed_topic)
    [sub] = [s for s in admin.subscriptions() if s["source"] == source and s["sink"] == t.subscription_sink]
    return sub


Positions = list[tuple[int, int]]  # (partition, offset) of records in the subscribed topic


def subscribed_positions(settings: Settings, t: Topic, outcomes: list[Outcome]) -> Positions:
    """Where ``outcomes``' records sit in the topic the subscription reads: the records
    themselves, or for a gated topic the key gate's copies of them in the routed topic."""
    if not t.gated:
        return [(partition, offset) for _, partition, offset in (o.sent for o in outcomes)]
    wanted = set(o.sent for o in outcomes)

    def carried(rs: list[Record]) -> set[tuple[str, int, int]]:
        return {s for r in rs for s in routed_sources(r)} & wanted

    with TopicReader(settings.kafka.client_config(), [t.routed], from_start=True) as reader:
        copies = reader.collect(lambda rs: carried(rs) == wanted, 30)
    return [(r.partition, r.offset) for r in copies if wanted & set(routed_sources(r))]


def first_offsets(positions: Positions) -> dict[int, int]:
    """Per partition, the offset of the first of these records."""
    firsts: dict[int, int] = {}
    for partition, offset in positions:
        firsts[partition] = min(offset, firsts.get(partition, offset))
    return firsts


def past_offsets(positions: Positions) -> dict[int, int]:
    """Per partition, the committed offset that says all of these records were taken in."""
    ends: dict[int, int] = {}
    for partition, offset in positions:
        ends[partition] = max(offset + 1, ends.get(partition, 0))
    return ends


def reset_offsets(kafka_admin: AdminClient, group: str, name: str, offsets: dict[int, int]) -> None:
    """Move the group back once the deleted subscription's consumer has left it (Kafka
    refuses while it is a member, and its last commit on leaving would undo the move)."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(name, p, o) for p, o in offsets.items()])

    def moved() -> bool:
        description = kafka_admin.describe_consumer_groups([group])[group].result(timeout=10)
        if description.members:
            return False
        try:
            kafka_admin.alter_consumer_group_offsets([request])[group].result(timeout=10)
        except KafkaException:
            return False  # a member still leaving; ask again
        return all(committed(kafka_admin, group, name).get(p) == o for p, o in offsets.items())

    poll(moved, f"consumer group {group} to move back to {offsets}")


def committed(kafka_admin: AdminClient, group: str, name: str) -> dict[int, int]:
    request = ConsumerGroupTopicPartitions(group)
    parts = kafka_admin.list_consumer_group_offsets([request])[group].result(timeout=10).topic_partitions
    return {tp.partition: tp.offset for tp in parts if tp.topic == name}


def taken_in(kafka_admin: AdminClient, group: str, name: str, positions: Positions) -> None:
    ends = past_offsets(positions)
    poll(lambda: all(committed(kafka_admin, group, name).get(p, -1) >= o for p, o in ends.items()),
         f"{group} to commit past {ends}")


@contextmanager
def rewound(admin: RestateAdmin, settings: Settings, t: Topic, outcomes: list[Outcome]) -> Iterator[str]:
    """The topic's subscription re-reading from the first of ``outcomes``' records; yields
    the consumer group once it has taken them in again."""
    sub = subscription_of(admin, settings, t)
    group = sub["options"]["group.id"]
    kafka_admin = AdminClient({**settings.kafka.client_config(), "log_level": "0"})
    positions, name = subscribed_positions(settings, t, outcomes), t.subscribed_topic
    taken_in(kafka_admin, group, name, positions)
    admin.delete_subscription(sub["id"])
    try:
        reset_offsets(kafka_admin, group, name, first_offsets(positions))
    finally:
        # As the bootstrap makes it, plus the group it had: a fresh group would replay the topic.
        admin.create_subscription(sub["source"], sub["sink"],
                                  {**settings.kafka.subscription_options, "group.id": group})
    taken_in(kafka_admin, group, name, positions)
    yield group


def invocations(admin: RestateAdmin, t: Topic, key: str) -> list[dict[str, Any]]:
    return admin.query(f"SELECT id, status FROM sys_invocation WHERE target_service_name = '{t.service}' "
                       f"AND target_handler_name = '{t.handler}' AND target_service_key = '{key}'")


def test_a_rewound_object_subscription_applies_nothing_twice(
    kafka: KafkaDriver, ingress: httpx.Client, admin: RestateAdmin, settings: Settings, unique: str
) -> None:
    pkg = f"{unique}-pkg"
    assert ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Oslo"}).status_code == 200
    stops = [json.dumps({"timestamp": f"1{n}:00", "location": f"stop {n}"}) for n in range(3)]
    outcomes = kafka.send(PACKAGES, [(pkg, stop) for stop in stops])
    assert all(o.ok for o in outcomes)
    state = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    # Three, or fewer when the key gate batched records queued together (gate.batch_records).
    first = len(invocations(admin, PACKAGES, pkg))
    assert 1 <= first <= 3

    with TopicReader(settings.kafka.client_config(), [PACKAGES.results, PACKAGES.dlq]) as reader, \
            rewound(admin, settings, PACKAGES, outcomes):
        # Delivered again: as many invocations again, each finished without applying anything.
        poll(lambda: [i["status"] for i in invocations(admin, PACKAGES, pkg)] == ["completed"] * (2 * first),
             "the redelivered records to be handled")
        again = [r for r in reader.collect(lambda rs: False, timeout=2.0) if r.key == pkg.encode()]

    assert again == [], "a redelivered record produced a result or a dead letter"
    assert ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json() == state


def test_a_rewound_service_subscription_runs_the_business_step_once(
    kafka: KafkaDriver, admin: RestateAdmin, settings: Settings, unique: str
) -> None:
    key = f"{unique}-pay"
    value = json.dumps({"paymentMethodId": "pm_card_visa", "amount": 1500})
    [first] = kafka.send(PAYMENTS, [(key, value)])
    assert first.ok

    with TopicReader(settings.kafka.client_config(), [PAYMENTS.results]) as reader, \
            rewound(admin, settings, PAYMENTS, [first]):
        again = reader.collect(lambda rs: any(r.key == key.encode() for r in rs), timeout=30)

    # The plain-service wrapper reports the redelivered record too, with the first outcome.
    [replayed] = [r for r in again if r.key == key.encode()]
    assert replayed.json()["result"] == first.result
    business = admin.query(f"SELECT id FROM sys_invocation WHERE target = '{PAYMENTS.target}' "
                           f"AND idempotency_key = '{PAYMENTS.name}/{key}'")
    assert len(business) == 1
