"""A keyless record on a plain-service topic: its key would be the idempotency key, so it
goes to the DLQ with a reason instead of sharing one key with every other keyless record
(which would hand each later one the first one's outcome without running it)."""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Producer

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.results import TopicReader
from tests.integration.kafka_driver import KafkaDriver, source_of

FANOUT = topic("fanout-tasks")


def test_keyless_records_on_a_service_topic_are_dead_lettered_and_keyed_ones_still_run(
    settings: Settings, kafka: KafkaDriver, unique: str
) -> None:
    client = settings.kafka.client_config()
    landed: list[tuple[str, int, int]] = []

    def report(err: Any, msg: Any) -> None:
        assert err is None, err
        landed.append((msg.topic(), msg.partition(), msg.offset()))

    with TopicReader(client, [FANOUT.results, FANOUT.dlq]) as reader:
        producer = Producer({**client, "log_level": "3"})
        for job in ("a,b", "c,d"):
            producer.produce(FANOUT.name, value=json.dumps({"description": job}).encode(), on_delivery=report)
        assert producer.flush(30) == 0
        got = reader.collect(lambda rs: set(landed) <= {source_of(r) for r in rs}, 60)

    by_source = {source_of(r): r for r in got if source_of(r) in landed}
    assert len(by_source) == 2
    for record in by_source.values():
        assert record.topic == FANOUT.dlq
        assert record.header("error.class") == "MissingKey"
        assert "record has no key" in (record.header("error.reason") or "")
    # A keyed record right after still runs.
    [outcome] = kafka.send(FANOUT, [(f"{unique}-job", json.dumps({"description": "x,y"}))])
    assert outcome.ok
