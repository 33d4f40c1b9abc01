"""What the fault suite counts on the output topics: one outcome per record.

Every produced record must get exactly one outcome, a `-results` record or a `-dlq`
record naming it as its source. State can look right while outcomes are lost or doubled,
so the suite counts both. A copy of an outcome (a crash between the broker's ack and
Restate's journal entry makes the service publish it again) names the same source and
says the same; `OutcomeCount.copies_differ` counts copies that do not, which would leave a
consumer unable to drop them.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from switchyard.core.catalogue import DLQ_SUFFIX, Topic
from switchyard.core.results import Record, TopicReader, source_of
from switchyard.faults.generated import GeneratedRecord, draw_examples, poison_records, topic_seed

Source = tuple[str, int, int]  # topic, partition, offset of an input record


def _meaning(record: Record) -> Any:
    """What an outcome says, without where it was written."""
    if record.topic.endswith(DLQ_SUFFIX):
        return ("dlq", record.key, record.value, record.header("error.class"))
    body = record.json()
    return ("result", body.get("ok"), json.dumps(body.get("result"), sort_keys=True), body.get("error"))


@dataclass
class OutcomeCount:
    outcomes: int = 0
    missing: int = 0
    duplicated: int = 0  # outcome records beyond the first per source
    copies_differ: int = 0  # of those, copies that say something else than the first
    dead_lettered: int = 0


@dataclass
class OutcomeLedger:
    """Collects every outcome record of ``topics`` written from its start on, in a thread."""

    client: Mapping[str, str]
    topics: Iterable[Topic]
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [name for t in self.topics for name in (t.results, t.dlq)]
        self._reader = TopicReader(self.client, names)
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._collect, name="outcome-ledger", daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._halt.is_set():
            got = self._reader.collect(lambda rs: len(rs) > 0, timeout=0.5)
            with self._lock:
                self.records.extend(got)

    def has_all(self, sent: Iterable[Source]) -> bool:
        with self._lock:
            seen = {source_of(r) for r in self.records}
        return set(sent) <= seen

    def count(self, sent: Iterable[Source]) -> OutcomeCount:
        wanted = set(sent)
        with self._lock:
            mine = [r for r in self.records if source_of(r) in wanted]
        first: dict[Source, Any] = {}
        tally = OutcomeCount()
        for r in mine:
            src = source_of(r)
            if src in first:
                tally.duplicated += 1
                tally.copies_differ += _meaning(r) != first[src]
                continue
            first[src] = _meaning(r)
            tally.outcomes += 1
            tally.dead_lettered += r.topic.endswith(DLQ_SUFFIX)
        tally.missing = len(wanted - set(first))
        return tally

    def close(self) -> None:
        self._halt.set()
        self._thread.join()
        self._reader.close()


class PoisonProducer:
    """A foreign producer's bad records (``switchyard.faults.generated.poison_records``): any
    generated key (binary, empty, missing, or any UTF-8 string: accents, emoji, `/`, `?`,
    NUL, several KB) with a value no schema takes, and keys that cannot run with a good
    value. Each must end dead-lettered. Remembers where each landed."""

    def __init__(self, client: Mapping[str, str]) -> None:
        # Kafka's murmur2 partitioning, as a Java producer's.
        self._producer = Producer({**client, "partitioner": "murmur2_random", "log_level": "0"})
        self.sent: list[Source] = []
        self.errors: list[str] = []

    def send(self, t: Topic, n: int, good_value: bytes) -> None:
        """``n`` bad records on ``t``, the same ones for the same topic and value run to run."""
        for record in poison_batch(t, n, good_value):
            self._producer.produce(t.name, key=record.key, value=record.value, headers=list(record.headers) or None,
                                   on_delivery=self._report)
            self._producer.poll(0)

    def _report(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.sent.append((msg.topic(), msg.partition(), msg.offset()))

    def flush(self, timeout: float = 60.0) -> None:
        self._producer.flush(timeout)


@functools.lru_cache(maxsize=32)
def poison_batch(t: Topic, n: int, good_value: bytes) -> tuple[GeneratedRecord, ...]:
    """``n`` poison records for ``t``, drawn with a seed of the topic's own."""
    return tuple(draw_examples(poison_records(t, good_value), n, topic_seed(t, "poison")))
