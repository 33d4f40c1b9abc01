"""The service's Prometheus metrics: the sink counts each record once per outcome, the
ASGI responder serves them, and `switchyard status` reads them back per topic."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
import restate
from prometheus_client import CollectorRegistry, generate_latest
from restate.exceptions import SdkInternalException
from restate.server_context import restate_context_is_replaying

from schemas.catalogue import topic
from switchyard.core.asgi import with_metrics
from switchyard.core.envelope import DlqReason, ResultError, ResultRecord
from switchyard.core.kafka import AsyncProducer
from switchyard.core.metrics import MULTIPROC_ENV, SinkMetrics, metrics_app
from switchyard.core.settings import CoreSettings, RetrySettings
from switchyard.core.sink import KafkaOrigin, RetriesExhausted, SinkRuntime, _guarded
from switchyard.ops.service_metrics import (
    ServiceMetricsUnavailable,
    TopicRow,
    metrics_urls,
    quantile,
    render,
    rows,
    summary,
)

BENCH = topic("bench-events")
REPO = Path(__file__).resolve().parents[2]


def fresh() -> tuple[CollectorRegistry, SinkMetrics]:
    registry = CollectorRegistry()
    return registry, SinkMetrics(registry)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def call_asgi(app: Any, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One HTTP request through an ASGI app: (status, headers, body)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


# -- the metrics and the responder ------------------------------------------------------


def test_the_responder_serves_the_sinks_counters_as_prometheus_text() -> None:
    registry, metrics = fresh()
    metrics.prime(BENCH.name)
    metrics.took_in(BENCH.name, "inv_1", 3)
    metrics.finished(BENCH.name, "ok", 0.004)
    metrics.finished(BENCH.name, "ok", 0.2)
    metrics.finished(BENCH.name, "failed", 0.03)
    metrics.finished(BENCH.name, "dead_lettered")
    metrics.retried(BENCH.name)

    status, headers, body = call_asgi(metrics_app(registry), "/metrics")

    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    for line in (
        'switchyard_records_received_total{topic="bench-events"} 3.0',
        'switchyard_record_outcomes_total{outcome="ok",topic="bench-events"} 2.0',
        'switchyard_record_outcomes_total{outcome="failed",topic="bench-events"} 1.0',
        'switchyard_record_outcomes_total{outcome="dead_lettered",topic="bench-events"} 1.0',
        'switchyard_record_retries_total{topic="bench-events"} 1.0',
        'switchyard_handler_duration_seconds_bucket{le="0.005",topic="bench-events"} 1.0',
        'switchyard_handler_duration_seconds_bucket{le="0.25",topic="bench-events"} 3.0',
        'switchyard_handler_duration_seconds_count{topic="bench-events"} 3.0',
    ):
        assert line in text.splitlines(), line


def test_a_primed_topic_shows_zeros_before_its_first_record() -> None:
    registry, metrics = fresh()
    metrics.prime("task-queue")
    assert value(registry, "switchyard_records_received_total", topic="task-queue") == 0
    assert value(registry, "switchyard_record_outcomes_total", topic="task-queue", outcome="dead_lettered") == 0
    assert value(registry, "switchyard_handler_duration_seconds_count", topic="task-queue") == 0


def test_metrics_is_answered_before_restate_and_everything_else_goes_to_restate() -> None:
    registry, metrics = fresh()
    metrics.finished(BENCH.name, "ok")
    reached: list[str] = []

    async def restate_app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b"unsigned"})

    app = with_metrics(restate_app, metrics_app(registry))
    status, _, body = call_asgi(app, "/metrics")
    assert status == 200
    assert b'switchyard_record_outcomes_total{outcome="ok",topic="bench-events"} 1.0' in body
    assert reached == []
    for method, path in (("POST", "/discover"), ("GET", "/discover"), ("GET", "/health"),
                         ("POST", "/invoke/BenchCounter/add"), ("POST", "/metrics"), ("GET", "/metrics/x")):
        assert call_asgi(app, path, method)[0] == 401
    assert reached == ["POST /discover", "GET /discover", "GET /health", "POST /invoke/BenchCounter/add",
                       "POST /metrics", "GET /metrics/x"]


def test_records_in_are_counted_once_per_invocation_and_never_on_replay() -> None:
    registry, metrics = fresh()
    metrics.took_in(BENCH.name, "inv_a", 2)
    metrics.took_in(BENCH.name, "inv_a", 2)  # a retried attempt of the same invocation
    token = restate_context_is_replaying.set(True)
    try:
        metrics.took_in(BENCH.name, "inv_b")  # a replay (on another worker, say)
    finally:
        restate_context_is_replaying.reset(token)
    metrics.took_in(BENCH.name, "inv_c")
    assert value(registry, "switchyard_records_received_total", topic=BENCH.name) == 3


def test_records_the_key_gate_dead_letters_count_as_in_and_dead_lettered() -> None:
    registry, metrics = fresh()
    metrics.refused_at_gate(BENCH.name, 2)
    metrics.refused_at_gate(BENCH.name, 0)  # a batch with none refused counts nothing
    metrics.refused_at_gate(BENCH.name, 1)
    assert value(registry, "switchyard_records_received_total", topic=BENCH.name) == 3
    assert value(registry, "switchyard_record_outcomes_total", topic=BENCH.name, outcome="dead_lettered") == 3
    assert value(registry, "switchyard_record_outcomes_total", topic=BENCH.name, outcome="ok") == 0
    assert value(registry, "switchyard_record_outcomes_total", topic=BENCH.name, outcome="failed") == 0
    # No handler ran: no time, no retry.
    assert value(registry, "switchyard_handler_duration_seconds_count", topic=BENCH.name) == 0
    assert value(registry, "switchyard_record_retries_total", topic=BENCH.name) == 0


# -- the sink counts in its publishing steps --------------------------------------------


class FakeProducer:
    def __init__(self) -> None:
        self.produced: list[tuple[str, bytes]] = []

    async def produce(self, topic_name: str, key: bytes, value: bytes, headers: Any = None, *,
                      verbatim_key: bool = False) -> tuple[int, int]:
        self.produced.append((topic_name, key))
        return 0, len(self.produced) - 1


def runtime(metrics: SinkMetrics) -> SinkRuntime:
    return SinkRuntime(cast(AsyncProducer, FakeProducer()), RetrySettings(max_attempts=3), metrics)


ORIGIN = KafkaOrigin(topic=BENCH.name, partition=0, offset=7, key=b"k", timestamp_ms=None)


def test_published_results_and_dead_letters_are_counted_with_their_handler_time() -> None:
    registry, metrics = fresh()
    sink = runtime(metrics)
    ok = ResultRecord(source=ORIGIN.source, target=BENCH.target, ok=True, result={"total": 1, "count": 1})
    failed = ResultRecord(source=ORIGIN.source, target=BENCH.target, ok=False,
                          error=ResultError(code=400, message="no"))
    asyncio.run(sink.publish_results(BENCH, b"k", [ok, failed, ok], [0.002, None, 0.7]))
    asyncio.run(sink.publish_dead_letter(BENCH, ORIGIN, b"{", DlqReason(reason="bad", error_class="ValueError",
                                                                         source=ORIGIN.source)))
    assert value(registry, "switchyard_record_outcomes_total", topic=BENCH.name, outcome="ok") == 2
    assert value(registry, "switchyard_record_outcomes_total", topic=BENCH.name, outcome="failed") == 1
    assert value(registry, "switchyard_record_outcomes_total", topic=BENCH.name, outcome="dead_lettered") == 1
    # A replayed record's time (None) is not observed.
    assert value(registry, "switchyard_handler_duration_seconds_count", topic=BENCH.name) == 2
    assert value(registry, "switchyard_handler_duration_seconds_sum", topic=BENCH.name) == pytest.approx(0.702)


class BudgetCtx:
    """A context whose retry budget step ends the attempt (budget left) or fails for good."""

    def __init__(self, spent: bool) -> None:
        self.spent = spent

    async def run_typed(self, *args: Any, **kwargs: Any) -> None:
        if self.spent:
            raise restate.TerminalError("budget spent")
        raise SdkInternalException()


async def failing() -> None:
    raise RuntimeError("store down")


def test_an_attempt_that_fails_within_the_budget_counts_as_a_retry_and_the_last_one_does_not() -> None:
    registry, metrics = fresh()
    sink = runtime(metrics)
    with pytest.raises(SdkInternalException):
        asyncio.run(_guarded(cast(restate.Context, BudgetCtx(spent=False)), BENCH, sink, "k", failing))
    with pytest.raises(RetriesExhausted):
        asyncio.run(_guarded(cast(restate.Context, BudgetCtx(spent=True)), BENCH, sink, "k", failing))
    assert value(registry, "switchyard_record_retries_total", topic=BENCH.name) == 1


# -- switchyard status: the rows --------------------------------------------------------

SAMPLE = """\
# HELP switchyard_records_received_total Kafka records a sink handler took in (once per record)
# TYPE switchyard_records_received_total counter
switchyard_records_received_total{topic="bench-events"} 12.0
switchyard_records_received_total{topic="task-queue"} 0.0
# TYPE switchyard_record_outcomes_total counter
switchyard_record_outcomes_total{outcome="ok",topic="bench-events"} 9.0
switchyard_record_outcomes_total{outcome="failed",topic="bench-events"} 1.0
switchyard_record_outcomes_total{outcome="dead_lettered",topic="bench-events"} 2.0
switchyard_record_outcomes_total{outcome="ok",topic="task-queue"} 0.0
# TYPE switchyard_record_retries_total counter
switchyard_record_retries_total{topic="bench-events"} 4.0
# TYPE switchyard_handler_duration_seconds histogram
switchyard_handler_duration_seconds_bucket{le="0.01",topic="bench-events"} 0.0
switchyard_handler_duration_seconds_bucket{le="0.1",topic="bench-events"} 5.0
switchyard_handler_duration_seconds_bucket{le="1.0",topic="bench-events"} 9.0
switchyard_handler_duration_seconds_bucket{le="+Inf",topic="bench-events"} 10.0
switchyard_handler_duration_seconds_count{topic="bench-events"} 10.0
switchyard_handler_duration_seconds_sum{topic="bench-events"} 2.5
switchyard_handler_duration_seconds_bucket{le="0.01",topic="task-queue"} 0.0
switchyard_handler_duration_seconds_bucket{le="+Inf",topic="task-queue"} 0.0
switchyard_handler_duration_seconds_count{topic="task-queue"} 0.0
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.5e+08
"""


def test_an_exposition_becomes_one_row_per_topic_with_latency_quantiles() -> None:
    bench, tasks = rows(SAMPLE)
    # p50: rank 5 of 10 ends the (0.01, 0.1] bucket; p99: rank 9.9 is in the +Inf bucket.
    assert bench.p50 == pytest.approx(0.1)
    assert bench == TopicRow(topic="bench-events", received=12, ok=9, failed=1, dead_lettered=2, retried=4,
                             latency_count=10, p50=bench.p50, p99=1.0)
    assert tasks == TopicRow(topic="task-queue", p50=None, p99=None)
    table = render([bench, tasks])
    assert table.splitlines()[0].split() == ["topic", "in", "ok", "failed", "dead-lettered", "retried", "p50", "p99"]
    assert table.splitlines()[1].split() == ["bench-events", "12", "9", "1", "2", "4", "100.0", "ms", "1.00", "s"]
    assert table.splitlines()[2].split() == ["task-queue", "0", "0", "0", "0", "0", "-", "-"]


def test_rows_read_what_the_service_actually_exposes() -> None:
    registry, metrics = fresh()
    metrics.prime(BENCH.name)
    metrics.took_in(BENCH.name, "inv_1", 2)
    for seconds in (0.003, 0.004, 0.02, 0.3):
        metrics.finished(BENCH.name, "ok", seconds)
    [row] = rows(generate_latest(registry).decode())
    assert (row.topic, row.received, row.ok, row.failed, row.dead_lettered, row.latency_count) == (
        BENCH.name, 2, 4, 0, 0, 4)
    assert row.p50 == pytest.approx(0.005)  # rank 2 of 4 ends the (0.0025, 0.005] bucket
    assert row.p99 == pytest.approx(0.49)  # rank 3.96 of 4: 96 % into the (0.25, 0.5] bucket


def test_quantiles_interpolate_within_a_bucket() -> None:
    buckets = {0.1: 0.0, 0.2: 10.0, float("inf"): 10.0}
    assert quantile(0.5, buckets) == pytest.approx(0.15)
    assert quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    assert quantile(0.5, {}) is None


def settings_for(bind: str, deployment_url: str = "http://127.0.0.1:1") -> CoreSettings:
    return CoreSettings(_env_file=None, service={"bind": bind}, restate={"deployment_url": deployment_url})


def test_the_metrics_url_comes_from_the_bind_address_then_the_deployment_url() -> None:
    assert metrics_urls(settings_for("0.0.0.0:9080", "http://host.docker.internal:9080")) == [
        "http://127.0.0.1:9080/metrics", "http://host.docker.internal:9080/metrics"]
    assert metrics_urls(settings_for("[::1]:9080", "http://[::1]:9080")) == ["http://[::1]:9080/metrics"]
    assert metrics_urls(settings_for(":9080", "http://127.0.0.1:9080")) == ["http://127.0.0.1:9080/metrics"]


@pytest.fixture
def fake_service() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = SAMPLE.encode() if self.path == "/metrics" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_summary_scrapes_the_service(fake_service: int) -> None:
    assert [r.topic for r in summary(settings_for(f"127.0.0.1:{fake_service}"))] == ["bench-events", "task-queue"]
    # The bind address does not answer: the deployment URL does.
    assert len(summary(settings_for("127.0.0.1:1", f"http://127.0.0.1:{fake_service}"))) == 2


def test_summary_says_where_it_looked_when_no_service_answers() -> None:
    with pytest.raises(ServiceMetricsUnavailable, match=r"127\.0\.0\.1:1/metrics"):
        summary(settings_for("127.0.0.1:1"))


# -- several workers: prometheus_client's multiprocess mode -----------------------------

WORKER = """
from switchyard.core.metrics import SINK
SINK.prime("bench-events")
SINK.took_in("bench-events", "inv", 2)
SINK.finished("bench-events", "ok", 0.01)
"""
SCRAPE = """
from prometheus_client import generate_latest
from switchyard.core.metrics import exposition_registry
print(generate_latest(exposition_registry()).decode())
"""


def test_with_a_shared_multiprocess_directory_a_scrape_sums_every_worker(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", WORKER], env=env, cwd=REPO, check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", SCRAPE], env=env, cwd=REPO, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    [row] = rows(out)
    assert (row.received, row.ok, row.latency_count) == (4, 2, 2)
