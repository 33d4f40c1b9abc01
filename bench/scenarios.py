"""The benchmark's scenarios against one running stack (bench/run.py starts it).

Every Kafka scenario drives the same generated records (seed, key set, payload size) into
a system's input topic with the load generator and joins each result back to its record:
throughput is results per second from the first record produced to the last result, and
latency is per record, produce to result. CPU seconds per component are read from /proc
around each run, so the table can say where the time went.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from bench import packages, workflow
from bench.capacity import capacity_summary, step_passes
from bench.peers.launch import start_peer
from bench.plan import Plan
from bench.procs import CpuMeter, RssSampler, component_pid, load_average, switchyard_meter
from bench.profile import profiled
from bench.topics import BENCH, create_topics, peer_topics, switchyard_topic
from schemas.catalogue import CATALOGUE
from switchyard.ops.load import LoadReport, LoadSpec, generate_load, line_progress
from switchyard.stack.stack import Stack

Progress = Callable[[str], None]
MAIN_PREFIX = "k"  # the comparison runs' key set: k0 .. k<keys-1>, the same in every system
CAPACITY_SYSTEMS = ("faust", "switchyard")  # the pair; the raw loop's ladder would be long


class Bench:
    def __init__(self, stack: Stack, plan: Plan, home: Path, progress: Progress = print,
                 profile_dir: Path | None = None) -> None:
        self.stack = stack
        self.settings = stack.settings
        self.client = self.settings.kafka.client_config()
        self.plan = plan
        self.home = home
        self.progress = progress
        self.profile_dir = profile_dir
        self.runs: list[dict[str, Any]] = []
        self.workflow: dict[str, dict[str, Any]] = {}
        self.soak: dict[str, Any] | None = None
        self.capacity: dict[str, dict[str, Any]] = {}

    def pid(self, component: str) -> int:
        return component_pid(self.stack, component)

    # --- one load run ---------------------------------------------------------------

    def load(self, system: str, scenario: str, source: str, results: str, meter: dict[str, int], *,
             keys: int, partitions: int, prefix: str, count: int | None = None, duration: float | None = None,
             rate: float | None = None, record: bool = True) -> LoadReport:
        p = self.plan
        # A catalogue topic gets its own sample records (PackageTracker's location updates); the
        # benchmark's variant and peer topics carry bench-events' records.
        records_of = source if source in {t.name for t in CATALOGUE.topics} else BENCH.name
        spec = LoadSpec(source, count, duration, rate, keys, "uniform", p.payload_size, p.seed, prefix, results,
                        p.drain_timeout, records_of=records_of)
        label = f"{system}/{scenario} keys={keys} p={partitions}"
        cpu = CpuMeter({**meter, "loadgen": os.getpid()}, alone=frozenset({"loadgen"}))
        load_before = load_average()
        cpu.start()
        report = generate_load(self.client, spec, line_progress(label))
        spent = cpu.stop()
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # ends the progress line
        if report.missing or report.errors:
            self.progress(f"  !! {label}: {report.missing} of {report.produced} without a result; "
                          f"errors: {report.errors[:3]}")
        if record:
            self.runs.append(run_record(system, scenario, report, spent, keys=keys, partitions=partitions,
                                        offered=rate, load=f"{load_before} -> {load_average()}"))
        return report

    def warm(self, system: str, source: str, results: str, meter: dict[str, int], *, keys: int | None = None,
             prefix: str = "warm-") -> None:
        """A few records first, so consumer start-up and first connections are not measured
        (on the run's own keys where they must exist first: ``keys``, ``prefix``)."""
        report = self.load(system, "warmup", source, results, meter, keys=keys or min(self.plan.keys, 100),
                           partitions=self.plan.partitions, prefix=prefix, count=self.plan.warmup, record=False)
        if report.results == 0:
            raise RuntimeError(f"{system} answered none of {report.produced} warm-up records")

    def comparison(self, system: str, source: str, results: str, meter: dict[str, int]) -> None:
        """The throughput run on the shared records, then the offered-rate latency run."""
        p = self.plan
        self.warm(system, source, results, meter)
        with self.profiling(system, "throughput"):
            self.load(system, "throughput", source, results, meter, keys=p.keys, partitions=p.partitions,
                      prefix=MAIN_PREFIX, count=p.records)
        if p.runs("latency"):
            self.load(system, f"latency@{p.latency_rate:g}rps", source, results, meter, keys=p.keys,
                      partitions=p.partitions, prefix="lat-", duration=p.latency_seconds, rate=p.latency_rate)
        if p.runs("capacity") and system in CAPACITY_SYSTEMS:
            self.climb(system, source, results, meter)

    def climb(self, system: str, source: str, results: str, meter: dict[str, int]) -> None:
        """Capacity at the SLO: offered rates up the ladder until p99 or the pace fails."""
        p, steps = self.plan, []
        for rate in p.ladder().rates():
            # A failed step runs once more: one stall (a JVM pause, a commit) on a shared
            # 2-core machine should not end the climb; two in a row do.
            for attempt in (1, 2):
                report = self.load(system, "capacity", source, results, meter, keys=p.keys,
                                   partitions=p.partitions, prefix=f"cap{rate:g}.{attempt}-",
                                   duration=p.capacity_seconds, rate=rate, record=False)
                summary = report.summary()
                passed, why = step_passes(summary, rate, p.slo_p99_ms)
                self.progress(f"  {system} capacity step {rate:g} rec/s (try {attempt}): p99 "
                              f"{summary['latency_ms']['p99']:.0f} ms, {summary['throughput_rps']:.0f} rec/s -> {why}")
                if passed:
                    break
            steps.append({"offered_rps": rate, "passed": passed, "why": why, "tries": attempt,
                          "throughput_rps": summary["throughput_rps"], "latency_ms": summary["latency_ms"]})
            if not passed:
                break
        self.capacity[system] = capacity_summary(steps, p.slo_p99_ms)

    # --- the systems ----------------------------------------------------------------

    def peer(self, system: str) -> None:
        source, results = peer_topics(system)
        create_topics(self.client, [source, results], self.plan.partitions)
        process = start_peer(system, self.settings.kafka.bootstrap_servers, self.home, self.plan.partitions)
        try:
            self.comparison(system, source, results, {system: process.process.pid, "kafka": self.pid("kafka")})
        finally:
            process.stop()

    def switchyard_meter(self) -> dict[str, int]:
        return switchyard_meter(self.stack)

    def switchyard(self) -> None:
        source = switchyard_topic(self.settings, self.plan.partitions)
        self.comparison("switchyard", source, BENCH.results, self.switchyard_meter())
        # One key alone on the catalogue's topic, the path a user's records take (through
        # the key gate); the scaling runs' variant topics are subscribed directly.
        self.load("switchyard", "one-key", BENCH.name, BENCH.results, self.switchyard_meter(), keys=1,
                  partitions=self.plan.partitions, prefix="one-", count=self.plan.scaling_records)

    def scaling(self) -> None:
        p = self.plan
        for partitions in p.scaling_partitions:
            source = switchyard_topic(self.settings, partitions)
            self.warm("switchyard", source, BENCH.results, self.switchyard_meter())
            for keys in p.scaling_keys:
                self.load("switchyard", "scaling", source, BENCH.results, self.switchyard_meter(), keys=keys,
                          partitions=partitions, prefix=f"s{partitions}x{keys}-", count=p.scaling_records)

    def packages(self) -> None:
        """PackageTracker/updateLocation, the seeds' object flow, on a stack like `make up`:
        registered packages, through the key gate, the stream worker reading along."""
        p = self.plan
        topic = packages.TOPIC.name
        packages.register(self.settings.restate.ingress_url, MAIN_PREFIX, p.keys)
        with packages.stream_worker(self.stack, self.home) as worker:
            meter = {**self.switchyard_meter(), **({"streams": worker} if worker else {})}
            self.warm("packages", topic, packages.TOPIC.results, meter, keys=p.keys, prefix=MAIN_PREFIX)
            self.load("packages", "throughput", topic, packages.TOPIC.results, meter, keys=p.keys,
                      partitions=p.partitions, prefix=MAIN_PREFIX, count=p.records)

    def workflows(self) -> None:
        ingress, calls = self.settings.restate.ingress_url, self.plan.workflow_calls
        # The broker is not on an HTTP call's path: its CPU over these calls is its own background.
        meter = {name: pid for name, pid in self.switchyard_meter().items() if name != "kafka"}
        base = workflow.baseline(ingress, calls, CpuMeter(meter))
        self.progress(f"  workflow baseline (no steps): {base.summary()}  (load {load_average()})")
        with self.profiling("switchyard", "workflow-sequential"):
            seq = workflow.sequential(ingress, calls, meter=CpuMeter(meter))
        self.progress(f"  workflow sequential: {seq.summary()}  (load {load_average()})")
        conc = workflow.concurrent(ingress, calls, 16, meter=CpuMeter(meter))
        self.progress(f"  workflow concurrent16: {conc.summary()}  (load {load_average()})")
        self.workflow = {"sequential": seq.summary(), "concurrent16": conc.summary(), "baseline": base.summary()}

    def soak_run(self) -> None:
        """Switchyard at a steady offered rate while the service's RSS is sampled."""
        p = self.plan
        source = switchyard_topic(self.settings, p.partitions)
        sampler = RssSampler(self.pid("service"), interval=5.0)
        sampler.start()
        try:
            self.load("switchyard", f"soak@{p.soak_rate:g}rps", source, BENCH.results, self.switchyard_meter(),
                      keys=p.keys, partitions=p.partitions, prefix="soak-", duration=p.soak_seconds,
                      rate=p.soak_rate)
        finally:
            self.soak = memory_summary(sampler.stop(), p.soak_seconds, p.soak_rate)

    def profiling(self, system: str, scenario: str) -> Any:
        if self.profile_dir is None or system != "switchyard":
            return nullcontext()
        return profiled(self.pid("service"), self.pid("restate"), self.profile_dir, scenario)

    def run(self) -> None:
        p = self.plan
        for system in ("raw", "faust"):
            if p.runs(system):
                self.peer(system)
        if p.runs("switchyard"):
            self.switchyard()
        if p.runs("workflow"):
            self.workflows()
        if p.runs("scaling"):
            self.scaling()
        if p.runs("packages"):
            self.packages()
        if p.soak_seconds > 0:
            self.soak_run()

    @contextmanager
    def memory(self) -> Iterator[RssSampler]:
        sampler = RssSampler(self.pid("service"))
        sampler.start()
        try:
            yield sampler
        finally:
            sampler.stop()


def run_record(system: str, scenario: str, report: LoadReport, cpu: dict[str, float], *, keys: int,
               partitions: int, offered: float | None, load: str) -> dict[str, Any]:
    summary = report.summary()
    lat = summary["latency_ms"]
    results = max(report.results, 1)
    return {
        "system": system, "scenario": scenario, "records": report.produced,
        "throughput_rps": summary["throughput_rps"],
        "latency_ms": {"p50": lat["p50"], "p90": lat["p90"], "p99": lat["p99"], "max": lat["max"]},
        "results": report.results, "missing": report.missing, "keys": keys, "partitions": partitions,
        "offered_rps": offered, "produced_rps": summary["produced_rps"],
        "cpu_seconds": cpu, "cpu_ms_per_record": {k: round(v * 1000 / results, 3) for k, v in cpu.items()},
        "per_second": summary["per_second"], "load_average": load,
    }


def memory_summary(samples: list[tuple[float, float]], seconds: float, rate: float) -> dict[str, Any]:
    """Flatness: mean RSS over the last tenth of the run against the tenth after warm-up."""
    values = [mb for _, mb in samples]
    tenth = max(1, len(values) // 10)
    early = values[tenth:2 * tenth] or values[:1]
    late = values[-tenth:]
    start, end = sum(early) / len(early), sum(late) / len(late)
    growth = (end - start) / start * 100 if start else 0.0
    return {"seconds": seconds, "offered_rps": rate, "rss_mb_start": round(start, 1), "rss_mb_end": round(end, 1),
            "rss_mb_max": max(values, default=0.0), "growth_pct": round(growth, 1), "flat": abs(growth) <= 10,
            "samples": samples}
