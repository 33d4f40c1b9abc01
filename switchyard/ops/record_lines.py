"""Lines of ``key<separator>json`` as records: `switchyard produce TOPIC --file F` (``-``
for standard input), as the seed READMEs type them into a console producer.

    printf 'package1:{"timestamp": "2024-10-10 13:00", "location": "Paris"}\\n' \\
        | switchyard produce package-location-updates --file -

Every line is checked before any record is sent, and a refusal names the line: a line
without a key (a Switchyard input topic is keyed: without one every record would share
one), a key that is not UTF-8 (Restate would stall that partition), a value over Kafka's
size limit, and (unless told not to) a value its topic's schema refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from switchyard.core.catalogue import Topic
from switchyard.core.kafka import InvalidKeyError, encode_key
from switchyard.ops.produce import MAX_RECORD_BYTES, RecordError, check, too_large_message


def read_lines(data: bytes, topic: Topic, separator: str = ":", validate: bool = True,
               where: Callable[[int], str] = lambda n: f"line {n}") -> list[tuple[str, bytes]]:
    """The records of ``data``, one per non-blank line; RecordError names the first bad line
    (``where(n)`` says how)."""
    sep = separator.encode()
    out = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.removesuffix(b"\r")
        if not line.strip():
            continue
        out.append(parse_line(line, topic, sep, validate, where(number)))
    return out


def parse_line(line: bytes, topic: Topic, sep: bytes, validate: bool, where: str) -> tuple[str, bytes]:
    key, found, value = line.partition(sep)
    if not found or _is_json_document(line):
        raise RecordError(f"{where}: no key: {topic.name} is keyed by {topic.key} "
                          f"(lines are KEY{sep.decode()}JSON)")
    try:
        text = encode_key(key).decode("utf-8")
        encode_key(text)  # not empty
    except InvalidKeyError as exc:
        raise RecordError(f"{where}: {exc} (key {key!r})") from None
    if len(value) > MAX_RECORD_BYTES:
        raise RecordError(f"{where}: {too_large_message(len(value))}")
    if validate:
        check(topic, text, value, where)
    return text, value


def _is_json_document(line: bytes) -> bool:
    """A whole JSON object or array: a value typed without its key."""
    if line.lstrip()[:1] not in (b"{", b"["):
        return False
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
