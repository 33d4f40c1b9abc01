"""The service's Prometheus metrics: what the Kafka sink did with each record, per topic.

Served at ``GET /metrics`` on the service's own port (handlers/app.py), in Prometheus
text format; docs/metrics.md lists them beside restate-server's own. The ``topic`` label
is the source topic's name (never the key: one series per key would never end).

Restate replays an invocation's journal after a retry or a suspension, so the sink code
runs more than once per record; each count is taken where a replay does not repeat it:

* outcomes (ok, failed, dead-lettered) and the latency are counted inside the journaled
  step that publishes the outcome, after Kafka acknowledged it: once per record on
  `<topic>-results` / `<topic>-dlq` (a step cut off between the ack and its journal
  entry runs again and publishes, and counts, a second time);
* records in are counted when an invocation starts live, not replaying, and only the
  first time this process sees its invocation id; a record the key gate dead-letters
  (switchyard/core/gate.py) counts as in and dead-lettered once the gate's transaction
  committed, as no handler sees it;
* a retry is an attempt whose failure spends one attempt of the retry budget and ends
  with Restate retrying the invocation (the last attempt of a spent budget is no retry:
  that record is dead-lettered).

The counters are per process and start at zero with it. Several workers
(``service.workers``) are separate processes: a scrape reaches one of them, unless
``PROMETHEUS_MULTIPROC_DIR`` names an empty directory, wiped before every start, shared
by the workers (prometheus_client's multiprocess mode): then every scrape sums them all.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from restate.server_context import restate_context_is_replaying

PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

RECEIVED = "switchyard_records_received"
OUTCOMES = "switchyard_record_outcomes"
RETRIES = "switchyard_record_retries"
LATENCY = "switchyard_handler_duration_seconds"

Outcome = Literal["ok", "failed", "dead_lettered"]
OUTCOME_NAMES: tuple[Outcome, ...] = ("ok", "failed", "dead_lettered")
# From a 1 ms state update (BenchCounter) to a workflow that waits on timers.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   float("inf"))
# Invocation ids remembered per process, so a retried attempt (on this process) is not a
# second record in; a retry comes within the retry budget's backoff, seconds later.
REMEMBERED_INVOCATIONS = 4096

Asgi = Callable[[Any, Any, Any], Awaitable[None]]


def replaying() -> bool:
    """Whether the current Restate invocation is replaying its journal (the SDK's own flag,
    which its logging filter and tracing extension read); False outside a handler."""
    return restate_context_is_replaying.get()


class SinkMetrics:
    """The sink's counters and latency histogram, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.received = Counter(RECEIVED, "Kafka records a sink handler took in, or the key gate dead-lettered "
                                "(once per record)",
                                ["topic"], registry=registry)
        self.outcomes = Counter(
            OUTCOMES, "Kafka records by outcome: ok and failed (a terminal ok:false) results on <topic>-results, "
            "dead_lettered on <topic>-dlq", ["topic", "outcome"], registry=registry)
        self.retries = Counter(RETRIES, "Failed handler attempts that Restate retries (the sink's retry budget)",
                               ["topic"], registry=registry)
        self.latency = Histogram(LATENCY, "Time a record's handler took, for each record with a result",
                                 ["topic"], buckets=LATENCY_BUCKETS, registry=registry)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._topics: dict[str, _TopicSeries] = {}

    def prime(self, topic: str) -> None:
        """Every series of ``topic`` at zero, so a rate sees its first record."""
        self._series(topic)

    def took_in(self, topic: str, invocation_id: str, count: int = 1) -> None:
        """``count`` records arrived in invocation ``invocation_id``: counted unless this
        is a replay, or an attempt of an invocation this process already counted."""
        if count <= 0 or replaying() or not self._first_sight(invocation_id):
            return
        self._series(topic).received.inc(count)

    def finished(self, topic: str, outcome: Outcome, seconds: float | None = None) -> None:
        """One record's outcome was published (call it inside the publishing step)."""
        series = self._series(topic)
        series.outcomes[outcome].inc()
        if seconds is not None:
            series.latency.observe(seconds)

    def refused_at_gate(self, topic: str, count: int) -> None:
        """``count`` records the key gate dead-lettered (a key that cannot be an object
        key), after its transaction committed: they are in and dead-lettered, though no
        handler saw them."""
        if count > 0:
            series = self._series(topic)
            series.received.inc(count)
            series.outcomes["dead_lettered"].inc(count)

    def retried(self, topic: str) -> None:
        self._series(topic).retries.inc()

    def _series(self, topic: str) -> _TopicSeries:
        # The labelled children, looked up once per topic: `labels()` costs microseconds a call.
        series = self._topics.get(topic)
        if series is None:
            series = self._topics[topic] = _TopicSeries(
                received=self.received.labels(topic=topic),
                outcomes={o: self.outcomes.labels(topic=topic, outcome=o) for o in OUTCOME_NAMES},
                retries=self.retries.labels(topic=topic),
                latency=self.latency.labels(topic=topic),
            )
        return series

    def _first_sight(self, invocation_id: str) -> bool:
        if invocation_id in self._seen:
            self._seen.move_to_end(invocation_id)
            return False
        self._seen[invocation_id] = None
        if len(self._seen) > REMEMBERED_INVOCATIONS:
            self._seen.popitem(last=False)
        return True


@dataclass(frozen=True)
class _TopicSeries:
    received: Counter
    outcomes: dict[str, Counter]
    retries: Counter
    latency: Histogram


SINK = SinkMetrics()  # the process's own, in prometheus_client's default registry


def exposition_registry() -> CollectorRegistry:
    """What ``/metrics`` shows: this process's registry (the sink's metrics and the
    process's own, memory and CPU), or, in multiprocess mode, every worker's sink metrics."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def metrics_app(registry: CollectorRegistry | None = None) -> Asgi:
    """The ASGI responder for ``GET /metrics``: Prometheus text, or OpenMetrics when the
    scraper's Accept header asks for it."""
    source = registry if registry is not None else exposition_registry()

    async def respond(scope: Any, receive: Any, send: Any) -> None:
        accept = ",".join(v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == b"accept")
        encoder, content_type = choose_encoder(accept)
        body = encoder(source)
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})

    return respond


def is_metrics_request(scope: Any) -> bool:
    return bool(scope.get("type") == "http" and scope.get("path") == PATH and scope.get("method") in ("GET", "HEAD"))
