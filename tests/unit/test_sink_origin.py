"""What counts as a Kafka record in a sink handler, and the applied mark."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.envelope import RoutedBatch, RoutedRecord, SourceRecord
from switchyard.core.sink import KafkaOrigin, is_repeat

DELIVERY = {"kafka.topic": "package-location-updates", "kafka.partition": "1", "kafka.offset": "7",
            "kafka.timestamp": "1000", "kafka.key": base64.urlsafe_b64encode(b"pkg").decode(),
            "restate.subscription.id": "sub_1abc"}


def test_a_subscription_delivery_is_a_kafka_record() -> None:
    origin = KafkaOrigin.from_headers(DELIVERY)
    assert origin is not None
    assert (origin.topic, origin.partition, origin.offset, origin.key) == ("package-location-updates", 1, 7, b"pkg")


def test_an_ingress_call_is_never_one_whatever_its_headers() -> None:
    forged = {**DELIVERY, "x-restate-ingress-path": "/PackageTracker/pkg/updateLocation"}
    assert KafkaOrigin.from_headers(forged) is None
    assert KafkaOrigin.from_headers({k: v for k, v in DELIVERY.items() if k != "restate.subscription.id"}) is None


def test_a_routed_delivery_names_its_source_record() -> None:
    origin = KafkaOrigin.from_headers({**DELIVERY, "kafka.topic": "package-location-updates-routed"})
    assert origin is not None
    envelope = RoutedRecord.wrap(SourceRecord(topic="package-location-updates", partition=1, offset=42), b"\xffraw", 99)
    [(source, raw)] = origin.unwrapped(envelope.to_json())
    assert (source.topic, source.partition, source.offset) == ("package-location-updates", 1, 42)
    assert source.timestamp_ms == 99
    assert raw == b"\xffraw"


def test_a_routed_batch_names_each_source_record_in_order() -> None:
    origin = KafkaOrigin.from_headers({**DELIVERY, "kafka.topic": "package-location-updates-routed"})
    assert origin is not None
    batch = RoutedBatch(records=[
        RoutedRecord.wrap(SourceRecord(topic="package-location-updates", partition=1, offset=n), f"v{n}".encode(), n)
        for n in (7, 8, 11)])
    unwrapped = origin.unwrapped(batch.to_json())
    assert [(o.offset, o.timestamp_ms, v) for o, v in unwrapped] == [(7, 7, b"v7"), (8, 8, b"v8"), (11, 11, b"v11")]
    assert {o.key for o, _ in unwrapped} == {origin.key}


def at(offset: int, timestamp: int | None) -> KafkaOrigin:
    return KafkaOrigin("t", 0, offset, b"k", timestamp)


def test_the_mark_skips_repeats_but_not_a_recreated_topics_records() -> None:
    mark = [10, 5000]
    assert is_repeat(mark, at(10, 5000))
    assert is_repeat(mark, at(3, 4000))
    assert not is_repeat(mark, at(11, 5000))  # the next record
    assert not is_repeat(mark, at(0, 9000))  # offset 0 again, but later: a topic made anew
    assert is_repeat(7, at(7, 9000))  # a mark from before timestamps were kept
    assert not is_repeat(None, at(0, None))


@given(st.binary(max_size=300), st.booleans(), st.booleans())
def test_the_kafka_key_header_gives_back_any_keys_bytes(key: bytes, urlsafe: bool, padded: bool) -> None:
    """Restate writes `kafka.key` as URL-safe base64: keys whose bytes hit `-`/`_` (most
    accented letters, `?`, `~`, emoji) once failed a standard decoder and never ran."""
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(key).decode()
    origin = KafkaOrigin.from_headers({**DELIVERY, "kafka.key": text if padded else text.rstrip("=")})
    assert origin is not None
    assert origin.key == key


@pytest.mark.parametrize("key", ["Zürich", "a?b", "a/b", "~", "ÿ", "🚚", "x\x00y", "é" * 5000])
def test_ordinary_utf8_keys_survive_the_header(key: str) -> None:
    origin = KafkaOrigin.from_headers({**DELIVERY, "kafka.key": base64.urlsafe_b64encode(key.encode()).decode()})
    assert origin is not None
    assert origin.key is not None
    assert origin.key.decode() == key


def test_a_header_that_is_not_base64_is_named() -> None:
    with pytest.raises(ValueError, match=r"kafka\.key"):
        KafkaOrigin.from_headers({**DELIVERY, "kafka.key": "not*base64"})


def test_a_missing_key_and_an_empty_key_stay_apart() -> None:
    """Restate leaves `kafka.key` out for a null key and sends "" for an empty one: a dead
    letter keeps whichever the record had."""
    missing = KafkaOrigin.from_headers({k: v for k, v in DELIVERY.items() if k != "kafka.key"})
    empty = KafkaOrigin.from_headers({**DELIVERY, "kafka.key": ""})
    assert missing is not None
    assert empty is not None
    assert (missing.key, empty.key) == (None, b"")


def test_a_tombstone_survives_the_gates_copy() -> None:
    origin = KafkaOrigin.from_headers({**DELIVERY, "kafka.topic": "package-location-updates-routed"})
    assert origin is not None
    envelope = RoutedRecord.wrap(SourceRecord(topic="package-location-updates", partition=1, offset=3), None, 5)
    [(source, raw)] = origin.unwrapped(envelope.to_json())
    assert source.tombstone
    assert raw == b""
    [(kept, _)] = origin.unwrapped(RoutedRecord.wrap(envelope.source, b"", 5).to_json())
    assert not kept.tombstone  # an empty value is not a tombstone
