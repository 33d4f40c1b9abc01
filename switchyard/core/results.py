"""Reading what Switchyard wrote: `-results` and `-dlq` records, from a point in time on.

Used by the demo, the DLQ tools and the tests: mark the topics' ends first, produce, then
collect what arrives after the mark.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from switchyard.core.catalogue import DLQ_SUFFIX
from switchyard.core.envelope import DlqReason, parse_routed
from switchyard.core.poll import poll_until


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int

    @property
    def key_text(self) -> str:
        return (self.key or b"").decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.value or b"null")

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode(errors="replace")
        return None


def message_headers(msg: Message) -> list[tuple[str, bytes]]:
    """A consumed message's headers as (name, value bytes) pairs, whichever shape the
    client hands them in (a list or a dict; str, bytes or None values)."""
    raw = msg.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return [(k, v if isinstance(v, bytes) else (v or "").encode()) for k, v in pairs]


def source_of(record: Record) -> tuple[str, int, int]:
    """The input record (topic, partition, offset) a `-results` or `-dlq` record is the outcome of."""
    if record.topic.endswith(DLQ_SUFFIX):
        source = DlqReason.from_headers(record.headers).source
        return (source.topic, source.partition, source.offset)
    s = record.json()["source"]
    return (s["topic"], s["partition"], s["offset"])


def routed_sources(record: Record) -> list[tuple[str, int, int]]:
    """The input records (topic, partition, offset) a `-routed` record carries: one, or a
    batch of one key's (switchyard.core.envelope.parse_routed)."""
    return [(e.source.topic, e.source.partition, e.source.offset) for e in parse_routed(record.value or b"{}")]


class TopicReader:
    """Reads topics from their ends at creation (``from_start=False``) or from the beginning."""

    def __init__(self, client: Mapping[str, str], topics: Iterable[str], from_start: bool = False) -> None:
        self._consumer = Consumer({
            **client,
            "group.id": f"switchyard-reader-{uuid.uuid4()}",
            "enable.auto.commit": "false",
            "log_level": "0",
        })
        assignment = []
        for name in topics:
            meta = self._consumer.list_topics(name, timeout=10).topics[name]
            for p in meta.partitions:
                offset = OFFSET_BEGINNING if from_start else self._end_offset(TopicPartition(name, p))
                assignment.append(TopicPartition(name, p, offset))
        self._consumer.assign(assignment)

    def _end_offset(self, tp: TopicPartition, timeout: float = 10.0) -> int:
        # A topic created a moment ago may not have its leader yet: ask again briefly.
        end: list[int] = []
        errors: list[KafkaException] = []

        def answered() -> bool:
            try:
                end.append(int(self._consumer.get_watermark_offsets(tp, timeout=10)[1]))
            except KafkaException as exc:
                errors.append(exc)
                return False
            return True

        try:
            poll_until(answered, timeout, what=f"the end offset of {tp.topic}[{tp.partition}]")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc} (last: {errors[-1] if errors else 'no answer'})") from None
        return end[0]

    def collect(
        self, until: Callable[[list[Record]], bool], timeout: float, idle: float | None = None
    ) -> list[Record]:
        """Collects records until ``until(records)`` holds, ``timeout`` passes, or (with
        ``idle``) nothing new arrived for that long."""
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline and not until(records):
            msg = self._consumer.poll(0.2)
            if msg is None:
                if idle is not None and time.monotonic() - last > idle:
                    break
                continue
            if msg.error():
                continue
            last = time.monotonic()
            records.append(Record(
                msg.topic() or "", msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value(),
                message_headers(msg), msg.timestamp()[1],
            ))
        return records

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def count_at_least(n: int, topic: str | None = None) -> Callable[[list[Record]], bool]:
    return lambda records: sum(1 for r in records if topic is None or r.topic == topic) >= n
