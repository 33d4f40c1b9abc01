"""A record a foreign producer sends just under the broker's limit (1,048,588 bytes) but
over librdkafka's default `message.max.bytes` (1,000,000), which our own clients would have
used: it must still be copied by the key gate and dead-lettered whole, and the topic must
keep flowing (a dead letter the broker refuses would be retried for ever)."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Producer

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import Topic, topic
from switchyard.core.results import TopicReader
from tests.integration.kafka_driver import KafkaDriver, source_of

SIZE = 1_040_000


@pytest.mark.parametrize("t", [topic("machine-commands"), topic("fanout-tasks")], ids=lambda t: t.name)
def test_a_record_near_the_brokers_limit_is_dead_lettered_whole(
    t: Topic, settings: Settings, kafka: KafkaDriver, unique: str
) -> None:
    client = settings.kafka.client_config()
    value = json.dumps({"action": "x" * SIZE}).encode()  # no schema takes it
    landed: list[tuple[str | None, int | None, int | None]] = []
    producer = Producer({**client, "message.max.bytes": "2000000", "log_level": "3"})
    with TopicReader(client, [t.dlq, t.results]) as reader:
        producer.produce(t.name, key=f"{unique}-big".encode(), value=value,
                         on_delivery=lambda err, msg: landed.append((msg.topic(), msg.partition(), msg.offset())))
        assert producer.flush(30) == 0
        [sent] = landed
        got = reader.collect(lambda rs: any(source_of(r) == sent for r in rs), 60)
    [letter] = [r for r in got if source_of(r) == sent]
    assert letter.topic == t.dlq
    assert letter.value == value
    # The next record on the topic still runs.
    follow = {"action": "setUp"} if t.name == "machine-commands" else {"description": "a"}
    [after] = kafka.send(t, [(f"{unique}-next", json.dumps(follow))], timeout=60)
    assert not after.dead_lettered, after.record.header("error.reason")
