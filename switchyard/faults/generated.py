"""Generated records: the keys, values and headers foreign producers put on an input topic.

One module, two users: the property-based suite (tests/integration/test_generated_records.py)
produces batches of these against the real stack, and the fault suite's poison storm
(``faults.suite``, ``outcomes.PoisonProducer``) draws its bad records here.

What a record may be, as the contract (docs CONTRACT, README "How a record flows") puts it:

* a **key** is any UTF-8 string (accents, emoji, ``/``, ``?``, ``~``, ``%``, ``+``, NUL and
  other control characters, several KB long) and then runs like any other; or it is not
  one (bytes that are not UTF-8, empty, missing), and the record is dead-lettered;
* a **value** is the topic's JSON object (its catalogue ``sample``), or it is not (a
  tombstone, not JSON, JSON of the wrong type, a field missing or of the wrong type, an
  extra field), and the record is dead-lettered; some are close to the broker's 1 MB limit;
* **headers** may be anything, forged ``kafka.*`` / ``restate.*`` ones and binary values
  included: they change nothing.

``GeneratedRecord.runs_on`` is the oracle: a record runs (gets a ``-results`` record) iff its
key is a non-empty UTF-8 string and its value passes the topic's schema; any other record
gets a ``-dlq`` record with its original bytes.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from switchyard.core.catalogue import Topic

Header = tuple[str, bytes | None]
T = TypeVar("T")

# Characters that trip a key on its way through: URL paths and queries, percent and plus
# encodings, base64's two alphabets (`?`, `~`, `>` and most non-ASCII text encode to `-`/`_`
# or `+`/`/`), JSON and shell quoting, control characters, NUL, invisible and bidi marks.
SPECIAL_CHARACTERS = (
    "/?~%+#&=:;@!$'()*,[]{}|\\^`\"<> .-_"
    "\x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f\x80\x9f"
    "éüßçñøÅ" "ÿ" "中文字" "🚀😀🎉" "\u200b\u200d\u202e\u2028\u2029\ufeff\ufffd\uffff"
)
# Keys someone will send one day.
NAMED_KEYS = (
    "a/b", "a?b=c", "~user", "100%", "a+b", "%2F", "../..", ".", "..", " ", "café", "Zoë/ßtraße?x=1",
    "🚀", "👩\u200d👩\u200d👧", "\x00", "a\x00b", "null", "undefined", "{}", "\"quoted\"", "line\nbreak",
    "tab\tkey", "+/=", "-_", "\ufeffbom", "\u202eevil",
)
# Byte runs that are never part of valid UTF-8, wherever they stand.
NEVER_UTF8 = (b"\xff", b"\xfe", b"\xc0\x80", b"\xc1\xbf", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80",
              b"\xed\xa0\x80", b"\xed\xbf\xbf")

# Header names a record might forge: Restate's own on a subscription delivery, the
# ingress marker that tells an HTTP call, and Switchyard's own outcome headers.
FORGED_HEADER_NAMES = (
    "kafka.key", "kafka.offset", "kafka.partition", "kafka.topic", "kafka.timestamp",
    "restate.subscription.id", "x-restate-ingress-path", "idempotency-key", "x-restate-id",
    "error.reason", "error.class", "source.topic", "source.partition", "source.offset",
)
FORGED_HEADER_VALUES = (
    b"0", b"-1", b"999999999", b"not-a-number", b"other-topic", b"sub_forged", b"/forged/path",
    b"YQ==", b"Pz8_", b"\xff\xfe", b"", b"\x00",
)

# The broker's record limit is 1,048,588 bytes (its batch, headers and key included): a
# large value stays a little under it whatever else the record carries.
LARGE_VALUE_BYTES = (900_000, 1_030_000)
LARGE_RECORD_KEY_MAX = 64


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def key_runs(key: bytes | None) -> bool:
    """The contract's rule: a record key runs iff it is a non-empty UTF-8 string."""
    return bool(key) and is_utf8(key or b"")


def value_runs(t: Topic, value: bytes | None) -> bool:
    """Whether ``value`` passes ``t``'s schema (a tombstone reaches a handler as no bytes)."""
    try:
        t.parse(value or b"")
    except ValueError:
        return False
    return True


def clip(data: bytes | None, limit: int = 60) -> str:
    """``data`` for a message: a prefix and the length."""
    if data is None:
        return "None"
    return repr(data) if len(data) <= limit else f"{data[:limit]!r}... ({len(data)} bytes)"


@dataclass(frozen=True)
class GeneratedRecord:
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()

    def runs_on(self, t: Topic) -> bool:
        return key_runs(self.key) and value_runs(t, self.value)

    def console_line(self, separator: str) -> str | None:
        """The record as one line of Kafka's console producer (``parse.key=true``, key and value
        split at ``separator``); None if no line can say it: a missing or binary key or value,
        a tombstone, a line break or the separator inside, a value too big for one request."""
        if self.key is None or self.value is None or self.headers or len(self.value) > 64 * 1024:
            return None
        if not (is_utf8(self.key) and is_utf8(self.value)):
            return None
        key, value = self.key.decode(), self.value.decode()
        # Java's BufferedReader.readLine ends a line at \n, \r or \r\n.
        if any(c in text for text in (key, value) for c in ("\n", "\r", "\t", separator)):
            return None
        return f"{key}{separator}{value}"

    def __repr__(self) -> str:
        headers = f", headers={list(self.headers)!r}" if self.headers else ""
        return f"GeneratedRecord(key={clip(self.key, 80)}, value={clip(self.value)}{headers})"


def utf8_text(min_size: int = 0, max_size: int = 30) -> st.SearchStrategy[str]:
    """Any string UTF-8 can carry: every code point but the surrogates."""
    return st.text(st.characters(codec="utf-8"), min_size=min_size, max_size=max_size)


def text_keys() -> st.SearchStrategy[str]:
    """Non-empty strings: any text, the characters that trip keys, named ones, long ones."""
    special = st.sampled_from(SPECIAL_CHARACTERS)
    return st.one_of(
        utf8_text(1, 24),
        st.text(special, min_size=1, max_size=12),
        st.text(st.one_of(special, st.characters(codec="utf-8")), min_size=1, max_size=24),
        st.sampled_from(NAMED_KEYS),
        long_keys(),
    )


def long_keys() -> st.SearchStrategy[str]:
    """Keys of a few hundred bytes to several KB (Kafka takes them; an object key or an
    idempotency key that long must still run)."""
    return st.builds(lambda unit, times: (unit * times), utf8_text(1, 6), st.integers(100, 2_000))


def valid_keys() -> st.SearchStrategy[bytes]:
    """Keys that run: non-empty UTF-8."""
    return text_keys().map(lambda s: s.encode("utf-8"))


def non_utf8_keys() -> st.SearchStrategy[bytes]:
    """Bytes that are not UTF-8: a foreign producer's binary key."""
    return st.builds(lambda before, bad, after: before + bad + after,
                     st.binary(max_size=8), st.sampled_from(NEVER_UTF8), st.binary(max_size=8)
                     ).filter(lambda b: not is_utf8(b))


def bad_keys() -> st.SearchStrategy[bytes | None]:
    """Keys that cannot run: not UTF-8, empty, missing."""
    return st.one_of(non_utf8_keys(), st.just(b""), st.none())


def keys(extra: Sequence[bytes] = ()) -> st.SearchStrategy[bytes | None]:
    """Any key a record can have: good, bad, or any bytes at all; or one of ``extra`` (keys
    a deployment treats specially, such as `retries.poison_keys`)."""
    drawn = [valid_keys(), bad_keys(), st.binary(min_size=1, max_size=16)]
    return st.one_of(*drawn, *([st.sampled_from(list(extra))] if extra else []))


# JSON values of every type, small.
JSON_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64), st.floats(allow_nan=False, allow_infinity=False),
    utf8_text(0, 12))
JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(utf8_text(0, 8), inner, max_size=3),
    max_leaves=6)


def sample_object(t: Topic, n: int = 0, size: int = 64) -> dict[str, Any]:
    """``t``'s catalogue sample as a JSON object."""
    if t.sample is None:
        raise ValueError(f"{t.name} has no sample record in the catalogue")
    return dict(json.loads(t.sample(n, size).model_dump_json(exclude_none=True)))


def _dumps(obj: Any, style: int = 0) -> bytes:
    """JSON text in one of a few spellings (compact, spaced, indented, ASCII-escaped)."""
    if style == 1:
        return json.dumps(obj, separators=(",", ":")).encode()
    if style == 2:
        return json.dumps(obj, indent=2, ensure_ascii=False).encode()
    if style == 3:
        return json.dumps(obj, ensure_ascii=True, sort_keys=True).encode()
    return json.dumps(obj, ensure_ascii=False).encode()


def good_values(t: Topic) -> st.SearchStrategy[bytes]:
    """Values ``t``'s schema takes: its sample, numbered and sized, in several spellings."""
    return st.builds(lambda n, size, style: _dumps(sample_object(t, n, size), style),
                     st.integers(0, 10_000), st.integers(0, 300), st.integers(0, 3))


@st.composite
def _mutated(draw: st.DrawFn, t: Topic) -> bytes:
    """The sample with one thing wrong: a field dropped, of the wrong type, or one extra."""
    obj = sample_object(t, draw(st.integers(0, 100)))
    field_names = sorted(obj)
    how = draw(st.sampled_from(("drop", "retype", "extra")))
    if how == "drop" and field_names:
        del obj[draw(st.sampled_from(field_names))]
    elif how == "retype" and field_names:
        name = draw(st.sampled_from(field_names))
        old_type = type(obj[name])
        obj[name] = draw(JSON.filter(lambda v: type(v) is not old_type))
    else:
        obj[draw(utf8_text(1, 12).filter(lambda k: k not in obj))] = draw(JSON)
    return _dumps(obj, draw(st.integers(0, 3)))


def bad_values(t: Topic) -> st.SearchStrategy[bytes | None]:
    """Values no schema takes, or ``t``'s does not: tombstones, not JSON (any bytes, text,
    truncated JSON), JSON that is not an object, the sample with a field dropped, of the
    wrong type, or one extra."""
    return st.one_of(
        st.none(),
        st.binary(max_size=48),
        utf8_text(0, 30).map(str.encode),
        good_values(t).map(lambda v: v[: max(1, len(v) // 2)]),
        JSON.filter(lambda v: not isinstance(v, dict)).map(lambda v: _dumps(v)),
        _mutated(t),
    ).filter(lambda v: not value_runs(t, v))


def values(t: Topic) -> st.SearchStrategy[bytes | None]:
    """Any value, good or bad, about half of each."""
    return st.one_of(good_values(t), bad_values(t))


def large_values(t: Topic) -> st.SearchStrategy[bytes]:
    """A value close to the broker's record limit: the sample padded that far if its schema
    takes a pad (bench-events, task-queue), else a JSON string of that size (bad)."""
    def build(size: int, n: int) -> bytes:
        try:
            value = _dumps(sample_object(t, n, size), 1)
        except ValueError:  # no sample, or its schema caps the pad below this size
            value = b""
        if LARGE_VALUE_BYTES[0] <= len(value) <= LARGE_VALUE_BYTES[1]:
            return value
        return json.dumps("x" * (size - 2)).encode()

    return st.builds(build, st.integers(*LARGE_VALUE_BYTES), st.integers(0, 100))


def headers() -> st.SearchStrategy[tuple[Header, ...]]:
    """Record headers: mostly none; else forged `kafka.*` / `restate.*` ones and others,
    with text, binary or null values."""
    name = st.one_of(st.sampled_from(FORGED_HEADER_NAMES), utf8_text(1, 12))
    value = st.one_of(st.sampled_from(FORGED_HEADER_VALUES), st.binary(max_size=24), st.none())
    return st.one_of(st.just(()), st.lists(st.tuples(name, value), min_size=1, max_size=4).map(tuple))


def records(t: Topic, key: st.SearchStrategy[bytes | None] | None = None) -> st.SearchStrategy[GeneratedRecord]:
    return st.builds(GeneratedRecord, key if key is not None else keys(), values(t), headers())


@st.composite
def batches(draw: st.DrawFn, t: Topic, max_records: int = 6, extra_keys: Sequence[bytes] = ()
            ) -> list[GeneratedRecord]:
    """A few records as one foreign producer might send them: keys drawn from a small pool
    (so one key's records follow each other) or fresh; now and then one near 1 MB."""
    pool = draw(st.lists(keys(extra_keys), min_size=1, max_size=3))
    batch = draw(st.lists(records(t, st.one_of(st.sampled_from(pool), keys(extra_keys))),
                          min_size=1, max_size=max_records))
    # About one batch in eight carries a large record (they are slow): False shrinks first.
    if draw(st.sampled_from((False,) * 7 + (True,))):
        key = draw(st.one_of(valid_keys(), bad_keys()).filter(lambda k: k is None or len(k) <= LARGE_RECORD_KEY_MAX))
        batch.insert(draw(st.integers(0, len(batch))), GeneratedRecord(key, draw(large_values(t))))
    return batch


def poison_records(t: Topic, good_value: bytes) -> st.SearchStrategy[GeneratedRecord]:
    """Records that must end dead-lettered: any generated key with a bad value, and a key
    that cannot run (binary, empty, missing) with ``good_value``. Never a good key with a
    good value: that one runs."""
    return st.one_of(
        st.builds(GeneratedRecord, keys(), bad_values(t), headers()),
        st.builds(GeneratedRecord, bad_keys(), st.just(good_value), headers()),
    )


def draw_examples(strategy: st.SearchStrategy[T], n: int, seed_value: int) -> list[T]:
    """``n`` examples of ``strategy``, the same ones for the same seed: hypothesis run
    outside a test, for tools such as the fault suite."""
    drawn: list[T] = []

    @settings(database=None, max_examples=max(n, 1), deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @seed(seed_value)
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    while len(drawn) < n:
        before = len(drawn)
        collect()
        if len(drawn) == before:  # pragma: no cover - a strategy with nothing to draw
            raise ValueError("the strategy drew no examples")
    return drawn[:n]


def topic_seed(t: Topic, salt: str = "") -> int:
    """A stable seed per topic, so each topic's drawn records differ and repeat run to run."""
    return zlib.crc32(f"{t.name}{salt}".encode())

