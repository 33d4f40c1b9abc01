"""The active KRaft controller, asked over Kafka's wire protocol (DescribeQuorum).

A broker's describeCluster names a random broker as "controller" under KRaft, and
librdkafka has no DescribeQuorum. Kafka's own kafka-metadata-quorum tool does, but it is a
JVM start: 20 s on two loaded cores, paid by each `switchyard status` on a cluster and by
each `kafka:controller` fault while the machine is busiest. One request on a plaintext
socket takes milliseconds; a broker forwards it to the active controller.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

from switchyard.core.settings import split_host_port

DESCRIBE_QUORUM = 55  # API key; version 0 is a flexible version (compact fields, tag buffers)
METADATA_TOPIC = "__cluster_metadata"


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def describe_quorum_request(correlation_id: int, client_id: str = "switchyard") -> bytes:
    """A sized DescribeQuorum v0 request for the metadata log's one partition."""
    name = METADATA_TOPIC.encode()
    client = client_id.encode()
    header = struct.pack(">hhih", DESCRIBE_QUORUM, 0, correlation_id, len(client)) + client + uvarint(0)
    body = (uvarint(2) + uvarint(len(name) + 1) + name  # one topic, its name
            + uvarint(2) + struct.pack(">i", 0) + uvarint(0)  # one partition (0), its tags
            + uvarint(0) + uvarint(0))  # the topic's tags, the request's tags
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return int(value)

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()  # the tag
            size = self.uvarint()  # read first: `self.at += self.uvarint()` adds to the old offset
            self.at += size

    def compact_string(self) -> str:
        size = self.uvarint() - 1
        text = self.data[self.at:self.at + max(size, 0)].decode()
        self.at += max(size, 0)
        return text

    def compact_count(self) -> Iterator[int]:
        return iter(range(max(self.uvarint() - 1, 0)))


def leader_from_response(response: bytes, correlation_id: int) -> int:
    """The metadata partition's leader in a DescribeQuorum v0 response (without its size)."""
    r = _Reader(response)
    if r.take(">i") != correlation_id:
        raise ValueError("a DescribeQuorum response to another request")
    r.skip_tags()
    if (error := r.take(">h")) != 0:
        raise ValueError(f"DescribeQuorum failed with Kafka error code {error}")
    for _ in r.compact_count():
        r.compact_string()
        for _ in r.compact_count():
            r.take(">i")  # partition index
            if (error := r.take(">h")) != 0:
                raise ValueError(f"DescribeQuorum's metadata partition failed with Kafka error code {error}")
            return r.take(">i")
    raise ValueError("a DescribeQuorum response without the metadata partition")


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(left)
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def active_controller(bootstrap: str, timeout: float = 10.0) -> int:
    """The node id of the active controller, asked of the first broker of ``bootstrap``
    that answers (plaintext listeners; raises OSError or ValueError otherwise)."""
    problems: list[str] = []
    for address in bootstrap.split(","):
        host, port = split_host_port(address.strip())
        try:
            with socket.create_connection((host or "127.0.0.1", port), timeout=timeout) as sock:
                sock.sendall(describe_quorum_request(1))
                (size,) = struct.unpack(">i", _read_exactly(sock, 4))
                return leader_from_response(_read_exactly(sock, size), 1)
        except (OSError, ValueError, struct.error, IndexError, UnicodeDecodeError) as exc:
            problems.append(f"{address}: {exc}")
    raise ValueError(f"no broker named the active controller ({'; '.join(problems)})")
