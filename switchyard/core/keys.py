"""Record keys: what a key must be to run, and how Restate hands it to a handler.

Keys are UTF-8 strings by contract. A record whose key is missing or not UTF-8 cannot be
an object key (Restate halts the subscription, restatedev/restate#4682) and cannot be a
distinct idempotency key either (two binary keys would decode to one string), so such a
record is dead-lettered wherever it is first seen: by the key gate on object and workflow
topics, by the sink on plain-service topics.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from switchyard.core.catalogue import Topic


@dataclass(frozen=True)
class KeyProblem:
    error_class: str
    reason: str


def key_problem(t: Topic, key: bytes | None) -> KeyProblem | None:
    """Why ``key`` cannot be the key of a record on ``t``; None if it can."""
    role = f"the {t.service} {t.kind}'s key" if t.gated else "the request's idempotency key"
    if not key:
        return KeyProblem("MissingKey", f"record has no key: on {t.name} the key is the {t.key}, {role}")
    try:
        key.decode("utf-8")
    except UnicodeDecodeError as exc:
        return KeyProblem("InvalidKey", f"record key is not UTF-8 ({exc.reason} at byte {exc.start} of "
                                        f"{len(key)}): on {t.name} the key is the {t.key}, {role}, a string")
    return None


def header_key(key: bytes) -> str:
    """A record key as Restate's `kafka.key` header carries it (URL-safe base64)."""
    return base64.urlsafe_b64encode(key).decode()


def decode_header_key(text: str) -> bytes:
    """The record key from Restate's `kafka.key` header.

    Restate writes it as URL-safe base64 (`-` and `_` for `+` and `/`); any key whose
    bytes hit those two of the 64 digits (`?`, `~`, most accented letters and emoji) fails
    a standard decoder. Both alphabets and missing padding are accepted, so this does not
    hang on which flavour a Restate version picks.
    """
    normal = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"kafka.key header is not base64: {exc}") from None
