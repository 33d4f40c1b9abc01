"""Where a record's end-to-end latency goes, hop by hop, at an offered rate.

Starts a private stack (as the benchmark does), offers ``--rate`` records/s to
`bench-events` for ``--seconds``, and splits each record's latency at the key gate's copy:
input -> `-routed` (the gate: read, copy, transaction) and `-routed` -> result (Restate:
subscription, invocation, result record), from the records' own Kafka timestamps.

    switchyard hops --rate 200 --seconds 20 --warmup 45

A warm-up at the same rate comes first: on a fresh stack Kafka's JIT compiler takes about
40 s to settle, and until then every hop is several times slower (docs/benchmarks.md).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.procs import CpuMeter, load_average, switchyard_meter
from bench.topics import BENCH
from switchyard.core.envelope import parse_routed
from switchyard.core.results import Record, TopicReader, source_of
from switchyard.core.text import render_table
from switchyard.ops.load import LoadSpec, generate_load, latency_summary
from switchyard.stack.ephemeral import ephemeral_settings
from switchyard.stack.stack import Stack

Source = tuple[str, int, int]


def hops(routed: list[Record], results: list[Record]) -> dict[str, dict[str, float]]:
    """Per record: routed copy time minus input time, result time minus routed copy time."""
    copied: dict[Source, tuple[int, int]] = {}  # source -> (input ms, routed ms)
    for r in routed:
        for envelope in parse_routed(r.value or b"{}"):
            s = envelope.source
            if envelope.timestamp_ms is not None:
                copied[(s.topic, s.partition, s.offset)] = (envelope.timestamp_ms, r.timestamp_ms)
    gate, restate = [], []
    for r in results:
        times = copied.get(source_of(r))
        if times is not None:
            gate.append(float(times[1] - times[0]))
            restate.append(float(r.timestamp_ms - times[1]))
    return {"input -> routed (key gate)": latency_summary(gate),
            "routed -> result (Restate)": latency_summary(restate)}


def measure(rate: float, seconds: float, keys: int, warmup: float = 30.0) -> int:
    """`switchyard hops`: the split at ``rate`` records/s for ``seconds`` over ``keys`` keys,
    after ``warmup`` seconds at the same rate on the same keys."""
    home = Path(tempfile.mkdtemp(prefix="switchyard-hops-"))
    stack = Stack(ephemeral_settings(home, streams={"enabled": False}), home, progress=print)
    try:
        stack.start()
        client = stack.settings.kafka.client_config()
        generate_load(client, LoadSpec(BENCH.name, count=300, keys=100, key_prefix="warm-"))
        if warmup > 0:
            print(f"warming up: {rate:g} rec/s for {warmup:g} s (not measured)")
            generate_load(client, LoadSpec(BENCH.name, duration=warmup, rate=rate, keys=keys, key_prefix="hop-"))
        cpu = CpuMeter(switchyard_meter(stack))
        with TopicReader(client, [BENCH.routed]) as routed, TopicReader(client, [BENCH.results]) as results:
            cpu.start()
            report = generate_load(client, LoadSpec(BENCH.name, duration=seconds, rate=rate,
                                                    keys=keys, key_prefix="hop-"))
            spent = cpu.stop()
            copies = routed.collect(lambda rs: False, timeout=3.0, idle=1.0)
            outcomes = results.collect(lambda rs: False, timeout=3.0, idle=1.0)
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)
    print(f"\n{report.produced} records at {rate:g} rec/s over {keys} keys after {warmup:g} s of warm-up "
          f"(load average {load_average()})")
    print(hops_table({"end to end": report.summary()["latency_ms"], **hops(copies, outcomes)}))
    per_record = {name: 1000 * secs / max(report.produced, 1) for name, secs in spent.items()}
    print("CPU ms/record: " + ", ".join(f"{name} {ms:.2f}" for name, ms in per_record.items())
          + f" (sum {sum(per_record.values()):.2f}; at this rate {sum(per_record.values()) * rate / 1000:.2f} cores)")
    return 0


def hops_table(summaries: dict[str, dict[str, float]]) -> str:
    """One row per hop: its latency percentiles (latency_summary's), in ms."""
    quantiles = ("p50", "p90", "p99", "max")
    rows = [(name, *(f"{summary[q]:.2f}" for q in quantiles)) for name, summary in summaries.items()]
    return render_table(("hop", *(f"{q} ms" for q in quantiles)), rows, right=range(1, len(quantiles) + 1))

