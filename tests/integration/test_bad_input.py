"""The bad-input suite: property-based bad records on every input topic, interleaved with
valid ones on the same keys.

Each topic gets one batch: hypothesis draws bad values (wrong types, missing and extra
fields, huge strings, deep nesting, invalid UTF-8, empty values, non-JSON, non-objects),
plus one value just under Kafka's record limit, spread over a few keys with valid records
after them. The oracle is the topic's schema: a value it refuses must end in `T-dlq`
(original bytes, a reason in the headers, no state changed); a value it takes must end in
`T-results` (ok, or a terminal failure with a message). Every record gets an outcome
within the deadline, so no key stalled behind a bad one.

Only topics whose handler is registered are covered (tests/examples.py); the unit test
tests/unit/test_catalogue_coverage.py fails while any is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import Topic
from switchyard.core.kafka import InvalidKeyError, RecordProducer, producer_config
from switchyard.core.results import TopicReader
from switchyard.ops.produce import MAX_RECORD_BYTES, RecordError, produce
from tests.examples import Example, example, http_path, keys, served_topics
from tests.integration.kafka_driver import KafkaDriver, Outcome

TOPICS = served_topics()
BAD_PER_KIND = 3  # 27 bad records per topic
KEYS_PER_TOPIC = 4
VALID_PER_KEY = 2
NEAR_LIMIT = MAX_RECORD_BYTES - 8_192  # room for the key and the DLQ's reason headers

JsonPath = tuple[str, ...]
Labelled = tuple[str, bytes]  # (what kind of bad value, the bytes)


def json_paths(value: dict[str, Any], prefix: JsonPath = ()) -> list[JsonPath]:
    out: list[JsonPath] = []
    for name, inner in value.items():
        out.append((*prefix, name))
        if isinstance(inner, dict):
            out += json_paths(inner, (*prefix, name))
    return out


def with_at(value: dict[str, Any], path: JsonPath, new: Any) -> dict[str, Any]:
    copy = deepcopy(value)
    parent = copy
    for name in path[:-1]:
        parent = parent[name]
    parent[path[-1]] = new
    return copy


def without(value: dict[str, Any], path: JsonPath) -> dict[str, Any]:
    copy = deepcopy(value)
    parent = copy
    for name in path[:-1]:
        parent = parent[name]
    del parent[path[-1]]
    return copy


SLOT = "@@slot@@"


def spliced(value: dict[str, Any], path: JsonPath, raw: bytes) -> bytes:
    """The value as JSON with ``raw`` bytes in place of the field at ``path``."""
    return json.dumps(with_at(value, path, SLOT)).encode().replace(f'"{SLOT}"'.encode(), raw)


JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
INVALID_UTF8 = st.sampled_from([b"\xff", b"\xfe\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"])


def bad_values(ex: Example) -> dict[str, st.SearchStrategy[bytes]]:
    """Per kind of bad value, a strategy drawing it from the topic's valid example."""
    value = ex.value
    paths = st.sampled_from(json_paths(value))

    def dumped(make: Callable[[Any], dict[str, Any]], inner: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
        return inner.map(lambda arg: json.dumps(make(arg)).encode())

    extra_fields = st.dictionaries(st.text(min_size=1, max_size=10).filter(lambda k: k not in value), JSON_VALUES,
                                   min_size=1, max_size=2)
    return {
        "wrong type": dumped(lambda pv: with_at(value, *pv), st.tuples(paths, JSON_VALUES)),
        "missing field": dumped(lambda p: without(value, p), paths),
        "extra field": dumped(lambda extra: {**value, **extra}, extra_fields),
        "huge string": st.tuples(paths, st.integers(10_001, 300_000)).map(
            lambda pn: spliced(value, pn[0], b'"' + b"x" * pn[1] + b'"')),
        "deep nesting": st.tuples(paths, st.integers(200, 50_000)).map(
            lambda pn: spliced(value, pn[0], b"[" * pn[1] + b"]" * pn[1])),
        "invalid UTF-8": st.tuples(paths, st.text(max_size=5), INVALID_UTF8).map(
            lambda pti: spliced(value, pti[0], b'"' + pti[1].encode() + pti[2] + b'"')),
        "empty": st.sampled_from([b"", b" ", b"\n", b"{}"]),
        "not JSON": st.binary(min_size=1, max_size=64),
        "not an object": JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    }


def bad_batch(ex: Example, per_kind: int) -> list[Labelled]:
    return [(kind, raw) for kind, strategy in bad_values(ex).items() for raw in draw(strategy, per_kind)]


def draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` distinct values, the same on every run (derandomized, no example database)."""
    out: list[Any] = []

    @hypothesis_settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out[:n]


def near_limit(ex: Example) -> bytes:
    """A value just under the record limit: a string field of the example padded out
    (an extra field if it has none)."""
    path = next((p for p in json_paths(ex.value) if isinstance(_at(ex.value, p), str)), ("padding",))
    base = spliced(ex.value, path, b'""')
    return spliced(ex.value, path, b'"' + b"x" * (NEAR_LIMIT - len(base)) + b'"')


def _at(value: dict[str, Any], path: JsonPath) -> Any:
    found: Any = value
    for name in path:
        found = found.get(name) if isinstance(found, dict) else None
    return found


def refused(t: Topic, raw: bytes) -> bool:
    try:
        t.parse(raw)
    except ValueError:
        return True
    return False


def batch(t: Topic, prefix: str) -> list[tuple[str, str, bytes]]:
    """(kind, key, value) in send order: on each key, bad records first, then valid ones.
    A workflow runs once per key, so there every record gets a key of its own."""
    ex = example(t)
    shared = draw(keys(prefix), KEYS_PER_TOPIC)
    bad: list[Labelled] = [*bad_batch(ex, BAD_PER_KIND), ("near the size limit", near_limit(ex))]
    records = [(kind, shared[i % len(shared)], raw) for i, (kind, raw) in enumerate(bad)]
    records += [("valid", key, ex.encoded()) for _ in range(VALID_PER_KEY) for key in shared]
    if t.kind == "workflow":
        records = [(kind, f"{key}-{n}", raw) for n, (kind, key, raw) in enumerate(records)]
    return records


def check_outcome(t: Topic, kind: str, raw: bytes, outcome: Outcome) -> None:
    where = f"{t.name} {kind} record {raw[:80]!r} (key {outcome.key!r})"
    if refused(t, raw):
        assert outcome.dead_lettered, f"{where}: schema refuses it but it was not dead-lettered"
        assert outcome.record.value == raw, f"{where}: DLQ value is not the original bytes"
        assert outcome.record.key == outcome.key.encode(), f"{where}: DLQ key is not the original key"
        assert outcome.record.header("error.reason"), f"{where}: DLQ record has no reason"
        assert outcome.record.header("error.class"), f"{where}: DLQ record has no error class"
        assert outcome.record.header("source.topic") == t.name
        return
    assert not outcome.dead_lettered, f"{where}: valid but dead-lettered: {outcome.record.header('error.reason')}"
    expect = example(t).expect if kind == "valid" else "either"
    if expect == "ok":
        assert outcome.ok, f"{where}: failed: {outcome.error}"
    elif expect == "failure":
        assert not outcome.ok, f"{where}: expected a terminal failure, got {outcome.result!r}"
    if not outcome.ok:
        assert outcome.error.get("message"), f"{where}: a failure result without a message"


@pytest.mark.parametrize("t", TOPICS, ids=lambda t: t.name)
def test_bad_records_end_in_the_dlq_and_no_key_stalls(
    t: Topic, kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    records = batch(t, unique)
    prepare = example(t).prepare
    if prepare is not None:
        for key in sorted({key for _, key, _ in records}):
            prepare(ingress, key)
    outcomes = kafka.send(t, [(key, raw) for _, key, raw in records], timeout=60)
    for (kind, _, raw), outcome in zip(records, outcomes, strict=True):
        check_outcome(t, kind, raw, outcome)


def test_dead_letters_change_no_state(kafka: KafkaDriver, ingress: httpx.Client, unique: str) -> None:
    """On PackageTracker (whose state the contract shows): only the valid records land."""
    t = next((t for t in TOPICS if t.name == "package-location-updates"), None)
    assert t is not None, "PackageTracker/updateLocation is not registered"
    key, prepare = f"{unique}-pkg", example(t).prepare
    assert prepare is not None
    prepare(ingress, key)
    bad = [raw for _, raw in bad_batch(example(t), 1) if refused(t, raw)]
    good = [json.dumps({"timestamp": "13:00", "location": f"stop {n}"}).encode() for n in range(3)]
    assert len(bad) >= len(good)
    records = []
    for n, raw in enumerate(bad):  # bad, good, bad, good, bad, good, bad, bad, ...
        records += [(key, raw), *((key, g) for g in good[n:n + 1])]
    kafka.send(t, records, timeout=60)
    info = ingress.get(f"/PackageTracker/{key}/getPackageInfo").json()
    assert [loc["location"] for loc in info["locations"]] == ["stop 0", "stop 1", "stop 2"]


@pytest.mark.parametrize("t", TOPICS, ids=lambda t: t.name)
def test_bad_http_bodies_get_a_4xx_with_a_message(t: Topic, ingress: httpx.Client, unique: str) -> None:
    ex = example(t)
    bodies = [raw for _, raw in bad_batch(ex, 2) if refused(t, raw)]
    if ex.prepare is not None:
        ex.prepare(ingress, unique)
    for n, body in enumerate(bodies):
        if ex.http_empty_body_ok and not body.strip():
            continue
        key = f"{unique}-{n}" if t.kind == "workflow" else unique
        response = ingress.post(http_path(t, key), content=body, headers={"content-type": "application/json"})
        where = f"POST {http_path(t, key)} with {body[:80]!r}"
        assert 400 <= response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        message = response.json().get("message", "")
        assert message, f"{where}: no message"
    for field in ex.value if ex.http_names_fields else []:
        body = json.dumps(without(ex.value, (field,))).encode()
        key = f"{unique}-missing-{field}" if t.kind == "workflow" else unique
        response = ingress.post(http_path(t, key), content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert field in response.json()["message"], response.text


@pytest.mark.parametrize("t", TOPICS, ids=lambda t: t.name)
def test_a_tombstone_is_dead_lettered_and_its_key_flows(
    t: Topic, settings: Settings, ingress: httpx.Client, unique: str
) -> None:
    """A record without a value (a tombstone, which no producer here sends) is a bad record too."""
    ex = example(t)
    key = unique
    after = f"{unique}-after" if t.kind == "workflow" else key  # a workflow runs once per key
    if ex.prepare is not None:
        ex.prepare(ingress, after)
    producer = Producer(producer_config(settings.kafka.client_config()))
    with TopicReader(settings.kafka.client_config(), [t.results, t.dlq]) as reader:
        producer.produce(t.name, key=key.encode(), value=None)
        producer.produce(t.name, key=after.encode(), value=ex.encoded())
        assert producer.flush(30) == 0
        mine = {key.encode(), after.encode()}
        got = reader.collect(lambda rs: sum(r.key in mine for r in rs) >= 2, timeout=60)
    dead = [r for r in got if r.key == key.encode() and r.topic == t.dlq]
    results = [r for r in got if r.key == after.encode() and r.topic == t.results]
    assert len(dead) == 1, [(r.topic, r.key, r.value) for r in got]
    assert not dead[0].value
    assert dead[0].header("error.reason")
    assert len(results) == 1, [(r.topic, r.key, r.value) for r in got]
    if ex.expect != "either":
        assert results[0].json()["ok"] is (ex.expect == "ok"), results[0].value


def produce_lines(settings: Settings, t: Topic, lines: bytes) -> subprocess.CompletedProcess[bytes]:
    """`switchyard produce T --file -`: lines of key:json on standard input, as the seed
    READMEs type them, each checked before any is sent."""
    env = {**os.environ, "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers}
    return subprocess.run([Path(sys.executable).parent / "switchyard", "produce", t.name, "--file", "-"],
                          input=lines, capture_output=True, timeout=60, check=False, env=env)


def test_an_oversized_record_is_refused_naming_its_size(settings: Settings, unique: str) -> None:
    t = TOPICS[0]
    too_big = b'{"x": "' + b"y" * MAX_RECORD_BYTES + b'"}'
    producer = RecordProducer(settings.kafka.client_config())
    with pytest.raises(RecordError, match=f"{len(too_big)} bytes is too large"):
        produce(producer, t, [(unique, too_big)], validate=False)
    done = produce_lines(settings, t, unique.encode() + b":" + too_big + b"\n")
    assert done.returncode == 2
    assert f"line 1: value of {len(too_big)} bytes is too large".encode() in done.stderr, done.stderr


def test_keys_that_are_not_utf8_are_refused(settings: Settings) -> None:
    """Restate stops a subscription at a key that is not UTF-8 ("The Kafka record key must
    be valid UTF-8"), so every producer here refuses one, naming it."""
    t = TOPICS[0]
    value = example(t).encoded()
    producer = RecordProducer(settings.kafka.client_config())
    with pytest.raises(InvalidKeyError, match="not valid UTF-8"):
        producer.send(t.name, b"\xff\xfe", value)
    with pytest.raises(RecordError, match=r"key 'bad\\udcff'\): key: not encodable as UTF-8"):
        produce(producer, t, [("bad\udcff", value)], validate=False)
    env = {**os.environ, "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers}
    cli = [os.fsencode(Path(sys.executable).parent / "switchyard"), b"produce", t.name.encode(),
           b"--key", b"bad\xff", b"--value", value]
    done = subprocess.run(cli, capture_output=True, timeout=60, check=False, env=env)
    assert done.returncode == 2
    assert b"key 'bad\\udcff'" in done.stderr
    assert b"not encodable as UTF-8" in done.stderr
    done = produce_lines(settings, t, b"ok-key:" + value + b"\n\xff\xfe:" + value + b"\n")
    assert done.returncode == 2
    assert b"line 2: key: not valid UTF-8" in done.stderr
    assert b"(key b'\\xff\\xfe')" in done.stderr


def test_records_without_key_are_refused_by_switchyard_produce(settings: Settings) -> None:
    """Without a key every record would share one (the object "", or the idempotency key of
    a plain service: a second payment would get the first one's answer)."""
    t = TOPICS[0]
    done = produce_lines(settings, t, example(t).encoded() + b"\n")
    assert done.returncode == 2
    assert f"line 1: no key: {t.name} is keyed by {t.key}".encode() in done.stderr, done.stderr
