"""Generated records against the real stack: the envelope's promises, for any key, value and
header a producer can write (switchyard/faults/generated.py draws them).

Per batch, on an object topic, a workflow topic and a plain-service topic, produced by a
foreign producer (confluent-kafka, murmur2 partitioner as Kafka's Java clients) and, for what
a console line can say, again by Apache Kafka's own ConsoleProducer:

* every record gets exactly one outcome: one `-results` record or one `-dlq` record whose
  `source` names it; a record runs (`-results`) iff its key is a non-empty UTF-8 string and
  its value passes the schema, else it is dead-lettered;
* a dead letter carries `error.reason`, and its key and value are the original bytes;
* a result has the record's key, and is `ok` (a workflow id that already ran: a 409);
* the same key lands on the same partition from either producer;
* on the object topic, one key's results come in source offset order;
* after the batch, a good record on a fresh key and on each runnable key of the batch runs.

Keys include the session's `retries.poison_keys`, whose handler fails on every attempt: a
good record on one spends its retry budget and must end dead-lettered too.

A failure names the record (key bytes, value prefix, where it landed) and what was seen;
hypothesis shrinks the batch to the fewest records that still fail. The default budget
takes about two minutes; `PROPERTY_EXAMPLES=N` runs N batches per topic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import Topic, topic
from switchyard.core.catalogue import DLQ_SUFFIX, RESULTS_SUFFIX
from switchyard.core.results import Record, TopicReader, source_of
from switchyard.faults.generated import GeneratedRecord, batches, clip, key_runs, sample_object, value_runs

# One topic of each kind of sink.
TOPICS = {
    "object": topic("bench-events"),  # BenchCounter/add
    "workflow": topic("trip-bookings"),  # BookingWorkflow/run, once per key
    "service": topic("task-queue"),  # AsyncTaskWorker/runTask, the key its idempotency key
}
# Batches per topic: the default takes about two minutes for the three together. Not a
# SWITCHYARD_* name: the settings refuse a SWITCHYARD_ variable that names no section.
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES") or 12)
SEPARATOR = "\t"  # the console producer's key.separator: generated lines holding one are not sent that way
CONSOLE = Path(sys.executable).parent / "kafka-console-producer"  # Apache Kafka's, installed by `switchyard fetch`
OUTCOME_TIMEOUT = 60.0  # the most a batch's outcomes may take
QUIET = 10.0  # ... and how long nothing new may arrive while some are missing
READ_BACK_TIMEOUT = 90.0  # a loaded machine: the console producer's JVM is slow

Position = tuple[str, int, int]  # topic, partition, offset


# What can go wrong, one class each, so hypothesis reports (and shrinks) each on its own.
class EnvelopeViolation(AssertionError):
    """A promise of the envelope broken."""


class ConsoleMismatch(EnvelopeViolation):
    """Kafka's console producer wrote other bytes than its line said (a test-harness fact)."""


class PartitionMismatch(EnvelopeViolation):
    """The same key landed on different partitions from two producers."""


class NoOutcome(EnvelopeViolation):
    """A record whose key is a UTF-8 string got no `-results` and no `-dlq` record."""


class BadKeyNoOutcome(EnvelopeViolation):
    """A record whose key cannot run (not UTF-8, empty, missing) got no outcome: it should
    have been dead-lettered."""


class RetriesNoOutcome(EnvelopeViolation):
    """A good record on a key whose handler always fails (retries.poison_keys) got no
    outcome: once its retry budget is spent it should have been dead-lettered."""


class SeveralOutcomes(EnvelopeViolation):
    """A record got more than one outcome record."""


class WrongOutcome(EnvelopeViolation):
    """A record that should run was dead-lettered, or one that should be dead-lettered ran."""


class AlteredDeadLetter(EnvelopeViolation):
    """A dead letter without its reason, or with other key or value bytes than the record's."""


class TombstoneBecameEmpty(EnvelopeViolation):
    """A tombstone (null value) came back as an empty value in its dead letter."""


class MissingKeyBecameEmpty(EnvelopeViolation):
    """A record without key came back with an empty key in its dead letter."""


class WrongResult(EnvelopeViolation):
    """A result with another key than the record's, or not ok where it should be."""


class OutOfOrder(EnvelopeViolation):
    """One key's results out of source offset order (object topic)."""


class ProbeFailed(EnvelopeViolation):
    """A good record after the batch, on a fresh key or a batch key, did not run."""


@dataclass
class Produced:
    """One record on the input topic, as read back, with what was generated for it."""

    position: Position
    record: GeneratedRecord
    via: str  # "raw" (confluent-kafka) or "console" (Kafka's ConsoleProducer) or "probe"
    runs: bool

    def describe(self) -> str:
        _, partition, offset = self.position
        return f"{self.via} record @{partition}/{offset} {self.record!r}"


class ConsoleProducer:
    """Apache Kafka's ConsoleProducer on one topic, kept running: lines in, records out
    (`--sync --timeout 0`: each line is sent as it is read, no linger)."""

    def __init__(self, settings: Settings, t: Topic, log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [str(CONSOLE), "--bootstrap-server", settings.kafka.bootstrap_servers, "--topic", t.name, "--sync",
             "--timeout", "0", "--reader-property", "parse.key=true",
             "--reader-property", f"key.separator={SEPARATOR}"],
            stdin=subprocess.PIPE, stdout=self._out, stderr=subprocess.STDOUT)

    def send(self, lines: list[str]) -> None:
        if self.process.poll() is not None:
            raise ConsoleMismatch(f"kafka-console-producer exited ({self.process.returncode}): {self.tail()}")
        assert self.process.stdin is not None
        self.process.stdin.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
        self.process.stdin.flush()

    def tail(self) -> str:
        return self.log.read_bytes()[-2000:].decode(errors="replace")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._out.close()


class RawProducer:
    """A foreign producer: key, value and headers exactly as generated; Kafka's murmur2
    partitioning, as the Java clients (and the console producer) do."""

    def __init__(self, client: dict[str, str]) -> None:
        self._producer = Producer({**client, "partitioner": "murmur2_random", "message.max.bytes": "2000000",
                                   "enable.idempotence": "true", "linger.ms": "2", "log_level": "0"})

    def send(self, name: str, records: list[GeneratedRecord]) -> list[Position]:
        """Produces ``records`` in order; where each landed, in the same order."""
        landed: list[Position | None] = [None] * len(records)
        errors: list[str] = []

        def reporter(index: int) -> Callable[[Any, Any], None]:
            def report(err: Any, msg: Any) -> None:
                if err is not None:
                    errors.append(f"{records[index]!r}: {err}")
                else:
                    landed[index] = (msg.topic(), msg.partition(), msg.offset())
            return report

        for n, r in enumerate(records):
            self._producer.produce(name, key=r.key, value=r.value, headers=list(r.headers) or None,
                                   on_delivery=reporter(n))
            self._producer.poll(0)
        assert self._producer.flush(60) == 0, "records not delivered within 60 s"
        assert not errors, f"the broker refused generated records: {errors}"
        return [p for p in landed if p is not None]


class Outcomes:
    """One reader of the input topic and its `-results` and `-dlq`, for one batch and its
    probes, marked at their ends before anything is produced."""

    def __init__(self, client: dict[str, str], t: Topic) -> None:
        self.t = t
        self.reader = TopicReader(client, [t.name, t.results, t.dlq])
        self.inputs: list[Record] = []
        self.outcomes: dict[Position, list[Record]] = defaultdict(list)
        self.results_in_order: list[Record] = []

    def _take(self, timeout: float) -> int:
        got = self.reader.collect(lambda rs: len(rs) >= 50, timeout)
        for r in got:
            if r.topic == self.t.name:
                self.inputs.append(r)
                continue
            try:
                source = source_of(r)
            except (KeyError, ValueError, TypeError):
                continue  # not an outcome record this suite can read: nothing of ours
            self.outcomes[source].append(r)
            if r.topic.endswith(RESULTS_SUFFIX):
                self.results_in_order.append(r)
        return len(got)

    def read_back(self, count: int) -> list[Record]:
        """The input records produced since the mark, once ``count`` of them are there."""
        deadline = time.monotonic() + READ_BACK_TIMEOUT
        while len(self.inputs) < count and time.monotonic() < deadline:
            self._take(0.5)
        return list(self.inputs)

    def await_outcomes(self, wanted: list[Position], timeout: float = OUTCOME_TIMEOUT) -> None:
        """Until each of ``wanted`` has an outcome, or ``timeout``, or nothing new for QUIET s;
        then a moment more, so a second outcome of one record would be seen too."""
        began = last = time.monotonic()
        while time.monotonic() - began < timeout:
            missing = [p for p in wanted if not self.outcomes.get(p)]
            if not missing:
                self._take(0.5)
                return
            if time.monotonic() - last > QUIET:
                return
            before = sum(len(v) for v in self.outcomes.values())
            self._take(0.5)
            if sum(len(v) for v in self.outcomes.values()) > before:
                last = time.monotonic()

    def close(self) -> None:
        self.reader.close()


@dataclass
class Findings:
    """What one batch broke, per kind of violation."""

    by_kind: dict[type[EnvelopeViolation], list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: type[EnvelopeViolation], message: str) -> None:
        self.by_kind[kind].append(message)

    def raise_first(self) -> None:
        for kind in (ConsoleMismatch, PartitionMismatch, NoOutcome, BadKeyNoOutcome, RetriesNoOutcome,
                     SeveralOutcomes, WrongOutcome, AlteredDeadLetter, TombstoneBecameEmpty, MissingKeyBecameEmpty,
                     WrongResult, OutOfOrder, ProbeFailed):
            found = self.by_kind.get(kind)
            if found:
                others = {k.__name__: len(v) for k, v in self.by_kind.items() if k is not kind and v}
                also = f"\n(also seen in this batch: {others})" if others else ""
                raise kind(f"{len(found)} record(s):\n  " + "\n  ".join(found[:8]) + also)


class BatchRun:
    """Produces one generated batch both ways, then the probes, and judges what came out."""

    def __init__(self, t: Topic, client: dict[str, str], raw: RawProducer, console: ConsoleProducer,
                 workflow_ran: set[bytes], failing_keys: frozenset[bytes] = frozenset()) -> None:
        self.t, self.client, self.raw, self.console = t, client, raw, console
        self.workflow_ran = workflow_ran  # workflow keys whose run began (in this session)
        # Keys whose handler fails on every attempt (retries.poison_keys): a good record on
        # one spends its retry budget and is dead-lettered (RetriesExhausted).
        self.failing_keys = failing_keys
        self.findings = Findings()

    def runs(self, r: GeneratedRecord) -> bool:
        return r.runs_on(self.t) and r.key not in self.failing_keys

    def run(self, batch: list[GeneratedRecord]) -> None:
        outcomes = Outcomes(self.client, self.t)
        try:
            produced = self._produce(outcomes, batch)
            outcomes.await_outcomes([p.position for p in produced],
                                    OUTCOME_TIMEOUT * (2 if any(len(r.value or b"") > 100_000 for r in batch) else 1))
            self._judge(produced, outcomes)
            probes = self._probe(outcomes, produced)
            self._judge_probes(probes, outcomes)
            if self.t.kind == "object":
                self._judge_order(produced + probes, outcomes)
        finally:
            outcomes.close()
        self.findings.raise_first()

    def _produce(self, outcomes: Outcomes, batch: list[GeneratedRecord]) -> list[Produced]:
        raw_positions = self.raw.send(self.t.name, batch)
        lines = [(r, r.console_line(SEPARATOR)) for r in batch]
        by_console = [(r, line) for r, line in lines if line is not None]
        if by_console:
            self.console.send([line for _, line in by_console])
        inputs = outcomes.read_back(len(batch) + len(by_console))
        produced = [Produced(p, r, "raw", self.runs(r)) for p, r in zip(raw_positions, batch, strict=True)]
        # The console producer's records: whatever else arrived, matched to its lines by content.
        raw_set = set(raw_positions)
        others = [r for r in inputs if (r.topic, r.partition, r.offset) not in raw_set]
        for generated, line in by_console:
            match = next((r for r in others if r.key == generated.key and r.value == generated.value), None)
            if match is None:
                wrote = [(r.key, clip(r.value)) for r in others]
                self.findings.add(ConsoleMismatch, f"no record on {self.t.name} for console line {line[:80]!r} "
                                                   f"of {generated!r}; it wrote {wrote}")
                continue
            others.remove(match)
            produced.append(Produced((match.topic, match.partition, match.offset), generated, "console",
                                     self.runs(generated)))
        for extra in others:
            self.findings.add(ConsoleMismatch, f"unexpected record on {self.t.name} @{extra.partition}/{extra.offset}: "
                                               f"key={clip(extra.key)} value={clip(extra.value)}")
        # One key, one partition, whichever client produced it (Kafka's murmur2 convention).
        partitions: dict[bytes, set[int]] = defaultdict(set)
        for p in produced:
            if p.record.key is not None:
                partitions[p.record.key].add(p.position[1])
        for key, seen in partitions.items():
            if len(seen) > 1:
                self.findings.add(PartitionMismatch, f"key {clip(key)} landed on partitions {sorted(seen)}")
        for p in produced:
            note(f"produced: {p.describe()} (runs: {p.runs})")
        return produced

    def _judge(self, produced: list[Produced], outcomes: Outcomes) -> None:
        for p in sorted(produced, key=lambda p: p.position):  # a workflow key's records in offset order
            got = outcomes.outcomes.get(p.position, [])
            note(f"outcome of {p.position[1]}/{p.position[2]}: " + (", ".join(_show(r) for r in got) or "none"))
            if not got:
                self.findings.add(self._no_outcome_kind(p.record),
                                  f"{p.describe()}: no -results or -dlq record within the wait")
                if self.t.kind == "workflow" and p.runs and p.record.key is not None:
                    self.workflow_ran.add(p.record.key)  # it may have begun
                continue
            if len(got) > 1:
                self.findings.add(SeveralOutcomes, f"{p.describe()}: {len(got)} outcomes: {[_show(r) for r in got]}")
            first = got[0]
            dead = first.topic.endswith(DLQ_SUFFIX)
            if dead and p.runs:
                self.findings.add(WrongOutcome, f"{p.describe()}: should run, was dead-lettered: "
                                                f"{first.header('error.class')}: {first.header('error.reason')}")
            elif not dead and not p.runs:
                self.findings.add(WrongOutcome, f"{p.describe()}: should be dead-lettered, got {_show(first)}")
            if dead:
                self._judge_letter(p, first)
            else:
                self._judge_result(p, first)

    def _no_outcome_kind(self, r: GeneratedRecord) -> type[EnvelopeViolation]:
        if not key_runs(r.key):
            return BadKeyNoOutcome
        if r.key in self.failing_keys and value_runs(self.t, r.value):
            return RetriesNoOutcome
        return NoOutcome

    def _judge_letter(self, p: Produced, letter: Record) -> None:
        if not letter.header("error.reason"):
            self.findings.add(AlteredDeadLetter, f"{p.describe()}: dead letter without error.reason "
                                                 f"(headers {letter.headers})")
        for what, original, kept in (("key", p.record.key, letter.key), ("value", p.record.value, letter.value)):
            if what == "value" and original is None and kept == b"" and self.t.kind == "service":
                continue  # a stated limit: Restate hands a plain service a null value as empty bytes
            if original is None and kept == b"":
                self.findings.add(MissingKeyBecameEmpty if what == "key" else TombstoneBecameEmpty,
                                  f"{p.describe()}: the dead letter's {what} is b'' where the record had none "
                                  f"({letter.header('error.class')})")
            elif kept != original:
                self.findings.add(AlteredDeadLetter, f"{p.describe()}: the dead letter's {what} is {clip(kept)}, "
                                                     f"not the original {clip(original)}")

    def _judge_result(self, p: Produced, result: Record) -> None:
        if result.key != p.record.key:
            self.findings.add(WrongResult, f"{p.describe()}: its result has key {clip(result.key)}")
        body = result.json()
        if p.runs and not body.get("ok") and not self._already_ran(p.record.key, body):
            self.findings.add(WrongResult, f"{p.describe()}: not ok: {body.get('error')}"
                                           + (" (its workflow id never ran before)" if self._conflict(body) else ""))
        if self.t.kind == "workflow" and p.runs and p.record.key is not None:
            self.workflow_ran.add(p.record.key)

    @staticmethod
    def _conflict(body: dict[str, Any]) -> bool:
        return (body.get("error") or {}).get("code") == 409

    def _already_ran(self, key: bytes | None, body: dict[str, Any]) -> bool:
        """A workflow id that ran before answers 409, which counts as the record's outcome;
        not one whose earlier records were all dead-lettered (those change nothing)."""
        return self.t.kind == "workflow" and self._conflict(body) and key in self.workflow_ran

    def _probe(self, outcomes: Outcomes, produced: list[Produced]) -> list[Produced]:
        """A good record on a fresh key and on each key of the batch that can run (not on one
        whose records got no outcome: a probe would wait behind them, and they already failed)."""
        keys = [f"probe-{uuid.uuid4().hex[:12]}".encode()]
        stuck = {p.record.key for p in produced if not outcomes.outcomes.get(p.position)}
        for p in produced:
            if (key_runs(p.record.key) and p.record.key not in keys and p.record.key not in stuck
                    and p.record.key not in self.failing_keys):
                keys.append(p.record.key or b"")
        probes = [GeneratedRecord(k, _good_value(self.t, n)) for n, k in enumerate(keys)]
        positions = self.raw.send(self.t.name, probes)
        made = [Produced(pos, r, "probe", True) for pos, r in zip(positions, probes, strict=True)]
        outcomes.await_outcomes([p.position for p in made])
        return made

    def _judge_probes(self, probes: list[Produced], outcomes: Outcomes) -> None:
        for n, p in enumerate(probes):
            got = outcomes.outcomes.get(p.position, [])
            note(f"probe {p.describe()}: " + (", ".join(_show(r) for r in got) or "none"))
            which = "on a fresh key" if n == 0 else "on a key of the batch"
            if not got:
                self.findings.add(ProbeFailed, f"good record {which} after the batch got no outcome: {p.describe()}")
                continue
            first = got[0]
            if first.topic.endswith(DLQ_SUFFIX):
                self.findings.add(ProbeFailed, f"good record {which} was dead-lettered: {p.describe()}: "
                                               f"{first.header('error.reason')}")
                continue
            body = first.json()
            if not body.get("ok") and not (n > 0 and self._already_ran(p.record.key, body)):
                self.findings.add(ProbeFailed, f"good record {which} did not run: {p.describe()}: {body.get('error')}")
            if self.t.kind == "workflow" and p.record.key is not None:
                self.workflow_ran.add(p.record.key)
            if first.key != p.record.key:
                self.findings.add(WrongResult, f"{p.describe()}: its result has key {clip(first.key)}")

    def _judge_order(self, produced: list[Produced], outcomes: Outcomes) -> None:
        """Results of one key in source offset order (they share a results partition)."""
        mine = {p.position: p for p in produced}
        per_key: dict[tuple[bytes | None, int], list[int]] = defaultdict(list)
        for r in outcomes.results_in_order:
            source = source_of(r)
            if source in mine:
                per_key[(r.key, source[1])].append(source[2])
        for (key, partition), offsets in per_key.items():
            if offsets != sorted(offsets):
                self.findings.add(OutOfOrder, f"key {clip(key)}: results for source offsets {offsets} "
                                              f"(partition {partition}), in that order")


def _good_value(t: Topic, n: int) -> bytes:
    return json.dumps(sample_object(t, n)).encode()


def _show(r: Record) -> str:
    if r.topic.endswith(DLQ_SUFFIX):
        return f"dlq[{r.header('error.class')}: {(r.header('error.reason') or '')[:120]}]"
    body = r.json()
    return f"result[ok={body.get('ok')}{'' if body.get('ok') else ' ' + str(body.get('error'))[:160]}]"


@pytest.fixture(scope="module")
def consoles(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ConsoleProducer]]:
    logs = tmp_path_factory.mktemp("console")
    running = {kind: ConsoleProducer(settings, t, logs / f"{t.name}.log") for kind, t in TOPICS.items()}
    try:
        for kind, t in TOPICS.items():  # each JVM up and connected before the first batch is timed
            warm_up(settings, t, running[kind])
        yield running
    finally:
        for c in running.values():
            c.close()


def warm_up(settings: Settings, t: Topic, console: ConsoleProducer, timeout: float = 180.0) -> None:
    """One good record through ``console``, waited for on the topic (its outcome is not judged)."""
    key = f"warm-up-{uuid.uuid4().hex[:12]}"
    with TopicReader(settings.kafka.client_config(), [t.name]) as reader:
        console.send([f"{key}{SEPARATOR}{_good_value(t, 0).decode()}"])
        got = reader.collect(lambda rs: any(r.key == key.encode() for r in rs), timeout)
    assert any(r.key == key.encode() for r in got), f"kafka-console-producer wrote nothing in {timeout:g}s: " \
                                                     f"{console.tail()}"


@pytest.fixture(scope="module")
def raw_producer(settings: Settings) -> RawProducer:
    return RawProducer(settings.kafka.client_config())


# Workflow ids that got a good record in this session: a later one answers 409.
WORKFLOW_RAN: set[bytes] = set()


@pytest.mark.timeout(1800)  # a failure shrinks for up to 5 minutes (hypothesis' own limit)
@pytest.mark.parametrize("kind", list(TOPICS))
def test_every_generated_record_gets_exactly_one_outcome(
    kind: str, settings: Settings, consoles: dict[str, ConsoleProducer], raw_producer: RawProducer
) -> None:
    t = TOPICS[kind]
    client = settings.kafka.client_config()
    # The session's retries.poison_keys: their records exercise the retry budget's end.
    failing = frozenset(k.encode() for k in settings.retries.poison_keys)

    @hypothesis_settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.filter_too_much, HealthCheck.large_base_example],
                         print_blob=False)
    @given(batch=batches(t, extra_keys=sorted(failing)))
    def every_record_gets_one_outcome(batch: list[GeneratedRecord]) -> None:
        BatchRun(t, client, raw_producer, consoles[kind], WORKFLOW_RAN, failing).run(batch)

    every_record_gets_one_outcome()

