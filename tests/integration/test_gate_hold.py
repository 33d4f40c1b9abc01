"""The key gate's held read (switchyard/core/gate.py `read_batch`) against the broker:
while a backlog downstream says hold, records that arrive within the hold join the read,
so a key's records of that time travel together; without one, the read takes only what
is already fetched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from bench.topics import create_topics
from handlers.settings import ExampleStackSettings as Settings
from switchyard.core.gate import read_batch


@pytest.fixture
def topic(settings: Settings, unique: str) -> str:
    name = f"hold-{unique}"
    create_topics(settings.kafka.client_config(), [name], 1)
    return name


@pytest.fixture
def clients(settings: Settings, topic: str, unique: str) -> Iterator[tuple[Producer, Consumer]]:
    client = settings.kafka.client_config()
    producer = Producer({**client, "linger.ms": "0", "log_level": "0"})
    consumer = Consumer({**client, "group.id": f"hold-{unique}", "fetch.wait.max.ms": "50", "log_level": "0"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    yield producer, consumer
    consumer.close()


def paced(producer: Producer, topic: str, prefix: str, count: int, every: float) -> threading.Thread:
    def send() -> None:
        for i in range(count):
            producer.produce(topic, key=b"k", value=f"{prefix}{i}".encode())
            producer.flush(10)
            time.sleep(every)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def first_of(consumer: Consumer) -> Message:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None:
            assert msg.error() is None, msg.error()
            return msg
    raise AssertionError("no record within 30 s")


def values(batch: list[Message]) -> list[bytes]:
    return [m.value() or b"" for m in batch]


def test_a_held_read_takes_what_arrives_within_the_hold(clients: tuple[Producer, Consumer], topic: str) -> None:
    producer, consumer = clients
    sender = paced(producer, topic, "a", 10, 0.1)  # ~1 s of records
    first = first_of(consumer)
    batch = read_batch(consumer, first, 1000, hold=3.0)
    sender.join()
    assert values(batch) == [f"a{i}".encode() for i in range(10)]


def test_without_a_hold_a_read_takes_only_what_is_fetched(clients: tuple[Producer, Consumer], topic: str) -> None:
    producer, consumer = clients
    sender = paced(producer, topic, "b", 10, 0.2)  # ~2 s of records
    first = first_of(consumer)
    began = time.monotonic()
    batch = read_batch(consumer, first, 1000, hold=0.0)
    assert time.monotonic() - began < 0.5
    assert values(batch)[0] == b"b0"
    assert len(batch) < 10  # the rest had not arrived: they go in later reads
    sender.join()


def test_a_full_read_ends_the_hold(clients: tuple[Producer, Consumer], topic: str) -> None:
    producer, consumer = clients
    for i in range(8):
        producer.produce(topic, key=b"k", value=f"c{i}".encode())
    producer.flush(10)
    first = first_of(consumer)
    began = time.monotonic()
    batch = read_batch(consumer, first, 5, hold=20.0)
    assert time.monotonic() - began < 5
    assert values(batch) == [f"c{i}".encode() for i in range(5)]
