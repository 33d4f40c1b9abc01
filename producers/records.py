"""Producing catalogue records from arguments, files or generators, validated first.

A record that does not fit its topic's schema is refused before it reaches Kafka, with
an error naming the field (pass ``validate=False`` to send it anyway, e.g. to try the DLQ).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from producers.client import RecordProducer, encode_key
from schemas.catalogue import Topic, describe_error


class RecordError(ValueError):
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


def from_file(path: Path, separator: str = ":") -> Iterator[tuple[str, bytes]]:
    """Lines `key<sep>json`, as the console producer takes them; blank lines skipped."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(separator)
        if not sep:
            raise RecordError(f"{path}:{number}: no key separator {separator!r}")
        yield key, value.encode()


def to_json(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def produce(
    producer: RecordProducer, topic: Topic, records: Iterable[tuple[str, bytes]], validate: bool = True
) -> int:
    sent = 0
    for n, (key, value) in enumerate(records, start=1):
        if validate:
            check(topic, key, value, f"record {n} (key {key!r})")
        producer.send(topic.name, key, value)
        sent += 1
    producer.flush()
    return sent
