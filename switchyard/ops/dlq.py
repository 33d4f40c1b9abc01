"""`switchyard dlq`: list a topic's dead letters and their reasons; replay them, each once.

Usage (replay after the cause is fixed):

    switchyard dlq list package-location-updates [--json] [--partition P] [--from N --to M]
    switchyard dlq replay package-location-updates (--all | --from N --to M) [--partition P]

A dead letter is at least once: the service publishes it inside a journaled step, and a
crash can publish it again, so the DLQ may hold two records naming one source record
(headers ``source.topic``, ``source.partition``, ``source.offset``). Those are copies of
one dead letter: listed as copies, replayed once. A DLQ record without source headers
(made by hand) is a dead letter of its own.

A replay re-produces one DLQ record's original key and value bytes per chosen dead letter
to the source topic and writes a marker keyed by the dead letter's source record
(``<topic>:<partition>:<offset>``; ``<partition>:<offset>`` of the DLQ record itself when
it names no source) to the compacted ``<topic>-dlq-replayed`` topic, both in one Kafka
transaction: a record and its marker are written together or not at all. The
transactional id is one per source topic, so starting a replay fences any older one of
the same topic before the markers are read; dead letters already marked, by whichever
copy, are skipped. Markers of older releases (keyed by the DLQ record) still count, for
every copy of the record they name. The DLQ itself is only read, never changed.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import BaseModel, ConfigDict

from switchyard.core.bootstrap import create_missing
from switchyard.core.catalogue import DLQ_SUFFIX, Topic
from switchyard.core.envelope import DlqReason, ReplayMarker, SourceRecord
from switchyard.core.errors import UsageProblem
from switchyard.core.kafka import producer_config
from switchyard.core.results import message_headers
from switchyard.core.text import render_table
from switchyard.serving import current_app
from switchyard.settings import Settings

READ_TIMEOUT = 30.0  # seconds to read a DLQ or marker topic up to its end
IDLE_END = 3.0  # listing: an open replay transaction holds the markers' end back this long at most


class DlqError(UsageProblem, RuntimeError):
    """Bad input or an unreachable broker; the message names the topic or argument."""


class DlqEntry(BaseModel):
    """One dead letter as `list --json` prints it."""

    model_config = ConfigDict(frozen=True)

    dlqTopic: str
    partition: int
    offset: int
    timestamp: int  # epoch ms, when it was dead-lettered
    key: str | None
    value: str  # the original value, decoded as UTF-8 (bad bytes replaced)
    reason: str
    errorClass: str
    source: SourceRecord
    replayed: bool = False  # this dead letter was replayed (by this copy or another)
    copyOf: str | None = None  # "<partition>:<offset>" of the first DLQ record of the same source record
    copies: int = 1  # DLQ records of this dead letter (more than one: it was published again)

    @property
    def slot(self) -> str:
        return marker_key(self.partition, self.offset)

    @property
    def origin(self) -> str:
        """What makes this dead letter one: its source record, or, for a DLQ record that
        names none, the record itself. The key of its replay marker."""
        s = self.source
        if s.topic and s.partition >= 0 and s.offset >= 0:
            return f"{s.topic}:{s.partition}:{s.offset}"
        return self.slot


@dataclass(frozen=True)
class DeadLetter:
    """A DLQ record with its raw bytes (what a replay re-produces) and, if its dead letter
    was replayed, the marker of that replay."""

    entry: DlqEntry
    key: bytes | None
    value: bytes | None
    marker: ReplayMarker | None = None


@dataclass(frozen=True)
class Selection:
    """Which DLQ records: every one (``first``/``last`` None), or an inclusive offset range,
    in one partition or in all."""

    partition: int | None = None
    first: int | None = None
    last: int | None = None

    def __post_init__(self) -> None:
        if (self.first is None) != (self.last is None):
            raise DlqError("--from and --to go together (one record: --from N --to N)")
        if self.first is not None and self.last is not None:
            if self.first < 0:
                raise DlqError(f"--from: expected an offset >= 0, got {self.first}")
            if self.first > self.last:
                raise DlqError(f"--from {self.first} is after --to {self.last}")
        if self.partition is not None and self.partition < 0:
            raise DlqError(f"--partition: expected a partition >= 0, got {self.partition}")

    @property
    def bounds(self) -> tuple[int, int] | None:
        return None if self.first is None or self.last is None else (self.first, self.last)

    @property
    def is_range(self) -> bool:
        return self.bounds is not None


@dataclass
class ReplayPlan:
    """What a replay does with the chosen DLQ records."""

    fresh: list[DeadLetter]  # one DLQ record per dead letter not replayed yet: re-produced
    copies: list[tuple[DlqEntry, DlqEntry]]  # another copy of one in ``fresh``: (copy, the one re-produced)
    skipped: list[tuple[DlqEntry, ReplayMarker]]  # its dead letter was replayed before


def plan_replay(chosen: list[DeadLetter]) -> ReplayPlan:
    """Each dead letter once: the first chosen copy of one not replayed yet is re-produced,
    its other chosen copies are not; one replayed before (``marker``) is skipped."""
    plan = ReplayPlan([], [], [])
    first: dict[str, DeadLetter] = {}
    for d in chosen:
        if d.marker is not None:
            plan.skipped.append((d.entry, d.marker))
        elif d.entry.origin in first:
            plan.copies.append((d.entry, first[d.entry.origin].entry))
        else:
            first[d.entry.origin] = d
            plan.fresh.append(d)
    return plan


def with_copies(letters: list[DeadLetter], marks: dict[str, ReplayMarker]) -> list[DeadLetter]:
    """``letters`` in partition and offset order, each with its copies counted, the first
    copy named (``copyOf``) on the others, and the replay marker of its dead letter: the one
    keyed by its source record, or an older release's keyed by any of its copies."""
    ordered = sorted(letters, key=lambda d: (d.entry.partition, d.entry.offset))
    groups: dict[str, list[DeadLetter]] = {}
    for d in ordered:
        groups.setdefault(d.entry.origin, []).append(d)
    out = []
    for d in ordered:
        group = groups[d.entry.origin]
        marker = marks.get(d.entry.origin) or next((marks[c.entry.slot] for c in group if c.entry.slot in marks), None)
        entry = d.entry.model_copy(update={
            "replayed": marker is not None, "copies": len(group),
            "copyOf": None if group[0] is d else group[0].entry.slot,
        })
        out.append(replace(d, entry=entry, marker=marker))
    return out


@dataclass
class ReplayReport:
    dlq: str
    source: str
    replayed: list[tuple[DlqEntry, tuple[int, int]]]  # entry, (partition, offset) in the source topic
    skipped: list[tuple[DlqEntry, ReplayMarker]]  # already replayed before
    note: str | None = None
    copies: list[tuple[DlqEntry, DlqEntry]] = field(default_factory=list)  # (copy, the one re-produced now)

    def lines(self) -> list[str]:
        out = [f"replayed {len(self.replayed)} record(s) from {self.dlq} to {self.source}"]
        for e, (p, o) in self.replayed:
            out.append(f"  {e.slot} (key {e.key!r}) -> {self.source}[{p}]@{o}")
        if self.copies:
            out.append(f"skipped {len(self.copies)} copy(ies) of a record replayed above (the same source record, "
                       "dead-lettered twice)")
            for e, first in self.copies:
                out.append(f"  {e.slot} (key {e.key!r}) copy of {first.slot}")
        if self.skipped:
            out.append(f"skipped {len(self.skipped)} already replayed (each dead letter is replayed once, "
                       "whichever copy)")
            for e, m in self.skipped:
                by = "" if (m.dlqPartition, m.dlqOffset) == (e.partition, e.offset) else \
                    f" as its copy {marker_key(m.dlqPartition, m.dlqOffset)}"
                out.append(f"  {e.slot} (key {e.key!r}) replayed at {iso(m.replayedAt)}{by}")
        if self.note and self.replayed:
            out.append(f"note: {self.note}")
        return out


def marker_key(partition: int, offset: int) -> str:
    return f"{partition}:{offset}"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def source_topic(name: str) -> Topic:
    """The catalogue topic ``name`` names; its DLQ's own name is accepted too."""
    try:
        return current_app().catalogue().topic(name)
    except KeyError as exc:
        if name.endswith(DLQ_SUFFIX):
            with contextlib.suppress(KeyError):
                return current_app().catalogue().topic(name.removesuffix(DLQ_SUFFIX))
        raise DlqError(f"topic: {exc.args[0]}") from None


class DlqTools:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = settings.kafka.client_config()

    # -- reading ---------------------------------------------------------------------

    def dead_letters(
        self, t: Topic, selection: Selection = Selection(), marks: dict[str, ReplayMarker] | None = None
    ) -> list[DeadLetter]:
        """The chosen records of ``t``'s DLQ, in partition and offset order, each marked
        ``replayed`` if a replay already took its dead letter (per ``marks``, read here if
        not given). The whole DLQ is read, so copies outside the selection count too."""
        marks = self.markers(t, settled=False) if marks is None else marks
        spans = self._spans(t.dlq, Selection())
        chosen = spans if selection == Selection() else self._spans(t.dlq, selection)
        out = []
        for m in self._read(t.dlq, spans, read_committed=False):
            reason = DlqReason.from_headers(message_headers(m))
            key, value = m.key(), m.value()
            partition, offset = m.partition() or 0, m.offset() or 0  # set on every consumed record
            entry = DlqEntry(
                dlqTopic=t.dlq, partition=partition, offset=offset, timestamp=m.timestamp()[1],
                key=None if key is None else key.decode("utf-8", errors="replace"),
                value=(value or b"").decode("utf-8", errors="replace"),
                reason=reason.reason, errorClass=reason.error_class, source=reason.source,
            )
            out.append(DeadLetter(entry, key, value))
        return [d for d in with_copies(out, marks)
                if d.entry.partition in chosen and chosen[d.entry.partition][0] <= d.entry.offset
                < chosen[d.entry.partition][1]]

    def markers(self, t: Topic, settled: bool = True) -> dict[str, ReplayMarker]:
        """What earlier replays of ``t`` recorded, by marker key (``DlqEntry.origin``; an
        older release's by ``partition:offset`` of the DLQ record), committed transactions
        only. ``settled`` (a replay, after fencing) reads to the end; otherwise a replay
        still open (or crashed, until its transaction times out) holds the end back, and
        what was committed before it is all there is."""
        if t.dlq_replayed not in self._topics():
            return {}
        spans = self._spans(t.dlq_replayed, Selection())
        marks: dict[str, ReplayMarker] = {}
        for m in self._read(t.dlq_replayed, spans, read_committed=True, to_end=settled):
            key, value = m.key(), m.value()
            if key is not None and value is not None:
                marks[key.decode()] = ReplayMarker.model_validate_json(value)
        return marks

    def _topics(self) -> set[str]:
        admin = AdminClient({**self.client, "log_level": "0"})
        try:
            return set(admin.list_topics(timeout=10).topics)
        except KafkaException as exc:
            raise DlqError(f"Kafka at {self.settings.kafka.bootstrap_servers} is not reachable ({exc})") from None

    def _spans(self, name: str, selection: Selection) -> dict[int, tuple[int, int]]:
        """Per partition, the half-open offset span [start, stop) to read."""
        consumer = self._consumer(read_committed=False)
        try:
            meta = consumer.list_topics(timeout=10).topics.get(name)
            if meta is None or meta.error is not None:
                raise DlqError(f"topic {name!r} does not exist: run `switchyard bootstrap`")
            partitions = sorted(meta.partitions)
            if selection.partition is not None and selection.partition not in partitions:
                raise DlqError(f"--partition: {name} has partitions {_listing(partitions)}, "
                               f"not {selection.partition}")
            chosen = [selection.partition] if selection.partition is not None else partitions
            if selection.is_range and len(chosen) > 1:
                raise DlqError(f"--partition is needed with --from/--to: {name} has {len(chosen)} partitions "
                               f"(offsets count per partition)")
            marks = {p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10) for p in chosen}
        except KafkaException as exc:
            raise DlqError(f"reading {name}: {exc}") from None
        finally:
            consumer.close()
        bounds = selection.bounds
        if bounds is None:
            return {p: (low, high) for p, (low, high) in marks.items() if high > low}
        ((p, (low, high)),) = marks.items()
        start, stop = max(low, bounds[0]), min(high, bounds[1] + 1)
        if start >= stop:
            held = f"offsets {low}..{high - 1}" if high > low else "no records"
            raise DlqError(f"--from/--to: {name} partition {p} holds {held}; nothing in {bounds[0]}..{bounds[1]}")
        return {p: (start, stop)}

    def _consumer(self, read_committed: bool) -> Consumer:
        return Consumer({
            **self.client, "group.id": f"switchyard-dlq-{uuid.uuid4()}", "enable.auto.commit": "false",
            "enable.partition.eof": "false", "log_level": "0",
            "isolation.level": "read_committed" if read_committed else "read_uncommitted",
        })

    def _read(
        self, name: str, spans: dict[int, tuple[int, int]], read_committed: bool, to_end: bool = True
    ) -> list[Message]:
        """The records of ``name`` in ``spans``. Done when every partition's position
        reaches its stop (transaction markers take offsets but are never delivered), or,
        unless ``to_end``, when nothing more came for IDLE_END seconds."""
        if not spans:
            return []
        consumer = self._consumer(read_committed)
        try:
            consumer.assign([TopicPartition(name, p, start) for p, (start, _) in spans.items()])
            out: list[Message] = []
            last = time.monotonic()
            deadline = last + READ_TIMEOUT
            while True:
                positions = consumer.position([TopicPartition(name, p) for p in spans])
                if all(tp.offset >= spans[tp.partition][1] for tp in positions):
                    return out
                if time.monotonic() > deadline:
                    raise DlqError(f"reading {name}: not at its end within {READ_TIMEOUT:.0f}s")
                m = consumer.poll(0.2)
                if m is None:
                    if not to_end and time.monotonic() - last > IDLE_END:
                        return out
                    continue
                last = time.monotonic()
                if m.error() is not None:
                    raise DlqError(f"reading {name}: {m.error()}")
                if (m.offset() or 0) < spans[m.partition() or 0][1]:
                    out.append(m)
        finally:
            consumer.close()

    # -- replaying -------------------------------------------------------------------

    def replay(self, t: Topic, selection: Selection) -> ReplayReport:
        """Re-produces the chosen dead letters not replayed before to ``t``, one DLQ record
        each (the first chosen of its copies), each with its marker, in one transaction."""
        self._ensure_marker_topic(t)
        producer = Producer(producer_config(self.client, **{"transactional.id": f"switchyard-dlq-replay-{t.name}"}))
        try:
            # Fences an older replay of this topic (its open transaction is aborted), so
            # the markers read next are all there will be.
            producer.init_transactions(30)
            marks = self.markers(t)
            plan = plan_replay(self.dead_letters(t, selection, marks))
            landed = self._produce(producer, t, plan.fresh)
        except KafkaException as exc:
            raise DlqError(f"replaying {t.dlq} to {t.name}: {exc} (nothing of this attempt was written; "
                           "run it again)") from None
        note = (f"{t.target} is a workflow: it runs once per key, so a replayed record whose workflow "
                "already ran gets a 409 'already ran' outcome on the results topic") if t.kind == "workflow" else None
        return ReplayReport(t.dlq, t.name, [(d.entry, landed[i]) for i, d in enumerate(plan.fresh)], plan.skipped,
                            note, plan.copies)

    def _produce(self, producer: Producer, t: Topic, letters: list[DeadLetter]) -> list[tuple[int, int]]:
        if not letters:
            return []
        landed: list[tuple[int, int]] = [(-1, -1)] * len(letters)
        errors: list[str] = []

        def reporter(i: int) -> Callable[[KafkaError | None, Message], None]:
            def report(err: KafkaError | None, msg: Message) -> None:
                if err is not None:
                    errors.append(str(err))
                else:
                    landed[i] = (msg.partition() or 0, msg.offset() or 0)
            return report

        now = int(time.time() * 1000)
        producer.begin_transaction()
        try:
            for i, d in enumerate(letters):
                e = d.entry
                producer.produce(t.name, key=d.key, value=d.value, on_delivery=reporter(i),
                                 headers=[("replayed.from", f"{t.dlq}:{e.slot}".encode())])
                producer.produce(t.dlq_replayed, key=e.origin.encode(),
                                 value=replay_marker(t, e, now).model_dump_json().encode())
            producer.flush(30)
            if errors:
                raise KafkaException(errors[0])
            producer.commit_transaction(30)
        except BaseException:
            with contextlib.suppress(KafkaException):  # a fenced producer cannot abort either
                producer.abort_transaction(30)
            raise
        return landed

    def _ensure_marker_topic(self, t: Topic) -> None:
        """One partition, compacted (the catalogue's config for marker topics)."""
        admin = AdminClient({**self.client, "log_level": "0"})
        try:
            create_missing(admin, [t.dlq_replayed], 1, self.settings.kafka.replication_factor,
                           current_app().catalogue())
        except KafkaException as exc:
            raise DlqError(f"creating {t.dlq_replayed}: {exc}") from None


def replay_marker(t: Topic, e: DlqEntry, now: int) -> ReplayMarker:
    """The marker of ``e``'s dead letter replayed to ``t`` (written under ``e.origin``)."""
    return ReplayMarker(dlqTopic=t.dlq, dlqPartition=e.partition, dlqOffset=e.offset, sourceTopic=t.name,
                        replayedAt=now, source=None if e.origin == e.slot else e.source)


def _listing(partitions: list[int]) -> str:
    return ", ".join(map(str, partitions)) or "none"


# -- the list table ------------------------------------------------------------------


def table(letters: list[DeadLetter]) -> str:
    def cut(text: str, width: int) -> str:
        text = text.replace("\n", " ")
        return text if len(text) <= width else text[: width - 1] + "…"

    rows = [(e.slot, iso(e.timestamp), cut(e.key or "(none)", 24), e.errorClass, cut(e.reason, 60), cut(e.value, 40),
             "yes" if e.replayed else "", e.copyOf or "") for e in (d.entry for d in letters)]
    return render_table(("p:offset", "dead-lettered (UTC)", "key", "class", "reason", "value", "replayed", "copy of"),
                        rows)


def summary(dlq: str, letters: list[DeadLetter]) -> str:
    """The list's first line: how many records, and how many of them are copies."""
    copies = sum(1 for d in letters if d.entry.copyOf is not None)
    if not copies:
        return f"{dlq}: {len(letters)} record(s)"
    return (f"{dlq}: {len(letters)} record(s), {copies} of them copies of another (one source record "
            "dead-lettered again after a crash; a replay sends each source record once)")
