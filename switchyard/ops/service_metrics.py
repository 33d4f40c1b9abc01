"""The service's own metrics, per input topic, for `switchyard status`.

Scrapes the service's ``/metrics`` (switchyard/core/metrics.py) and turns the counters
and the latency histogram into one row per topic. The counts are since the scraped
process started; p50/p99 are estimated from the histogram's buckets as Prometheus's
``histogram_quantile`` does, over the same span (not a recent window).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from switchyard.core.metrics import LATENCY, OUTCOMES, PATH, RECEIVED, RETRIES
from switchyard.core.settings import CoreSettings, split_host_port
from switchyard.core.text import render_table

WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


class ServiceMetricsUnavailable(Exception):
    """No service answered on any of its metrics URLs; the message names them."""


@dataclass(frozen=True)
class TopicRow:
    topic: str
    received: int = 0
    ok: int = 0
    failed: int = 0
    dead_lettered: int = 0
    retried: int = 0
    latency_count: int = 0
    p50: float | None = None  # seconds
    p99: float | None = None


def metrics_urls(settings: CoreSettings) -> list[str]:
    """Where the service's metrics are: its bind address (loopback if it binds every
    interface), then the address Restate reaches it at (`restate.deployment_url`)."""
    host, port = split_host_port(settings.service.bind)
    if host in WILDCARDS:
        host = "127.0.0.1"
    urls = [f"http://{_bracketed(host)}:{port}{PATH}"]
    deployment = urlsplit(settings.restate.deployment_url)
    urls.append(f"{deployment.scheme}://{deployment.netloc}{PATH}")
    return list(dict.fromkeys(urls))


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def scrape(settings: CoreSettings, timeout: float = 2.0) -> str:
    """The exposition text from the first metrics URL that answers."""
    failures = []
    for url in metrics_urls(settings):
        try:
            response = httpx.get(url, timeout=timeout)
        except httpx.HTTPError as exc:
            failures.append(f"{url}: {type(exc).__name__}")
            continue
        if response.status_code == 200:
            return response.text
        failures.append(f"{url}: HTTP {response.status_code}")
    raise ServiceMetricsUnavailable("service metrics unavailable (" + "; ".join(failures) + ")")


def summary(settings: CoreSettings) -> list[TopicRow]:
    """One row per input topic the service has a sink for, sorted by topic; raises
    ServiceMetricsUnavailable if the service does not answer."""
    return rows(scrape(settings))


@dataclass
class _Tally:
    received: float = 0.0
    outcomes: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    retried: float = 0.0
    buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))
    count: float = 0.0


def rows(text: str) -> list[TopicRow]:
    """The per-topic rows of a Prometheus text exposition of the service's metrics
    (samples of one topic from several processes are added up)."""
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            topic = sample.labels.get("topic")
            if topic is None:
                continue
            tally = tallies[topic]
            if sample.name == f"{RECEIVED}_total":
                tally.received += sample.value
            elif sample.name == f"{OUTCOMES}_total":
                tally.outcomes[sample.labels.get("outcome", "")] += sample.value
            elif sample.name == f"{RETRIES}_total":
                tally.retried += sample.value
            elif sample.name == f"{LATENCY}_bucket":
                tally.buckets[float(sample.labels["le"])] += sample.value
            elif sample.name == f"{LATENCY}_count":
                tally.count += sample.value
    return [
        TopicRow(topic=topic, received=int(t.received), ok=int(t.outcomes["ok"]), failed=int(t.outcomes["failed"]),
                 dead_lettered=int(t.outcomes["dead_lettered"]), retried=int(t.retried), latency_count=int(t.count),
                 p50=quantile(0.5, t.buckets), p99=quantile(0.99, t.buckets))
        for topic, t in sorted(tallies.items())
    ]


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The ``q`` quantile from cumulative histogram buckets (upper bound -> count), by
    linear interpolation within the bucket it falls in, as Prometheus estimates it; the
    highest finite bound if it falls in the +Inf bucket; None with no observations."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]) or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower  # not reached: the +Inf bucket holds every observation


def render(rows: list[TopicRow]) -> str:
    """The rows as a text table for `switchyard status`."""
    if not rows:
        return "no Kafka sink metrics yet (the service has registered no sink handler)"
    header = ("topic", "in", "ok", "failed", "dead-lettered", "retried", "p50", "p99")
    table = [(r.topic, r.received, r.ok, r.failed, r.dead_lettered, r.retried, _duration(r.p50), _duration(r.p99))
             for r in rows]
    return render_table(header, table, right=range(1, len(header)))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"
