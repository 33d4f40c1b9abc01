"""The key gate's decision: which keys can be an object key."""

import pytest

from schemas.catalogue import topic
from switchyard.core.envelope import RoutedRecord, SourceRecord
from switchyard.core.gate import chunks, key_problem

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
