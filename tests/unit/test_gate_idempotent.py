"""The key gate's idempotent mode (gate.mode, issue 24): a batch's source offsets are
committed only once every copy of it is acknowledged, and a batch copied again after a
crash between the copies and the commit is applied once, by the sinks' applied marks. No
broker here: the gate runs on stand-in clients."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from schemas.catalogue import topic
from switchyard.core.envelope import parse_routed
from switchyard.core.gate import KeyGate
from switchyard.core.pending_offsets import PendingOffsets
from switchyard.core.settings import GateSettings, KafkaSettings
from switchyard.core.sink import KafkaOrigin, is_repeat

BENCH = topic("bench-events")


class Msg:
    def __init__(self, name: str, partition: int, offset: int, key: bytes | None, value: bytes = b"{}") -> None:
        self._args = name, partition, offset, key, value

    def topic(self) -> str:
        return self._args[0]

    def partition(self) -> int:
        return self._args[1]

    def offset(self) -> int:
        return self._args[2]

    def key(self) -> bytes | None:
        return self._args[3]

    def value(self) -> bytes:
        return self._args[4]

    def error(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return 1, 1_000 + self._args[2]


class Producer:
    """Holds each produce until flush, then reports it delivered (or failed with ``fail``)."""

    def __init__(self, fail: KafkaError | None = None, stuck: bool = False) -> None:
        self.fail, self.stuck = fail, stuck
        self.pending: list[tuple[str, bytes | None, Any]] = []
        self.delivered: list[tuple[str, bytes | None]] = []

    def produce(self, name: str, key: bytes | None = None, value: bytes | None = None, partition: int = -1,
                headers: Any = None, on_delivery: Any = None) -> None:
        self.pending.append((name, value, on_delivery))

    def flush(self, timeout: float) -> int:
        if self.stuck:
            return len(self.pending)
        for name, value, report in self.pending:
            report(self.fail, None)
            if self.fail is None:
                self.delivered.append((name, value))
        self.pending = []
        return 0


class Consumer:
    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.commits: list[tuple[list[tuple[str, int, int]], int]] = []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        # What was acknowledged when the commit went out: all of the batch, or the test fails.
        self.commits.append(([(tp.topic, tp.partition, tp.offset) for tp in offsets], len(self.producer.pending)))


def gate() -> KeyGate:
    g = KeyGate(KafkaSettings(), GateSettings(mode="idempotent"), "gate-test", [BENCH])
    g._routed_partitions = {BENCH.routed: 4}  # no metadata requests
    return g


BATCH = [Msg(BENCH.name, 0, 10, b"a"), Msg(BENCH.name, 1, 7, b"b"), Msg(BENCH.name, 0, 11, b"a"),
         Msg(BENCH.name, 1, 8, b"\xff\xfe")]  # the last is dead-lettered


def test_the_offsets_are_committed_only_after_every_copy_is_acknowledged() -> None:
    g, producer = gate(), Producer()
    consumer = Consumer(producer)
    g._forward_idempotent(consumer, producer, BATCH)  # type: ignore[arg-type]
    [(offsets, unacknowledged)] = consumer.commits
    assert unacknowledged == 0
    assert sorted(offsets) == [(BENCH.name, 0, 12), (BENCH.name, 1, 9)]  # the next record to read
    # Key a's two records travel as one routed batch, b's alone; the bad key goes to the DLQ.
    assert sorted(name for name, _ in producer.delivered) == [BENCH.dlq, BENCH.routed, BENCH.routed]
    assert (g.routed, g.dead_lettered) == (3, 1)


@pytest.mark.parametrize("producer", [Producer(fail=KafkaError(KafkaError._MSG_TIMED_OUT)), Producer(stuck=True)],
                         ids=["a copy failed", "copies unacknowledged"])
def test_a_batch_not_fully_acknowledged_commits_nothing_and_is_read_again(producer: Producer) -> None:
    g = gate()
    consumer = Consumer(producer)
    with pytest.raises(KafkaException):  # the gate rebuilds its clients, from the last commit
        g._forward_idempotent(consumer, producer, BATCH)  # type: ignore[arg-type]
    assert consumer.commits == []
    assert (g.routed, g.dead_lettered) == (0, 0)


def applied_once_in_order(routed_log: list[bytes]) -> list[int]:
    """What an object applies from its routed copies: the sink's high-water mark check."""
    mark: list[int | None] | None = None
    applied: list[int] = []
    for raw in routed_log:
        for envelope in parse_routed(raw):
            s = envelope.source
            origin = KafkaOrigin(s.topic, s.partition, s.offset, b"a", envelope.timestamp_ms)
            if not is_repeat(mark, origin):
                applied.append(s.offset)
                mark = [s.offset, envelope.timestamp_ms]
    return applied


def test_a_batch_copied_again_after_a_crash_before_the_commit_is_applied_once() -> None:
    """The crashed gate's copies of offsets 10-13 reached the routed topic, its commit did
    not; its successor copies them again from 10. Any interleaving of the two gapless
    sequences (the crashed producer's in-flight copies may land late) applies each once."""
    batch = [Msg(BENCH.name, 0, o, b"a") for o in range(10, 14)]
    crashed, successor = Producer(), Producer()
    for g, producer in ((gate(), crashed), (gate(), successor)):
        g.settings = GateSettings(mode="idempotent", batch_records=1)  # one routed record each
        g._copy(producer, batch, lambda err, msg: None)  # type: ignore[arg-type]
    first = [value for _, value, _ in crashed.pending if value is not None]
    again = [value for _, value, _ in successor.pending if value is not None]
    assert len(first) == len(again) == 4
    for picks in itertools.product((0, 1), repeat=8):  # every interleaving of the two
        queues, log = [list(first), list(again)], []
        for pick in picks:
            queue = queues[pick] or queues[1 - pick]
            if queue:
                log.append(queue.pop(0))
        assert applied_once_in_order(log) == [10, 11, 12, 13], picks


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_offsets_are_committed_at_most_once_per_interval_and_none_is_dropped() -> None:
    """gate.commit_interval: the first batch commits at once; batches within the interval
    wait, and the next commit carries each partition's latest offset."""
    g, producer, clock = gate(), Producer(), Clock()
    g._pending = PendingOffsets(0.25, clock)
    consumer = Consumer(producer)
    g._forward_idempotent(consumer, producer, BATCH[:2])  # type: ignore[arg-type]
    g._forward_idempotent(consumer, producer, [BATCH[2]])  # type: ignore[arg-type, list-item]
    assert [offsets for offsets, _ in consumer.commits] == [[(BENCH.name, 0, 11), (BENCH.name, 1, 8)]]
    clock.now += 0.25
    g._forward_idempotent(consumer, producer, [BATCH[3]])  # type: ignore[arg-type, list-item]
    assert [offsets for offsets, _ in consumer.commits][1] == [(BENCH.name, 0, 12), (BENCH.name, 1, 9)]
    assert all(unacknowledged == 0 for _, unacknowledged in consumer.commits)


def test_an_idle_gate_commits_what_is_pending_at_once() -> None:
    g, producer, clock = gate(), Producer(), Clock()
    g._pending = PendingOffsets(3600, clock)
    consumer = Consumer(producer)
    g._forward_idempotent(consumer, producer, BATCH[:2])  # type: ignore[arg-type]
    g._forward_idempotent(consumer, producer, BATCH[2:])  # type: ignore[arg-type]
    assert len(consumer.commits) == 1
    g._commit_pending(consumer, force=True)  # type: ignore[arg-type]
    assert consumer.commits[1][0] == [(BENCH.name, 0, 12), (BENCH.name, 1, 9)]
    g._commit_pending(consumer, force=True)  # type: ignore[arg-type]
    assert len(consumer.commits) == 2  # nothing pending, nothing sent


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000)), min_size=1, max_size=40))
def test_pending_offsets_keep_each_partitions_highest(offsets: list[tuple[int, int]]) -> None:
    pending = PendingOffsets(0, Clock())
    for partition, offset in offsets:
        pending.add([TopicPartition(BENCH.name, partition, offset)])
    highest = {p: max(o for q, o in offsets if q == p) for p, _ in offsets}
    assert {(tp.partition, tp.offset) for tp in pending.take()} == set(highest.items())
    assert not pending
