"""The key gate's decision: which keys can be an object key."""

import pytest

from schemas.catalogue import topic
from switchyard.core.envelope import RoutedRecord, SourceRecord
from switchyard.core.gate import MAX_RECORD_BYTES, chunks, oversize
from switchyard.core.keys import key_problem

PACKAGES = topic("package-location-updates")


@pytest.mark.parametrize("key", [b"pkg-1", "Zürich-東京".encode(), b"0"])
def test_a_utf8_key_passes(key: bytes) -> None:
    assert key_problem(PACKAGES, key) is None


@pytest.mark.parametrize(("key", "error_class"), [
    (None, "MissingKey"), (b"", "MissingKey"), (b"\xff\xfe", "InvalidKey"), (b"ok\xc3\x28", "InvalidKey"),
    (b"\x80", "InvalidKey"),
])
def test_a_key_that_cannot_be_an_object_key_is_named(key: bytes | None, error_class: str) -> None:
    problem = key_problem(PACKAGES, key)
    assert problem is not None
    assert problem.error_class == error_class
    assert "packageId" in problem.reason


def routed(offset: int, size: int = 10) -> RoutedRecord:
    return RoutedRecord.wrap(SourceRecord(topic="t", partition=0, offset=offset), b"x" * size, None)


def test_a_keys_records_are_cut_in_order_by_count_and_by_bytes() -> None:
    records = [routed(n) for n in range(7)]
    assert [[r.source.offset for r in c] for c in chunks(records, 3, 10_000)] == [[0, 1, 2], [3, 4, 5], [6]]
    big = [routed(0), routed(1, 3_000), routed(2), routed(3)]
    # A record that would push a batch past the byte budget starts the next one.
    assert [[r.source.offset for r in c] for c in chunks(big, 100, 3_000)] == [[0], [1], [2, 3]]
    assert chunks([], 5, 100) == []


TASKS = topic("task-queue")


@pytest.mark.parametrize(("key", "error_class"), [(None, "MissingKey"), (b"\x80\x81", "InvalidKey")])
def test_a_plain_service_key_must_be_one_too(key: bytes | None, error_class: str) -> None:
    """Two binary keys would decode to one idempotency key: each is dead-lettered instead."""
    problem = key_problem(TASKS, key)
    assert problem is not None
    assert problem.error_class == error_class
    assert "idempotency key" in problem.reason


def test_a_record_too_large_to_route_is_named_and_kept_if_the_dlq_takes_it() -> None:
    source = SourceRecord(topic="t", partition=0, offset=1)
    fits = RoutedRecord.wrap(source, b"x" * (MAX_RECORD_BYTES // 2), None)
    assert oversize(b"k", b"x" * (MAX_RECORD_BYTES // 2), fits) is None
    value = b"x" * (MAX_RECORD_BYTES * 7 // 8)  # base64 takes 4/3 of it: too large to route, fits a DLQ
    reason = oversize(b"k", value, RoutedRecord.wrap(source, value, None))
    assert reason is not None
    assert "too large to route" in reason
    assert "not kept" not in reason
    huge = b"x" * (MAX_RECORD_BYTES + 1)
    reason = oversize(b"k", huge, RoutedRecord.wrap(source, huge, None))
    assert reason is not None
    assert "not kept" in reason
