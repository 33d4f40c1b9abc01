"""What Switchyard writes next to every input topic: `<topic>-results`, `<topic>-dlq` (and
its replay markers, `<topic>-dlq-replayed`), `<topic>-routed`."""

import base64
from typing import Any

from pydantic import BaseModel, ConfigDict


class SourceRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int


class ResultError(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: int
    message: str


class ResultRecord(BaseModel):
    """The value of a `<topic>-results` record (same key as the input record)."""

    model_config = ConfigDict(frozen=True)

    source: SourceRecord
    target: str
    ok: bool
    result: Any = None
    error: ResultError | None = None

    def to_json(self) -> bytes:
        # `result` on success, `error` on failure: never both, as the contract shows.
        return self.model_dump_json(exclude={"error"} if self.ok else {"result"}).encode()


class DlqReason(BaseModel):
    """Why a record landed in `<topic>-dlq`; carried in the record's headers."""

    model_config = ConfigDict(frozen=True)

    reason: str
    error_class: str
    source: SourceRecord

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("error.reason", self.reason.encode()),
            ("error.class", self.error_class.encode()),
            ("source.topic", self.source.topic.encode()),
            ("source.partition", str(self.source.partition).encode()),
            ("source.offset", str(self.source.offset).encode()),
        ]

    @classmethod
    def from_headers(cls, headers: list[tuple[str, bytes]] | None) -> "DlqReason":
        h = {k: v.decode(errors="replace") for k, v in headers or []}
        return cls(
            reason=h.get("error.reason", ""),
            error_class=h.get("error.class", ""),
            source=SourceRecord(
                topic=h.get("source.topic", ""),
                partition=int(h.get("source.partition", "-1")),
                offset=int(h.get("source.offset", "-1")),
            ),
        )


class ReplayMarker(BaseModel):
    """The value of a `<topic>-dlq-replayed` record: that dead letter went back to its
    source topic once (`switchyard dlq replay`, switchyard/ops/dlq.py). The key is the dead
    letter's source record, "<topic>:<partition>:<offset>" of its `source.*` headers, so
    every DLQ copy of one source record is one dead letter; a DLQ record without those
    headers is keyed "<partition>:<offset>" of itself (as every marker was before)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    dlqTopic: str
    dlqPartition: int  # the DLQ record that was re-produced (one copy, if there are several)
    dlqOffset: int
    sourceTopic: str  # where it was re-produced to
    replayedAt: int  # epoch ms
    source: SourceRecord | None = None  # the dead letter's source record (absent: no headers, or an older marker)


class RoutedRecord(BaseModel):
    """The value of a `<topic>-routed` record: the key gate's copy of one input record.

    The key stays the record's own (a valid UTF-8 object key); Restate passes no Kafka
    headers to handlers, so the source record and its value travel in the value.
    """

    model_config = ConfigDict(frozen=True)

    source: SourceRecord
    # The record's value bytes, untouched (they may be anything); None for a tombstone, so
    # its dead letter is a tombstone again.
    value_b64: str | None
    timestamp_ms: int | None = None

    @classmethod
    def wrap(cls, source: SourceRecord, value: bytes | None, timestamp_ms: int | None) -> "RoutedRecord":
        encoded = None if value is None else base64.b64encode(value).decode()
        return cls(source=source, value_b64=encoded, timestamp_ms=timestamp_ms)

    @property
    def value(self) -> bytes:
        """The value as a handler parses it (a tombstone as no bytes)."""
        return base64.b64decode(self.value_b64) if self.value_b64 is not None else b""

    @property
    def tombstone(self) -> bool:
        return self.value_b64 is None

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class RoutedBatch(BaseModel):
    """The value of a `<topic>-routed` record holding several consecutive input records of
    one key (one partition, offset order): Restate runs them in one invocation, each with
    its own outcome (`gate.batch_records`; switchyard/core/sink.py)."""

    model_config = ConfigDict(frozen=True)

    records: list[RoutedRecord]

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


def parse_routed(raw: bytes) -> list[RoutedRecord]:
    """The input records a routed value carries: one (RoutedRecord) or several (RoutedBatch)."""
    if raw.lstrip()[:11] == b'{"records":':
        return RoutedBatch.model_validate_json(raw).records
    return [RoutedRecord.model_validate_json(raw)]

