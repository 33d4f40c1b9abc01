"""The operator's view of the pipeline, per input topic: its Restate subscription, the
lag of the subscription's consumer group, the DLQ's size, and the invocations Restate is
retrying or has paused. The windowed rates and latencies come from the stream views
(streams/views.py) and are merged in by the web view.

Plain blocking calls (Kafka admin client, Restate admin API); the web view runs them in
a thread. Restate names each subscription's consumer group after the subscription id
(its options carry ``group.id``); the lag is what the group has not committed yet.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from schemas.catalogue import TOPICS, topic_for_routed
from schemas.streams import InvocationIssue, PipelineRow
from streams.settings import StreamsSettings
from switchyard.core.admin import ComponentDown, RestateAdmin
from switchyard.settings import Settings

log = logging.getLogger(__name__)

# retry_count counts attempts since the partition leader started the invocation: above 1
# means an attempt failed. Paused invocations wait for an operator (`restate inv resume`).
INVOCATIONS_SQL = """
SELECT id, target_service_name, target_handler_name, target_service_key, status, retry_count, last_failure
FROM sys_invocation
WHERE status = 'paused' OR status = 'backing-off' OR (status <> 'completed' AND retry_count > 1)
ORDER BY retry_count DESC
LIMIT 500
"""


# Gaps up to this many offsets are read to count the records in them (see _records_in).
SMALL_GAP = 5
PEEK_TIMEOUT = 2.0
# Above this many unread records the view says the stream worker is behind.
WORKER_BEHIND = 500


@dataclass
class Offsets:
    """Low and high watermarks per (topic, partition)."""

    low: dict[tuple[str, int], int] = field(default_factory=dict)
    high: dict[tuple[str, int], int] = field(default_factory=dict)

    def size(self, topic: str) -> int:
        return sum(h - self.low.get(tp, 0) for tp, h in self.high.items() if tp[0] == topic)

    def partitions(self, topic: str) -> list[int]:
        return sorted(p for t, p in self.high if t == topic)


def gaps(offsets: Offsets, topic: str, committed: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Per partition, the offsets [from, high) a group has not committed; a partition
    without a commit counts from its low watermark (subscriptions start at the earliest)."""
    out = {}
    for p in offsets.partitions(topic):
        high, low = offsets.high[(topic, p)], offsets.low.get((topic, p), 0)
        done = committed.get(p, -1)
        start = done if done >= 0 else low
        if high > start:
            out[p] = (start, high)
    return out


def lag(offsets: Offsets, topic: str, committed: dict[int, int]) -> int:
    """Offsets of ``topic`` a group has not committed (an upper bound on records: a
    transaction's commit marker takes an offset too)."""
    return sum(high - start for start, high in gaps(offsets, topic, committed).values())


def classify(rows: Iterable[dict[str, Any]]) -> list[InvocationIssue]:
    issues = []
    for r in rows:
        status = str(r.get("status") or "")
        retries = int(r.get("retry_count") or 0)
        if status not in ("paused", "backing-off") and retries <= 1:
            continue
        issues.append(InvocationIssue(
            id=str(r["id"]), target=f"{r.get('target_service_name')}/{r.get('target_handler_name')}",
            key=r.get("target_service_key"), status=status, retryCount=retries,
            lastFailure=r.get("last_failure"),
        ))
    return issues


def count_issues(issues: list[InvocationIssue], target: str) -> tuple[int, int]:
    """(retrying, paused) invocations of one sink handler."""
    mine = [i for i in issues if i.target == target]
    return sum(1 for i in mine if i.status != "paused"), sum(1 for i in mine if i.status == "paused")


class Collector:
    """Gathers the non-stream half of the pipeline view; ``problems`` says what did not answer."""

    def __init__(self, settings: StreamsSettings | Settings) -> None:  # the worker's, or the CLI's
        self.settings = settings
        self.problems: list[str] = []
        self._peeker: Consumer | None = None

    def rows(self) -> tuple[list[PipelineRow], list[InvocationIssue]]:
        try:
            return self._rows()
        finally:
            self.close()

    def _rows(self) -> tuple[list[PipelineRow], list[InvocationIssue]]:
        subs, issues = self._restate()
        admin = AdminClient({**self.settings.kafka.client_config(), "log_level": "0"})
        offsets = self._offsets(admin)
        rows = []
        for t in TOPICS:
            # A gated topic's records wait first for the key gate, then for Restate's
            # subscription of the routed topic: its lag is the sum of both.
            mine = subs.get(t.subscribed_topic, [])
            groups = [g for _, g in mine]
            gate = self._lag(admin, offsets, t.name, self.settings.gate.group_id) if t.gated else 0
            lags = [self._lag(admin, offsets, t.subscribed_topic, g) for g in groups]
            known = [x + (gate or 0) for x in lags if x is not None]
            retrying, paused = count_issues(issues, t.target)
            rows.append(PipelineRow(
                topic=t.name, target=t.target, subscriptions=[s for s, _ in mine], consumerGroups=groups,
                lag=max(known) if known else None,
                dlqSize=offsets.size(t.dlq) if offsets.partitions(t.dlq) else None,
                retrying=retrying, paused=paused,
            ))
        self._worker_behind(admin, offsets)
        return rows, issues

    def _restate(self) -> tuple[dict[str, list[tuple[str, str]]], list[InvocationIssue]]:
        admin = RestateAdmin(self.settings.restate.admin_url, timeout=5)
        subs: dict[str, list[tuple[str, str]]] = {}
        try:
            for s in admin.subscriptions():
                group = (s.get("options") or {}).get("group.id", s["id"])
                subs.setdefault(s["source"].rsplit("/", 1)[-1], []).append((s["id"], group))
            issues = classify(admin.query(INVOCATIONS_SQL))
        except (ComponentDown, RuntimeError) as exc:
            self.problems.append(f"Restate: {exc}")
            return subs, []
        finally:
            admin.close()
        return subs, issues

    def _offsets(self, admin: AdminClient) -> Offsets:
        offsets = Offsets()
        names = [name for t in TOPICS for name in {t.name, t.subscribed_topic, t.results, t.dlq}]
        try:
            meta = admin.list_topics(timeout=5).topics
            tps = [TopicPartition(n, p) for n in names if n in meta for p in meta[n].partitions]
            earliest, latest = OffsetSpec.earliest(), OffsetSpec.latest()  # type: ignore[no-untyped-call]
            for spec, into in ((earliest, offsets.low), (latest, offsets.high)):
                for tp, fut in admin.list_offsets({tp: spec for tp in tps}, request_timeout=5).items():
                    into[(tp.topic, tp.partition)] = fut.result().offset
        except KafkaException as exc:
            self.problems.append(f"Kafka at {self.settings.kafka.bootstrap_servers}: {exc}")
        return offsets

    def _worker_behind(self, admin: AdminClient, offsets: Offsets) -> None:
        """Says so when the stream worker itself lags: its newest windows are then still
        filling in, though already closed. (Offsets, not records: the margin is wide.)"""
        group = self.settings.streams.app_id
        names = [name for t in TOPICS for name in (t.name, t.results, t.dlq)]
        tps = [TopicPartition(n, p) for n in names for p in offsets.partitions(n)]
        try:
            result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)],
                                                       request_timeout=5)[group].result()
        except KafkaException as exc:
            log.debug("no offsets for group %s: %s", group, exc)
            return
        committed: dict[str, dict[int, int]] = {}
        for tp in result.topic_partitions:
            committed.setdefault(tp.topic, {})[tp.partition] = tp.offset
        behind = sum(lag(offsets, n, committed.get(n, {})) for n in names)
        if behind > WORKER_BEHIND:
            self.problems.append(f"stream worker (group {group}) is {behind} records behind: "
                                 "the latest windows are still filling in")

    def _lag(self, admin: AdminClient, offsets: Offsets, topic: str, group: str) -> int | None:
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in offsets.partitions(topic)])
        try:
            result = admin.list_consumer_group_offsets([request], request_timeout=5)[group].result()
        except KafkaException as exc:
            log.debug("no offsets for group %s: %s", group, exc)
            return None
        committed = {tp.partition: tp.offset for tp in result.topic_partitions if tp.topic == topic}
        open_gaps = gaps(offsets, topic, committed).values()
        if topic_for_routed(topic) is not None:
            # The key gate writes every batch in a transaction, so a routed partition always
            # ends in a commit marker that no consumer commits past (and reading past a
            # marker at the very end can take seconds): that last offset is not a record.
            return sum(high - start - 1 for start, high in open_gaps)
        return sum(self._records_in(topic, p, start, high) if high - start <= SMALL_GAP else high - start
                   for p, (start, high) in gaps(offsets, topic, committed).items())

    def _records_in(self, topic: str, partition: int, start: int, high: int) -> int:
        """The records a consumer would still get from [start, high). The key gate and a
        replay (`switchyard dlq replay`) write in transactions whose commit marker takes an offset
        that no consumer ever commits past: counted as lag it would show one record
        waiting forever, so small gaps are read to count real records only."""
        if self._peeker is None:
            self._peeker = Consumer({
                **self.settings.kafka.client_config(), "group.id": f"switchyard-pipeline-{uuid.uuid4()}",
                "enable.auto.commit": "false", "isolation.level": "read_committed", "log_level": "0",
                # a fetch that finds only a commit marker comes back at once, not after 500 ms
                "fetch.wait.max.ms": "20",
            })
        peeker = self._peeker
        peeker.assign([TopicPartition(topic, partition, start)])
        found = 0
        deadline = time.monotonic() + PEEK_TIMEOUT
        while time.monotonic() < deadline:
            (tp,) = peeker.position([TopicPartition(topic, partition)])
            if tp.offset >= high:
                return found
            m = peeker.poll(0.1)
            if m is not None and m.error() is None and (m.offset() or 0) < high:
                found += 1
        return high - start  # could not tell in time: the upper bound

    def close(self) -> None:
        if self._peeker is not None:
            self._peeker.close()
            self._peeker = None
