"""The load generator: paced, keyed, sized records to any input topic, with end-to-end latency.

Each record's latency is its result's Kafka timestamp minus its own (both CreateTime,
stamped by producers on this machine), joined by the result's ``source`` coordinates
against the offsets the delivery reports gave. The benchmark (bench/run.py) and the fault
suite call :func:`generate_load`; ``switchyard load`` is the command-line face.
"""

from __future__ import annotations

import math
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from confluent_kafka import KafkaError, Message, Producer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from switchyard.core.catalogue import RESULTS_SUFFIX, Catalogue, Sample
from switchyard.core.kafka import producer_config, producer_with_id
from switchyard.core.results import Record, TopicReader, source_of
from switchyard.serving import current_app

Skew = Literal["uniform", "hot"]
Source = tuple[str, int, int]  # (topic, partition, offset)
# "hot": this share of the keys takes HOT_SHARE of the records.
HOT_FRACTION = 0.1
HOT_SHARE = 0.9


# --- plain decisions -----------------------------------------------------------------


def key_chooser(keys: int, skew: Skew, rng: random.Random, prefix: str = "k") -> Callable[[], str]:
    """Returns a function picking the next record's key (a string) from ``keys`` keys."""
    if keys < 1:
        raise ValueError("keys must be at least 1")
    if skew == "uniform" or keys == 1:
        return lambda: f"{prefix}{rng.randrange(keys)}"
    hot = max(1, math.ceil(keys * HOT_FRACTION))
    if hot == keys:
        return lambda: f"{prefix}{rng.randrange(keys)}"

    def choose() -> str:
        if rng.random() < HOT_SHARE:
            return f"{prefix}{rng.randrange(hot)}"
        return f"{prefix}{rng.randrange(hot, keys)}"

    return choose


def due_at(start: float, n: int, rate: float | None) -> float:
    """When record ``n`` (from 0) is due at an offered ``rate``; None means at once."""
    return start if rate is None else start + n / rate


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted values; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    return {name: round(percentile(latencies_ms, q), 2)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))}


def per_second(times: list[float], start: float) -> list[int]:
    """Counts per whole second since ``start`` (the throughput-over-time series)."""
    if not times:
        return []
    buckets = [0] * (int(max(times) - start) + 1)
    for t in times:
        buckets[max(0, int(t - start))] += 1
    return buckets


def catalogue() -> Catalogue:
    """The topics of the app this process works on (``SWITCHYARD_APP``, ``--app``)."""
    return current_app().catalogue()


def sample_of(name: str) -> Sample:
    """The records to send to the catalogue topic ``name``: its entry's sample. ValueError
    for an unknown topic and for one without a sample, rather than records that would all
    be dead-lettered."""
    try:
        t = catalogue().topic(name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    if t.sample is None:
        having = ", ".join(t.name for t in catalogue().topics if t.sample is not None)
        raise ValueError(f"{name}: no sample record to send (a valid {t.value.__name__} needs what only the "
                         f"deployment has, such as a signing secret); topics with one: {having}")
    return t.sample


def sample_records(name: str, count: int, keys: int | None, seed: int, size: int = 0) -> list[tuple[str, bytes]]:
    """``count`` sample records for topic ``name`` (`switchyard produce --generate`): record
    ``n`` is the topic's ``n``-th sample at ``size`` bytes (0: each its smallest), keyed by one
    of ``keys`` keys drawn from ``seed`` as the load generator draws them, or (None) by a
    key of its own. ValueError as :func:`sample_of`, and for fewer than one key."""
    build = sample_of(name)
    prefix = catalogue().topic(name).key.removesuffix("Id")
    choose = None if keys is None else key_chooser(keys, "uniform", random.Random(seed), prefix)
    return [(f"{prefix}{n}" if choose is None else choose(), build(n, size).model_dump_json().encode())
            for n in range(count)]


# --- running a load --------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    topic: str
    count: int | None = None  # stop after this many records ...
    duration: float | None = None  # ... or after this many seconds (whichever first)
    rate: float | None = None  # offered records/s; None = as fast as possible
    keys: int = 100
    skew: Skew = "uniform"
    payload_size: int = 100
    seed: int = 0
    key_prefix: str = "k"
    results_topic: str | None = None  # default: <topic>-results
    drain_timeout: float = 60.0  # give up waiting for results after this long without one
    # The catalogue topic whose sample records to send (default: ``topic``): the benchmark's
    # variant and peer topics carry bench-events' records.
    records_of: str | None = None

    def __post_init__(self) -> None:
        if self.count is None and self.duration is None:
            raise ValueError("give a record count or a duration")
        sample_of(self.records_of or self.topic)

    @property
    def sample(self) -> Sample:
        return sample_of(self.records_of or self.topic)

    @property
    def results(self) -> str:
        return self.results_topic or f"{self.topic}{RESULTS_SUFFIX}"


@dataclass
class Snapshot:
    """The live view the progress line shows."""

    produced: int
    results: int
    elapsed: float
    latencies_ms: list[float]

    def line(self) -> str:
        rate = self.produced / self.elapsed if self.elapsed else 0.0
        done = self.results / self.elapsed if self.elapsed else 0.0
        lat = latency_summary(self.latencies_ms[-5000:])
        return (f"{self.elapsed:6.1f}s produced {self.produced:>8} ({rate:7.0f}/s)  results {self.results:>8} "
                f"({done:7.0f}/s)  latency p50 {lat['p50']:.0f} ms p99 {lat['p99']:.0f} ms")

    def figures(self) -> str:
        """What the progress bar shows beside the records produced: results and latency."""
        done = self.results / self.elapsed if self.elapsed else 0.0
        lat = latency_summary(self.latencies_ms[-5000:])
        return f"results {self.results} ({done:.0f}/s) p50 {lat['p50']:.0f} ms p99 {lat['p99']:.0f} ms"


@dataclass
class LoadReport:
    spec: LoadSpec
    produced: int = 0
    start: float = 0.0  # wall-clock seconds
    produce_seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # per record with a result
    result_times: list[float] = field(default_factory=list)  # wall-clock seconds of each result
    errors: list[str] = field(default_factory=list)

    @property
    def results(self) -> int:
        return len(self.latencies_ms)

    @property
    def missing(self) -> int:
        return self.produced - self.results

    @property
    def throughput_rps(self) -> float:
        """Results per second from the first record produced to the last result."""
        if not self.result_times:
            return 0.0
        span = max(self.result_times) - self.start
        return self.results / span if span > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "topic": self.spec.topic, "produced": self.produced, "results": self.results,
            "missing": self.missing, "produced_rps": round(self.produced / self.produce_seconds, 1)
            if self.produce_seconds else 0.0,
            "throughput_rps": round(self.throughput_rps, 1), "latency_ms": latency_summary(self.latencies_ms),
            "per_second": per_second(self.result_times, self.start),
        }


class _ResultTail(threading.Thread):
    """Reads the results topic (from its end at creation) into a list, until stopped."""

    def __init__(self, client: Mapping[str, str], topic: str) -> None:
        super().__init__(name="load-results", daemon=True)
        self._reader = TopicReader(client, [topic])
        self.records: list[Record] = []
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                self.records.extend(self._reader.collect(lambda got: len(got) >= 1000, timeout=0.1))
        finally:
            self._reader.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


class _Joiner:
    """Matches result records to the produce times of their source records."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report
        self.sent: dict[Source, int] = {}  # source -> produce timestamp (ms)
        self._seen: set[Source] = set()
        self._pending: list[tuple[Source, int]] = []
        self._read = 0

    def take(self, records: list[Record]) -> None:
        fresh = records[self._read:]
        self._read += len(fresh)
        pending, self._pending = self._pending, []
        for source, ts in pending + [(_source_of(r), r.timestamp_ms) for r in fresh]:
            if source in self._seen:
                continue  # a redelivered result: the first one counts
            sent = self.sent.get(source)
            if sent is None:
                self._pending.append((source, ts))  # its delivery report is not in yet
                continue
            self._seen.add(source)
            self.report.latencies_ms.append(float(ts - sent))
            self.report.result_times.append(ts / 1000)


def _source_of(record: Record) -> Source:
    try:
        return source_of(record)
    except (ValueError, KeyError, TypeError):
        return "", -1, -1


def generate_load(
    client: Mapping[str, str], spec: LoadSpec, progress: Callable[[Snapshot], None] | None = None,
    tick: float = 0.5,
) -> LoadReport:
    """Produces ``spec``'s records, then waits for their results; returns per-record latencies."""
    report = LoadReport(spec)
    joiner = _Joiner(report)
    tail = _ResultTail(client, spec.results)
    tail.start()
    # Connected, with its producer id and the topic's metadata, before the clock starts:
    # otherwise the first records' latency includes the producer's own start-up (0.5 s
    # or more for the id alone, switchyard/core/kafka.py `producer_with_id`).
    producer = producer_with_id(producer_config(client))
    producer.list_topics(spec.topic, timeout=10)
    try:
        _produce_all(producer, spec, report, joiner, lambda: _show(progress, report, joiner, tail))
        _drain(spec, report, joiner, tail, lambda: _show(progress, report, joiner, tail), tick)
    finally:
        tail.stop()
    return report


def _produce_all(producer: Producer, spec: LoadSpec, report: LoadReport, joiner: _Joiner,
                 show: Callable[[], None]) -> None:
    rng = random.Random(spec.seed)
    choose = key_chooser(spec.keys, spec.skew, rng, spec.key_prefix)
    build = spec.sample
    report.start = time.time()
    start = time.monotonic()
    next_show = start
    n = 0

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            report.errors.append(err.str())
            return
        joiner.sent[(msg.topic() or "", msg.partition() or 0, msg.offset() or 0)] = msg.timestamp()[1]

    while (spec.count is None or n < spec.count) and (
            spec.duration is None or time.monotonic() - start < spec.duration):
        wait = due_at(start, n, spec.rate) - time.monotonic()
        if wait > 0.001:
            producer.poll(min(wait, 0.05))  # serve delivery reports while pacing
            continue
        value = build(n, spec.payload_size).model_dump_json().encode()
        try:
            producer.produce(spec.topic, key=choose().encode(), value=value, on_delivery=delivered)
        except BufferError:
            producer.poll(0.05)  # the local queue is full: let it drain
            continue
        n += 1
        producer.poll(0)
        if time.monotonic() >= next_show:
            report.produced = n
            show()
            next_show = time.monotonic() + 0.5
    producer.flush(60)
    report.produced = n
    report.produce_seconds = time.monotonic() - start


def _drain(spec: LoadSpec, report: LoadReport, joiner: _Joiner, tail: _ResultTail,
           show: Callable[[], None], tick: float) -> None:
    last_count, last_change = -1, time.monotonic()
    while True:
        joiner.take(tail.records)
        show()
        if report.results >= len(joiner.sent):
            return
        if report.results != last_count:
            last_count, last_change = report.results, time.monotonic()
        elif time.monotonic() - last_change > spec.drain_timeout:
            return
        time.sleep(tick)


def _show(progress: Callable[[Snapshot], None] | None, report: LoadReport, joiner: _Joiner,
          tail: _ResultTail) -> None:
    if progress is None:
        return
    joiner.take(tail.records)
    progress(Snapshot(report.produced, report.results, time.time() - report.start, report.latencies_ms))


PLAIN_EVERY = 5.0  # seconds between progress lines off a terminal


class PlainProgress:
    """Progress for a log or CI (stderr is no terminal): one newline-terminated line every
    ``every`` seconds of the run, not a line rewritten with carriage returns (which a log
    keeps as one ever-growing line)."""

    def __init__(self, label: str = "", every: float = PLAIN_EVERY) -> None:
        self.prefix = f"{label} " if label else ""
        self.every = every
        self._due = every

    def __call__(self, snapshot: Snapshot) -> None:
        if snapshot.elapsed < self._due:
            return
        self._due = (snapshot.elapsed // self.every + 1) * self.every
        sys.stderr.write(f"{self.prefix}{snapshot.line()}\n")
        sys.stderr.flush()


def line_progress(label: str) -> Callable[[Snapshot], None]:
    """One line per run on stderr, ``label`` first: on a terminal rewritten in place (the
    caller ends it with a newline), elsewhere :class:`PlainProgress`."""
    if not sys.stderr.isatty():
        return PlainProgress(label)

    def show(snapshot: Snapshot) -> None:
        sys.stderr.write(f"\r{label:36.36} {snapshot.line()}")
        sys.stderr.flush()

    return show


@contextmanager
def progress_display(spec: LoadSpec) -> Iterator[Callable[[Snapshot], None]]:
    """How a run shows its progress on stderr: on a terminal a rich progress bar (records
    of the count, or seconds of the duration) with the snapshot's figures, left in place
    at the end; elsewhere (a log, CI) a plain line every few seconds (PlainProgress)."""
    if not sys.stderr.isatty():
        yield PlainProgress()
        return
    by_count = spec.count is not None
    columns = (TextColumn("{task.description}"), BarColumn(bar_width=24),
               MofNCompleteColumn() if by_count else TimeElapsedColumn(),
               TextColumn("{task.fields[figures]}", markup=False))
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(spec.topic, total=spec.count if by_count else spec.duration, figures="")

        def show(snapshot: Snapshot) -> None:
            done = snapshot.produced if by_count else min(snapshot.elapsed, spec.duration or 0.0)
            bar.update(task, completed=done, figures=snapshot.figures())

        yield show
