"""`switchyard produce T --file F|-`: lines of key:json, each checked before any is sent,
a refusal naming its line (switchyard/ops/record_lines.py)."""

from __future__ import annotations

import pytest

from schemas.catalogue import topic
from switchyard.ops.produce import MAX_RECORD_BYTES, RecordError
from switchyard.ops.record_lines import read_lines

PACKAGES = topic("package-location-updates")
VALUE = b'{"timestamp": "13:00", "location": "Paris"}'


def test_lines_are_records_with_values_kept_as_bytes() -> None:
    data = b"pkg-1:" + VALUE + b"\r\n\n   \npkg-2:" + VALUE.replace(b"Paris", b"Ghent") + b"\n"
    assert read_lines(data, PACKAGES) == [("pkg-1", VALUE), ("pkg-2", VALUE.replace(b"Paris", b"Ghent"))]
    assert read_lines(b"pkg-1|" + VALUE, PACKAGES, separator="|") == [("pkg-1", VALUE)]


@pytest.mark.parametrize(("data", "says"), [
    (VALUE + b"\n", "line 1: no key: package-location-updates is keyed by packageId"),
    (b"pkg-1:" + VALUE + b"\nno separator\n", "line 2: no key: package-location-updates is keyed by packageId"),
    (b"\n\xff\xfe:" + VALUE, r"line 2: key: not valid UTF-8 \(invalid start byte at byte 0\) \(key b'\\xff\\xfe'\)"),
    (b":" + VALUE, "line 1: key: must not be empty"),
    (b"pkg-1:" + b"x" * (MAX_RECORD_BYTES + 1), f"line 1: value of {MAX_RECORD_BYTES + 1} bytes is too large"),
    (b'pkg-1:{"location": 1}', "line 1: package-location-updates value rejected: location: Input should be"),
])
def test_a_bad_line_is_refused_naming_it(data: bytes, says: str) -> None:
    with pytest.raises(RecordError, match=f"^{says}"):
        read_lines(data, PACKAGES)


def test_unvalidated_lines_still_need_a_utf8_key_and_a_size_kafka_takes() -> None:
    assert read_lines(b'pkg-1:{"location": 1}', PACKAGES, validate=False) == [("pkg-1", b'{"location": 1}')]
    with pytest.raises(RecordError, match="key: not valid UTF-8"):
        read_lines(b"\xff:{}", PACKAGES, validate=False)


def test_unvalidated_values_stay_the_bytes_of_their_line() -> None:
    data = b"pkg-1:" + VALUE + b"\n\npkg-2:{\"a\": \"\xff\"}\n"
    assert read_lines(data, PACKAGES, validate=False) == [("pkg-1", VALUE), ("pkg-2", b'{"a": "\xff"}')]


def test_a_file_names_its_lines_by_path() -> None:
    with pytest.raises(RecordError, match=r"^records\.txt:1: no key"):
        read_lines(VALUE, PACKAGES, where=lambda n: f"records.txt:{n}")
