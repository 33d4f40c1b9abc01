"""Producing catalogue records (from arguments, ``--file`` lines read by
``switchyard.ops.record_lines``, or sample records), validated first.

A record that does not fit its topic's schema is refused before it reaches Kafka, with
an error naming the field (pass ``validate=False`` to send it anyway, e.g. to try the DLQ).
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException

from switchyard.core.catalogue import Topic, describe_error
from switchyard.core.errors import UsageProblem
from switchyard.core.kafka import RecordProducer, encode_key

# librdkafka's default message.max.bytes; the broker refuses larger records too.
MAX_RECORD_BYTES = 1_000_000


class RecordError(UsageProblem, ValueError):
    """A record a producer refuses; the message says which and why."""


def check(topic: Topic, key: str, value: bytes, where: str) -> None:
    try:
        encode_key(key)
    except ValueError as exc:
        raise RecordError(f"{where}: {exc}") from None
    try:
        topic.parse(value)
    except ValueError as exc:
        raise RecordError(f"{where}: {topic.name} value rejected: {describe_error(exc)}") from None


def check_all(topic: Topic, records: Iterable[tuple[str, bytes]]) -> None:
    """Every record checked, before any is sent (and before Kafka is reached at all)."""
    for n, (key, value) in enumerate(records, start=1):
        check(topic, key, value, f"record {n} (key {key!r})")


def produce(
    producer: RecordProducer, topic: Topic, records: Iterable[tuple[str, bytes]], validate: bool = True
) -> int:
    sent = 0
    for n, (key, value) in enumerate(records, start=1):
        where = f"record {n} (key {key!r})"
        if validate:
            check(topic, key, value, where)
        send(producer, topic, key, value, where)
        sent += 1
    producer.flush()
    return sent


def send(producer: RecordProducer, topic: Topic, key: str, value: bytes, where: str) -> None:
    """One record; a key that is not UTF-8 or a value Kafka cannot take is a RecordError
    even unvalidated (the first would stall a partition, the second never arrives)."""
    try:
        producer.send(topic.name, key, value)
    except ValueError as exc:
        raise RecordError(f"{where}: {exc}") from None
    except KafkaException as exc:
        if too_large(exc):
            raise RecordError(f"{where}: {too_large_message(len(value))}") from None
        raise


def too_large(exc: KafkaException) -> bool:
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() == KafkaError.MSG_SIZE_TOO_LARGE


def too_large_message(size: int) -> str:
    return (f"value of {size} bytes is too large: Kafka takes at most {MAX_RECORD_BYTES} bytes per record "
            "(message.max.bytes)")
