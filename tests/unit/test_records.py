"""switchyard/ops/produce.py: what the producers refuse before Kafka sees a record."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from schemas.catalogue import topic
from switchyard.core.kafka import RecordProducer
from switchyard.ops.produce import RecordError, produce, too_large

PACKAGES = topic("package-location-updates")
VALUE = b'{"timestamp": "13:00", "location": "Paris"}'


class TooLarge:
    """Stands in for RecordProducer: refuses every record as librdkafka does an oversized one."""

    def send(self, *args: Any) -> None:
        raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))

    def flush(self) -> None:
        pass


def test_an_oversized_record_names_its_size() -> None:
    producer: Any = TooLarge()
    with pytest.raises(RecordError, match=r"record 1 \(key 'pkg'\): value of 2000000 bytes is too large"):
        produce(producer, PACKAGES, [("pkg", b"x" * 2_000_000)], validate=False)


def test_only_the_size_error_counts_as_too_large() -> None:
    assert too_large(KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)))
    assert not too_large(KafkaException(KafkaError(KafkaError._TRANSPORT)))


def test_a_key_that_is_not_utf8_is_refused_unvalidated() -> None:
    producer = RecordProducer({"bootstrap.servers": "127.0.0.1:1"})  # never reached
    with pytest.raises(RecordError, match="key: not encodable as UTF-8"):
        produce(producer, PACKAGES, [("bad\udcff", VALUE)], validate=False)
