"""The stream workers against the real broker: window counts and latencies match the
traffic sent, and a velocity breach raises exactly one alert per window."""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import TOPICS, stream_topic, topic
from schemas.streams import RiskAlert
from streams import histogram
from streams.commands import show_pipeline
from streams.windows import window_start
from switchyard.cli import main as cli
from switchyard.core.results import Record, TopicReader
from switchyard.stack.ephemeral import free_ports
from switchyard.stack.stack import settings_env
from tests.integration.kafka_driver import source_of

PACKAGES = topic("package-location-updates")
DEPOSITS = topic("wallet-deposits")
ALERTS = stream_topic("risk-alerts")


def produce_at(settings: Settings, topic_name: str, records: list[tuple[str, bytes]], ts_ms: int | list[int]
               ) -> list[tuple[str, int, int]]:
    """Produces with explicit record timestamps; returns where each record landed, in order."""
    producer = Producer({**settings.kafka.client_config(), "enable.idempotence": "true", "log_level": "3"})
    stamps = ts_ms if isinstance(ts_ms, list) else [ts_ms] * len(records)
    landed: list[Any] = [None] * len(records)
    for i, ((key, value), stamp) in enumerate(zip(records, stamps, strict=True)):
        def report(err: Any, msg: Any, i: int = i) -> None:
            assert err is None, err
            landed[i] = (msg.topic(), msg.partition(), msg.offset())
        producer.produce(topic_name, key=key.encode(), value=value, timestamp=stamp, on_delivery=report)
    assert producer.flush(30) == 0
    return landed


def web_json(settings: Settings, path: str) -> Any:
    response = httpx.get(f"http://{settings.streams.web_bind}{path}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def window_of(view: dict[str, Any], start_ms: int) -> dict[str, Any]:
    return next(w for w in view["windows"] if w["start"] == start_ms)


def eventually(check: Any, timeout: float = 45.0, interval: float = 0.5) -> Any:
    """Calls ``check`` until it stops raising AssertionError; re-raises the last one."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


def await_fresh_window(size: int, within: float = 1.0) -> int:
    """Sleeps until a window of ``size`` s has just begun; returns now in ms. Records
    stamped now then share that window with nothing sent before this test."""
    now = time.time()
    if now - window_start(now, size) > within:
        time.sleep(window_start(now, size) + size - now + 0.05)
    return int(time.time() * 1000)


def test_window_counts_and_latency_match_the_traffic(
    settings: Settings, ingress: httpx.Client, unique: str
) -> None:
    sizes = [int(w.total_seconds()) for w in settings.streams.windows]
    registered = f"{unique}-pkg"
    assert ingress.post(f"/PackageTracker/{registered}/registerPackage",
                        json={"finalDestination": "Ghent"}).status_code == 200
    loc = json.dumps({"timestamp": "10:00", "location": "Bruges"}).encode()
    records = ([(registered, loc)] * 12 + [(f"{unique}-ghost-{i}", loc) for i in range(4)]
               + [(f"{unique}-bad-{i}", b"not json") for i in range(2)])
    with TopicReader(settings.kafka.client_config(), [PACKAGES.results, PACKAGES.dlq]) as reader:
        t0 = await_fresh_window(max(sizes))
        sent = set(produce_at(settings, PACKAGES.name, records, t0))
        outcomes = reader.collect(lambda rs: sent <= {source_of(r) for r in rs}, timeout=60)
    mine = [r for r in outcomes if source_of(r) in sent]
    results = [r for r in mine if r.topic == PACKAGES.results]
    assert len(results) == 16
    assert sum(1 for r in results if r.json()["ok"]) == 12
    assert sum(1 for r in mine if r.topic == PACKAGES.dlq) == 2

    for size in sizes:
        expected = expected_windows(results, mine, t0, size)

        def check(size: int = size, expected: dict[int, dict[str, Any]] = expected) -> None:
            view = web_json(settings, f"/views/traffic/{PACKAGES.name}/?window={size}")
            assert window_of(view, window_start(t0 / 1000, size) * 1000)["recordsIn"] == 18
            for start_ms, want in expected.items():
                got = window_of(view, start_ms)
                assert (got["resultsOk"], got["resultsFailed"], got["dlq"]) == (want["ok"], want["failed"], want["dlq"])
                assert_latency(got["latencyMs"], want["latencies"])

        eventually(check)


def expected_windows(results: list[Record], mine: list[Record], t0: int, size: int) -> dict[int, dict[str, Any]]:
    """What each window should say about these records, from their own timestamps."""
    out: dict[int, dict[str, Any]] = defaultdict(lambda: {"ok": 0, "failed": 0, "dlq": 0, "latencies": []})
    for r in mine:
        w = out[window_start(r.timestamp_ms / 1000, size) * 1000]
        if r.topic == PACKAGES.dlq:
            w["dlq"] += 1
            continue
        w["ok" if r.json()["ok"] else "failed"] += 1
        w["latencies"].append(r.timestamp_ms - t0)
    assert results
    return dict(out)


def assert_latency(got: dict[str, Any], latencies: list[int]) -> None:
    assert got["count"] == len(latencies)
    if not latencies:
        return
    ordered = sorted(latencies)
    assert (got["min"], got["max"]) == (ordered[0], ordered[-1])
    for q, name in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        exact = ordered[max(1, math.ceil(q * len(ordered))) - 1]
        # A log-scale histogram: within one bucket of the exact value (or exact below 1 ms).
        assert exact / histogram.GROWTH - 1 <= got[name] <= exact * histogram.GROWTH + 1, (name, exact, got)


def deposit(user: str, amount: int) -> bytes:
    return json.dumps({"walletId": f"w-{user}", "userId": user, "email": f"{user}@example.com",
                       "amount": amount, "paymentMethod": "card"}).encode()


def test_a_velocity_breach_raises_one_alert_per_window(settings: Settings, unique: str) -> None:
    s = settings.streams
    size = int(s.velocity_window.total_seconds())
    current = window_start(time.time(), size)
    previous = current - size
    hot, calm, big = f"{unique}-hot", f"{unique}-calm", f"{unique}-big"
    n = s.velocity_max_count + 2
    batches = [
        (previous, [(f"{hot}-a{i}", deposit(hot, 10)) for i in range(n)]),
        (previous, [(f"{calm}-{i}", deposit(calm, 10)) for i in range(s.velocity_max_count)]),
        (current, [(f"{hot}-b{i}", deposit(hot, 10)) for i in range(n)]),
        (current, [(f"{big}-0", deposit(big, s.velocity_max_sum + 1))]),
    ]
    with TopicReader(settings.kafka.client_config(), [ALERTS.name]) as reader:
        for start, records in batches:
            produce_at(settings, DEPOSITS.name, records, [start * 1000 + 50 * i for i in range(len(records))])
        # Three alerts are owed; wait for them, then a while longer for any that should not come.
        got = reader.collect(lambda rs: len(mine(rs, unique)) >= 3, timeout=45)
        got += reader.collect(lambda rs: False, timeout=4)
    alerts = mine(got, unique)
    by_user = sorted((a.userId, a.windowStart) for a in alerts)
    assert by_user == sorted([(hot, previous * 1000), (hot, current * 1000), (big, current * 1000)])
    for a in alerts:
        assert a.windowEnd - a.windowStart == size * 1000
        if a.userId == hot:
            assert (a.breached, a.depositCount, a.depositSum) == (["count"], s.velocity_max_count + 1,
                                                                  10 * (s.velocity_max_count + 1))
        else:
            assert (a.breached, a.depositCount, a.depositSum) == (["sum"], 1, s.velocity_max_sum + 1)
    served = web_json(settings, "/views/alerts/")["alerts"]
    assert {(a["userId"], a["windowStart"]) for a in served} >= set(by_user)


def mine(records: list[Record], unique: str) -> list[RiskAlert]:
    alerts = [RiskAlert.model_validate_json(r.value or b"") for r in records]
    for r, a in zip(records, alerts, strict=True):
        assert r.key_text == a.userId
    return [a for a in alerts if a.userId.startswith(unique)]


@pytest.mark.parametrize(("path", "status", "needle"), [
    ("/views/traffic/?window=7", 400, "window: expected one of"),
    ("/views/traffic/no-such-topic/", 404, "topic: unknown input topic"),
    ("/pipeline/..%2Fapp.py", 404, "no such file"),
])
def test_bad_view_requests_say_what_is_wrong(settings: Settings, path: str, status: int, needle: str) -> None:
    response = httpx.get(f"http://{settings.streams.web_bind}{path}", timeout=10)
    assert response.status_code == status
    assert needle in response.json()["error"]


def test_the_pipeline_command_prints_every_topic_from_the_view(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    assert cli.main(["pipeline", "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["windowSeconds"] == max(int(w.total_seconds()) for w in settings.streams.windows)
    subscriptions = {r["topic"]: r["subscriptions"] for r in view["rows"]}
    assert set(subscriptions) == {t.name for t in TOPICS}
    assert all(len(ids) == 1 for ids in subscriptions.values()), subscriptions

    assert cli.main(["pipeline", "--window", "2"]) == 0
    out = capsys.readouterr().out
    assert "window figures: the last closed 2 s window" in out
    for t in TOPICS:
        line = next(line for line in out.splitlines() if line.startswith(f"{t.name} "))
        assert subscriptions[t.name][0] in line

    assert cli.main(["pipeline", "--window", "7"]) == 2
    assert "error: window: expected one of" in capsys.readouterr().err

    # With the stream worker away, the live half (subscriptions, lag, DLQ size) still shows.
    (closed,) = free_ports(1)
    away = {**settings.streams.model_dump(mode="json"), "web_bind": f"127.0.0.1:{closed}"}
    monkeypatch.setenv("SWITCHYARD_STREAMS", json.dumps(away))
    assert cli.main(["pipeline"]) == 0
    out = capsys.readouterr().out
    assert f"problem: stream worker at http://127.0.0.1:{closed}/views/pipeline/ not answering" in out
    for t in TOPICS:
        assert subscriptions[t.name][0] in next(line for line in out.splitlines() if line.startswith(f"{t.name} "))


def test_the_demo_ends_with_the_pipeline_table(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    show_pipeline(settings)
    out = capsys.readouterr().out
    assert f"live at http://{settings.streams.web_bind}/pipeline/" in out
    for t in TOPICS:
        assert any(line.startswith(f"{t.name} ") for line in out.splitlines()), t.name
