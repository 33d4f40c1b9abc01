"""DescribeQuorum's codec (switchyard/stack/quorum.py); tests/integration/test_cluster.py
asks a real cluster and compares with Kafka's own tool."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.stack.quorum import _Reader, describe_quorum_request, leader_from_response, uvarint


def tags(fields: list[bytes]) -> bytes:
    return uvarint(len(fields)) + b"".join(uvarint(i) + uvarint(len(f)) + f for i, f in enumerate(fields))


def response(correlation: int, leader: int, error: int = 0, partition_error: int = 0,
             extra_tags: list[bytes] | None = None, topic: str = "__cluster_metadata") -> bytes:
    """A DescribeQuorum v0 response as a broker writes it (one voter, no observers)."""
    name = topic.encode()
    voter = struct.pack(">iqi", leader, 42, 0)[:4] + struct.pack(">q", 42) + uvarint(0)
    partition = (struct.pack(">ihiiq", 0, partition_error, leader, 7, 42)
                 + uvarint(2) + voter + uvarint(1) + uvarint(0))
    return (struct.pack(">i", correlation) + tags(extra_tags or [])
            + struct.pack(">h", error) + uvarint(2) + uvarint(len(name) + 1) + name
            + uvarint(2) + partition + uvarint(0) + uvarint(0))


@given(st.integers(min_value=0, max_value=2**35))
def test_uvarints_read_back(n: int) -> None:
    assert _Reader(uvarint(n)).uvarint() == n


@given(leader=st.integers(min_value=0, max_value=2**31 - 1), correlation=st.integers(min_value=0, max_value=2**31 - 1),
       extra=st.lists(st.binary(max_size=200), max_size=3))
def test_the_leader_is_read_past_any_tagged_fields(leader: int, correlation: int, extra: list[bytes]) -> None:
    assert leader_from_response(response(correlation, leader, extra_tags=extra), correlation) == leader


@pytest.mark.parametrize(("error", "partition_error"), [(41, 0), (0, 6)])
def test_an_error_code_is_an_error_not_a_leader(error: int, partition_error: int) -> None:
    with pytest.raises(ValueError, match="error code"):
        leader_from_response(response(1, 3, error=error, partition_error=partition_error), 1)


def test_another_requests_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="another request"):
        leader_from_response(response(2, 3), 1)


def test_the_request_is_sized_and_asks_the_metadata_partition() -> None:
    request = describe_quorum_request(9)
    (size,) = struct.unpack_from(">i", request)
    assert size == len(request) - 4
    assert struct.unpack_from(">hhi", request, 4) == (55, 0, 9)
    assert b"__cluster_metadata" in request
