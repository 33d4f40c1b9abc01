"""The key gate: what stands between a keyed input topic and Restate.

Restate takes the record key of an object or workflow subscription as the object key. A
key that is not UTF-8 makes its Kafka consumer fail, restart from the committed offset and
fail again, forever: one foreign producer's binary key halts every partition of the topic
(restatedev/restate#4682). A missing key would run as the object `""`.

So Restate does not read those topics. The gate does, and writes

* a record whose key can be an object key to `<topic>-routed`, same partition and key,
  its value wrapped with its source (`switchyard.core.envelope.RoutedRecord`), where Restate's
  subscription (read_committed) picks it up;
* any other record to `<topic>-dlq`, original key and value bytes, reason in headers.

Per-key order holds: one partition is read in order and copied to the same partition.
The gate runs as a thread of each service process (one consumer group, so replicas share
the partitions); a crashed or frozen member's partitions resume from the last committed
batch. How a batch is made safe is `gate.mode`:

* ``idempotent`` (default): an idempotent producer copies the batch, and the source
  offsets are committed only once every copy is acknowledged. A crash in between copies
  the batch again: each partition's copies are gapless and in source order per producer,
  so the sinks' applied marks (objects, and the workflows' ingest objects) skip every
  repeat, and each record still has one outcome. No transaction: nothing waits for the
  broker to write the previous batch's transaction markers (~100 ms per batch).
* ``transactional``: copies, dead letters and offsets in one Kafka transaction per batch,
  so no repeat ever reaches a routed topic; a crashed member's open transaction is aborted
  by the broker (or fenced by its successor).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewPartitions  # type: ignore[attr-defined]

from switchyard.core.backlog import DOWNSTREAM
from switchyard.core.catalogue import COMPANION_MAX_BYTES, Catalogue, Topic
from switchyard.core.envelope import DlqReason, RoutedBatch, RoutedRecord, SourceRecord
from switchyard.core.keys import key_problem
from switchyard.core.metrics import SINK
from switchyard.core.pending_offsets import PendingOffsets
from switchyard.core.settings import METADATA_REFRESH_MS, GateSettings, KafkaSettings

log = logging.getLogger(__name__)

DeliveryReport = Callable[[KafkaError | None, Message], None]
# Big enough for a 1 MB record wrapped in base64 plus headers: a record the broker took on
# the input topic can always be copied or dead-lettered (companion topics get this limit).
MAX_RECORD_BYTES = COMPANION_MAX_BYTES


def default_transactional_id(bind: str, workers: int = 1) -> str:
    """Stable across restarts of the same replica, so a restarted gate fences its
    predecessor's open transaction at once instead of waiting for its timeout."""
    return gate_transactional_id(None, bind, workers)


def gate_transactional_id(configured: str | None, bind: str, workers: int = 1) -> str:
    """The id this process's gate uses: the configured one (or one per host and service
    port). Several workers of one service each need their own, or they fence each other
    in turn and none gets a batch through; each appends its pid (a dead worker's open
    transaction then waits out `gate.transaction_timeout`)."""
    base = configured or f"switchyard-gate-{socket.gethostname()}-{bind.rsplit(':', 1)[-1]}"
    return base if workers == 1 else f"{base}-{os.getpid()}"


class KeyGate:
    """Copies gated topics to their routed twins, dead-lettering unroutable keys."""

    def __init__(
        self, kafka: KafkaSettings, gate: GateSettings, transactional_id: str, topics: list[Topic]
    ) -> None:
        self.kafka = kafka
        self.settings = gate
        self.transactional_id = transactional_id
        self.topics = topics
        self._by_name = {t.name: t for t in topics}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        # When the serving thread entered its current batch's transaction (None: between
        # batches), and which generation of serving thread is current.
        self._busy_since: float | None = None
        self._generation = 0
        # Partitions per routed twin, as last seen (a record's copy needs its partition).
        self._routed_partitions: dict[str, int] = {}
        self._holding = False  # reads held for a backlog downstream (logged when that changes)
        # Idempotent mode: acknowledged batches' offsets, committed once per interval.
        self._pending = self._fresh_pending()
        self.routed = 0
        self.dead_lettered = 0
        self.replaced = 0

    def start(self) -> None:
        self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name="key-gate-watchdog", daemon=True)
        self._watchdog.start()

    def _enter(self, generation: int) -> None:
        """The serving thread starts a step the watchdog times (a batch, init_transactions,
        an assignment)."""
        if generation in (0, self._generation):
            self._busy_since = time.monotonic()

    def _leave(self, generation: int) -> None:
        if generation in (0, self._generation):
            self._busy_since = None

    def _spawn(self) -> None:
        self._generation += 1
        self._busy_since = None
        self._thread = threading.Thread(target=self.run, args=(self._generation,),
                                        name=f"key-gate-{self._generation}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def stall_limit(self) -> float:
        """How long one batch may take before the gate is taken as stuck: its calls carry
        30 s timeouts, and the broker aborts a transaction after transaction_timeout."""
        return 60.0 + 2 * self.settings.transaction_timeout.total_seconds()

    def _watch(self) -> None:
        """A librdkafka call can block past its own timeout after a broker is lost (seen:
        send_offsets_to_transaction for 10 minutes). Then a fresh serving thread takes over
        with new clients: its producer, with the same transactional.id, fences the stuck
        one, and the stuck consumer has left the group (max.poll.interval.ms)."""
        while not self._stop.wait(1.0):
            since = self._busy_since
            if since is not None and time.monotonic() - since > self.stall_limit():
                log.warning("key gate stuck in one batch for %.0fs: replacing it", time.monotonic() - since)
                self.replaced += 1
                self._spawn()

    def run(self, generation: int = 0) -> None:
        """Runs until stopped (or replaced); any Kafka failure rebuilds the clients and
        resumes from the last committed batch (nothing of an aborted batch is visible to
        Restate)."""
        backoff = 0.5
        while not self._stop.is_set() and generation in (0, self._generation):
            try:
                self._serve(generation)
                return
            except Exception as exc:  # noqa: BLE001 - the gate must outlive any failure
                if generation not in (0, self._generation):
                    return  # replaced while stuck: the new thread serves
                log.warning("key gate restarting in %.1fs after: %s", backoff, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _logging(self) -> dict[str, str]:
        if self.settings.client_debug:
            return {"debug": self.settings.client_debug, "log_level": "7"}
        return {"log_level": "3"}

    def consumer_config(self) -> dict[str, str]:
        session = self.settings.session_timeout or self.kafka.gate_session_timeout()
        session_ms = int(session.total_seconds() * 1000)
        return {
            **self.kafka.client_config(), "group.id": self.settings.group_id, "enable.auto.commit": "false",
            "auto.offset.reset": "earliest", "isolation.level": "read_committed",
            "session.timeout.ms": str(session_ms), "heartbeat.interval.ms": str(min(1500, session_ms // 3)),
            "fetch.max.bytes": str(8 * MAX_RECORD_BYTES), "max.partition.fetch.bytes": str(MAX_RECORD_BYTES),
            # librdkafka's defaults (500 ms each) showed as a p99 of ~450 ms at the gate at
            # 200 rec/s; a broker-side wait of 50 ms costs an idle fetch 20 times a second.
            "fetch.wait.max.ms": "50", "fetch.error.backoff.ms": "50",
            # An input topic grown while running is seen within this (librdkafka: 5 min).
            "topic.metadata.refresh.interval.ms": str(METADATA_REFRESH_MS),
            # A gate stuck in one batch leaves the group after this long, so its partitions
            # move to a live gate (another replica's, or its own replacement).
            "max.poll.interval.ms": str(int(self.stall_limit() * 1000 * 0.75)),
            **self._logging(),
        }

    def _clients(self) -> tuple[Consumer, Producer]:
        client = self.kafka.client_config()
        consumer = Consumer(self.consumer_config())
        config = {**client, "enable.idempotence": "true", "linger.ms": "1",
                  "message.max.bytes": str(MAX_RECORD_BYTES), **self._logging()}
        if self.transactional:
            # librdkafka's default retry backoff (100 ms) stays, though a batch's offsets
            # commit waits for it (~100 ms per batch at 200 rec/s): with 5 ms, one fault run
            # saw send_offsets_to_transaction hang for 10 minutes after a broker restart
            # (docs/benchmarks.md, "Levers"). Correctness first, until that is understood.
            config |= {"transactional.id": self.transactional_id,
                       "transaction.timeout.ms": str(int(self.settings.transaction_timeout.total_seconds() * 1000))}
        else:
            # The applied marks are high-water marks, so a partition's copies must never
            # have a hole (a later copy applied first would make the earlier one's repeat
            # look applied): a copy is never given up on locally (message.timeout.ms 0; a
            # stuck batch fails at flush and the clients are rebuilt), and any other error
            # that could leave a gap stops the producer (gapless guarantee).
            config |= {"acks": "all", "message.timeout.ms": "0", "enable.gapless.guarantee": "true"}
        return consumer, Producer(config)

    def _fresh_pending(self) -> PendingOffsets:
        return PendingOffsets(self.settings.commit_interval.total_seconds())

    @property
    def transactional(self) -> bool:
        return self.settings.mode == "transactional"

    def _serve(self, generation: int = 0) -> None:
        consumer, producer = self._clients()
        try:
            self._await_topics(consumer)
            if self.transactional:
                self._enter(generation)
                producer.init_transactions(30)
                self._leave(generation)
            self._routed_partitions = {}
            self._pending = self._fresh_pending()
            self._holding = False

            def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
                self._enter(generation)
                self._take_over(c, partitions, producer)
                self._leave(generation)

            def on_revoke(c: Consumer, partitions: list[TopicPartition]) -> None:
                try:  # the next owner starts after what this member copied
                    self._commit_pending(c, force=True, asynchronous=False)
                except KafkaException as exc:
                    log.info("key gate: offsets not committed before a rebalance (%s); copied again", exc)

            consumer.subscribe([t.name for t in self.topics], on_assign=on_assign, on_revoke=on_revoke)
            while not self._stop.is_set() and generation in (0, self._generation):
                first = consumer.poll(0.2)
                if first is None:
                    self._commit_pending(consumer, force=True)  # idle: the last batches' offsets
                    continue
                hold = DOWNSTREAM.hold(self.settings.hold_above.total_seconds(),
                                       self.settings.hold_max.total_seconds())
                if (hold > 0) != self._holding:
                    self._holding = hold > 0
                    log.info("key gate: %s", f"copies wait {hold:.1f}s to run: holding reads up to that long"
                             if hold else "the backlog is gone: copying at once")
                batch = read_batch(consumer, first, self.settings.max_batch, hold)
                self._enter(generation)
                if self.transactional:
                    self._forward(consumer, producer, batch)
                else:
                    self._forward_idempotent(consumer, producer, batch)
                self._leave(generation)
            try:  # a clean stop leaves nothing to copy again
                self._commit_pending(consumer, force=True, asynchronous=False)
            except KafkaException as exc:
                log.info("key gate: last offsets not committed on stop (%s); they are copied again", exc)
        finally:
            consumer.close()
            producer.flush(5)

    def _await_topics(self, consumer: Consumer) -> None:
        """The service starts before the bootstrap creates the topics; librdkafka would look
        for a topic that was missing at subscribe time only minutes later."""
        wanted = {name for t in self.topics for name in (t.name, t.routed, t.dlq)}
        while not self._stop.is_set():
            if wanted <= set(consumer.list_topics(timeout=10).topics):
                return
            self._stop.wait(0.5)

    def _take_over(self, consumer: Consumer, partitions: list[TopicPartition], producer: Producer) -> None:
        """A partition the gate never read starts where Restate's own subscription on the
        input topic stopped (a stack upgraded from direct subscriptions; a record stuck
        there behind a bad key is dead-lettered like any other), or at the beginning. A
        partition its routed twin lacks yet (the input topic grew) is added there first."""
        for tp in partitions:
            self._ensure_routed_partition(producer, self._by_name[tp.topic], tp.partition)
        committed = consumer.committed(partitions, 30)
        fresh = [tp for tp in committed if tp.offset < 0]
        if fresh:
            starts = takeover_offsets(self.kafka.client_config(), fresh)
            for tp in fresh:
                tp.offset = starts.get((tp.topic, tp.partition), OFFSET_BEGINNING)
                log.info("key gate starts %s[%d] at %s", tp.topic, tp.partition, tp.offset)
        consumer.assign(committed)

    def _ensure_routed_partition(self, producer: Producer, t: Topic, partition: int) -> None:
        """Grows ``t``'s routed twin to hold ``partition``: a record is copied to the
        partition it came from, and an input topic may grow while running. The bootstrap
        grows twins too; this covers growth between bootstraps."""
        known = self._routed_partitions.get(t.routed, 0)
        if partition < known:
            return
        known = partition_count(producer, t.routed)
        if 0 < known <= partition:  # 0: no answer now (a broker lost): the copy's produce will tell
            wanted = max(partition + 1, partition_count(producer, t.name))
            log.warning("key gate: %s has %d partitions, %s has %d: growing it", t.name, wanted, t.routed, known)
            grow_topic(self.kafka.client_config(), t.routed, wanted)
            known = poll_partition_count(producer, t.routed, wanted)
        self._routed_partitions[t.routed] = known

    def _forward(self, consumer: Consumer, producer: Producer, batch: list[Message]) -> None:
        """Transactional mode: the batch's copies and its offsets commit together."""
        producer.begin_transaction()
        try:
            offsets, dead = self._copy(producer, batch, None)
            producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
            producer.commit_transaction(30)
        except BaseException:
            _abort(producer)
            raise
        self._count(len(batch), dead)

    def _forward_idempotent(self, consumer: Consumer, producer: Producer, batch: list[Message]) -> None:
        """Idempotent mode: the batch's offsets are committed only after every copy and dead
        letter of it is acknowledged (all replicas, acks=all). Any failure before the commit
        raises, the clients are rebuilt and the batch is read again from the last commit."""
        failed: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failed.append(err)

        offsets, dead = self._copy(producer, batch, delivered)
        left = producer.flush(30)
        if failed:
            raise KafkaException(failed[0])
        if left:
            raise KafkaException(f"{left} copies of a batch still unacknowledged after 30s")
        self._pending.add(offsets)
        self._commit_pending(consumer)
        self._count(len(batch), dead)

    def _commit_pending(self, consumer: Consumer, *, force: bool = False, asynchronous: bool = True) -> None:
        """Commits the acknowledged offsets once gate.commit_interval has passed (``force``:
        whatever is pending). Asynchronous: a later batch's copies need not wait for it. A
        commit that fails, is late or never happens (a rebalance, a crash) only means the
        next owner copies those records again, and the applied marks skip them."""
        if not (self._pending.due() or (force and self._pending)):
            return
        if asynchronous:
            consumer.commit(offsets=self._pending.take(), asynchronous=True)
        else:
            consumer.commit(offsets=self._pending.take(), asynchronous=False)

    def _count(self, seen: int, dead: dict[str, int]) -> None:
        self.routed += seen - sum(dead.values())
        self.dead_lettered += sum(dead.values())
        for name, count in dead.items():  # counted once committed: an aborted batch is read again
            SINK.refused_at_gate(name, count)

    def _copy(
        self, producer: Producer, batch: list[Message], delivered: DeliveryReport | None
    ) -> tuple[list[TopicPartition], dict[str, int]]:
        """Produces the batch's copies and dead letters; returns the offsets to commit once
        they are safe and the dead letters per topic."""
        next_offsets: dict[tuple[str, int], int] = {}
        dead: dict[str, int] = {}
        # Per topic, partition and key, in offset order: what each key's copies carry.
        keyed: dict[tuple[Topic, int, bytes], list[RoutedRecord]] = {}
        for msg in batch:
            err = msg.error()
            if err is not None:
                raise KafkaException(err)
            t = self._by_name[msg.topic() or ""]
            envelope = self._admit(producer, t, msg, delivered)
            if envelope is None:
                dead[t.name] = dead.get(t.name, 0) + 1
            else:
                keyed.setdefault((t, envelope.source.partition, msg.key() or b""), []).append(envelope)
            next_offsets[(t.name, msg.partition() or 0)] = (msg.offset() or 0) + 1
        for (t, partition, key), records in keyed.items():
            self._ensure_routed_partition(producer, t, partition)
            # Workflows run once per record (the ingest object), so only objects batch.
            most = self.settings.batch_records if t.kind == "object" else 1
            for chunk in chunks(records, most, BATCH_BYTES):
                value = chunk[0].to_json() if len(chunk) == 1 else RoutedBatch(records=chunk).to_json()
                producer.produce(t.routed, key=key, value=value, partition=partition, on_delivery=delivered)
        return [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()], dead

    def _admit(self, producer: Producer, t: Topic, msg: Message,
               delivered: DeliveryReport | None = None) -> RoutedRecord | None:
        """``msg`` wrapped for its routed topic, or None once it is dead-lettered (a key
        that cannot be an object key)."""
        source = SourceRecord(topic=t.name, partition=msg.partition() or 0, offset=msg.offset() or 0)
        key, value = msg.key(), msg.value()
        problem = key_problem(t, key)
        if problem is not None:
            log.warning("dead-lettering %s[%d]@%d: %s", t.name, source.partition, source.offset, problem.reason)
            reason = DlqReason(reason=problem.reason, error_class=problem.error_class, source=source)
            producer.produce(t.dlq, key=key, value=value, headers=list(reason.headers()), on_delivery=delivered)
            return None
        kind, stamp = msg.timestamp()
        envelope = RoutedRecord.wrap(source, value, stamp if kind else None)
        too_large = oversize(key, value, envelope)
        if too_large is not None:
            log.warning("dead-lettering %s[%d]@%d: %s", t.name, source.partition, source.offset, too_large)
            reason = DlqReason(reason=too_large, error_class="RecordTooLarge", source=source)
            # The original value if the DLQ takes it; past that only the reason survives.
            kept = value if value is None or len(value) + len(key or b"") + HEADROOM <= MAX_RECORD_BYTES else None
            producer.produce(t.dlq, key=key, value=kept, headers=list(reason.headers()), on_delivery=delivered)
            return None
        return envelope


# A held read asks the consumer this often, so the gate's loop stays responsive.
READ_SLICE = 0.25


# A held read stops growing past this many bytes of values (the copies are larger still).
READ_MAX_BYTES = 64 * 1024 * 1024


def read_batch(consumer: Consumer, first: Message, most: int, hold: float,
               clock: Callable[[], float] = time.monotonic, max_bytes: int = READ_MAX_BYTES) -> list[Message]:
    """``first`` and the records already fetched, up to ``most``; with ``hold`` (seconds)
    also those that arrive within it (a backlog downstream: switchyard/core/backlog.py),
    until the read holds ``max_bytes`` of values."""
    batch = [first, *consumer.consume(most - 1, 0)]
    if hold <= 0 or len(batch) >= most:
        return batch  # no waiting, so no size to watch
    size = sum(len(m.value() or b"") for m in batch)
    deadline = clock() + hold
    while len(batch) < most and size < max_bytes and (left := deadline - clock()) > 0:
        more = consumer.consume(most - len(batch), min(left, READ_SLICE))
        batch.extend(more)
        size += sum(len(m.value() or b"") for m in more)
    return batch


# Room for headers, the record's framing and the envelope's fields.
HEADROOM = 16 * 1024


def oversize(key: bytes | None, value: bytes | None, envelope: RoutedRecord) -> str | None:
    """Why a record cannot be copied to its routed topic (its base64 envelope would pass the
    routed topic's `max.message.bytes`, as an input topic created with a larger limit allows);
    None if it can. Such a record is dead-lettered instead of failing every batch."""
    wrapped = len(envelope.value_b64 or "") + len(key or b"") + HEADROOM
    if wrapped <= MAX_RECORD_BYTES:
        return None
    kept = "" if (value is None or len(value) + len(key or b"") + HEADROOM <= MAX_RECORD_BYTES) else \
        "; the value is too large for the DLQ as well and is not kept"
    return (f"record of {len(value or b'')} value bytes and {len(key or b'')} key bytes is too large to route: its "
            f"copy would take {wrapped} of the {MAX_RECORD_BYTES} bytes a routed record may have{kept}")


# A batch stays well under the routed topic's limit; a record too big to share one goes alone.
BATCH_BYTES = COMPANION_MAX_BYTES // 4


def chunks(records: list[RoutedRecord], most: int, max_bytes: int) -> list[list[RoutedRecord]]:
    """``records`` in order, cut into runs of at most ``most`` records and about ``max_bytes``."""
    out: list[list[RoutedRecord]] = []
    current: list[RoutedRecord] = []
    size = 0
    for record in records:
        weight = len(record.value_b64 or "") + 200
        if current and (len(current) >= most or size + weight > max_bytes):
            out.append(current)
            current, size = [], 0
        current.append(record)
        size += weight
    if current:
        out.append(current)
    return out


def takeover_offsets(client: Mapping[str, str], partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
    """Per partition, the lowest offset committed by a Restate subscription's consumer group
    (Restate names them after the subscription: `sub_...`). The lowest loses nothing;
    what it repeats, the object sinks' applied marks skip."""
    admin = AdminClient({**client, "log_level": "0"})
    groups = [g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid
              if g.group_id.startswith("sub_")]
    starts: dict[tuple[str, int], int] = {}
    for group in groups:
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(tp.topic, tp.partition) for tp in partitions])
        answer = admin.list_consumer_group_offsets([request])[group].result(timeout=30)
        for tp in answer.topic_partitions or []:
            if tp.offset >= 0 and not tp.error:
                slot = (tp.topic, tp.partition)
                starts[slot] = min(starts.get(slot, tp.offset), tp.offset)
    return starts


def partition_count(producer: Producer, name: str) -> int:
    """Partitions of ``name`` per a fresh metadata request (0 if unknown). A topic-level
    error while a leader moves (a broker lost) still lists the partitions: they count, or
    a failover would be taken for a short twin and wait out the growth's timeout."""
    meta = producer.list_topics(name, timeout=10).topics.get(name)
    return 0 if meta is None else len(meta.partitions)


def grow_topic(client: Mapping[str, str], name: str, partitions: int) -> None:
    """Adds partitions to ``name`` up to ``partitions`` (a topic that already has them is fine)."""
    admin = AdminClient({**client, "log_level": "0"})
    try:
        admin.create_partitions([NewPartitions(name, partitions)])[name].result(timeout=30)
    except KafkaException as exc:
        if "INVALID_PARTITIONS" not in str(exc):  # another gate or the bootstrap grew it first
            raise


def poll_partition_count(producer: Producer, name: str, wanted: int, timeout: float = 30.0) -> int:
    """Waits until the producer's metadata shows ``wanted`` partitions of ``name``."""
    deadline = time.monotonic() + timeout
    while True:
        count = partition_count(producer, name)
        if count >= wanted or time.monotonic() > deadline:
            if count < wanted:
                raise KafkaException(f"{name} still has {count} of {wanted} partitions after {timeout:g}s")
            return count
        time.sleep(0.2)


def _abort(producer: Producer) -> None:
    try:
        producer.abort_transaction(10)
    except KafkaException as exc:
        log.warning("aborting the gate's transaction failed (%s); the broker will time it out", exc)


def start_gate(
    catalogue: Catalogue, kafka: KafkaSettings, gate: GateSettings, bind: str, workers: int = 1
) -> KeyGate | None:
    topics = catalogue.gated_topics()
    if not gate.enabled or not topics:
        return None
    running = KeyGate(kafka, gate, gate_transactional_id(gate.transactional_id, bind, workers), topics)
    running.start()
    return running
