"""The cluster row: the same records through one node and through the local cluster
(3 brokers, 3 Restate nodes, 2 service replicas behind HAProxy), in one run, with the
CPU each process spent per record. On a 2-core machine the cluster is slower than one
node (eight processes, replication on every write): the row says by how much, and the
CPU figures feed docs/sizing.md."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.procs import CpuMeter, load_average
from schemas.catalogue import topic
from switchyard.core.text import render_table
from switchyard.ops.load import LoadSpec, generate_load
from switchyard.settings import Settings
from switchyard.stack.ephemeral import ephemeral_cluster_settings, ephemeral_settings
from switchyard.stack.stack import Stack

BENCH = topic("bench-events")  # through the key gate, as a user's object topic goes
TOPOLOGIES = ("single", "cluster")


def topology_settings(home: Path, topology: str, partitions: int) -> Settings:
    make = ephemeral_cluster_settings if topology == "cluster" else ephemeral_settings
    return make(home, read_env_file=False, kafka={"topic_partitions": partitions}, streams={"enabled": False},
                service={"log_level": "WARNING"})


def measure(stack: Stack, records: int, keys: int, rate: float, seconds: float,
            progress: Callable[[str], None]) -> dict[str, Any]:
    """Throughput of ``records`` as fast as they go, then latency at ``rate`` for ``seconds``;
    CPU per record of every process of the stack (the load generator's own included)."""
    client = stack.settings.kafka.client_config()
    pids = {name: int(getattr(c, "process").pid) for name, c in stack.components.items()}  # noqa: B009
    generate_load(client, LoadSpec(BENCH.name, count=200, keys=keys, key_prefix="warm-"))
    cpu = CpuMeter(dict(pids))
    cpu.start()
    began = load_average()
    thrown = generate_load(client, LoadSpec(BENCH.name, count=records, keys=keys, key_prefix="t-"))
    spent = cpu.stop()
    paced = generate_load(client, LoadSpec(BENCH.name, duration=seconds, rate=rate, keys=keys, key_prefix="l-"))
    done = thrown.summary()
    progress(f"  {done['throughput_rps']} rec/s; p99 at {rate:g} rec/s: {paced.summary()['latency_ms']['p99']} ms")
    per_record = {name: round(1000 * seconds_ / max(thrown.results, 1), 3) for name, seconds_ in spent.items()}
    return {
        "records": records, "keys": keys, "results": thrown.results, "missing": thrown.missing,
        "throughput_rps": done["throughput_rps"], "latency_ms_at_rate": paced.summary()["latency_ms"],
        "offered_rps": rate, "cpu_ms_per_record": per_record,
        "cpu_ms_per_record_total": round(sum(per_record.values()), 3), "load": f"{began} -> {load_average()}",
    }


def run_cluster_bench(home: Path, records: int = 5000, keys: int = 100, rate: float = 100.0, seconds: float = 15.0,
                      partitions: int = 6, progress: Callable[[str], None] = print) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for topology in TOPOLOGIES:
        stack_home = home / topology
        stack = Stack(topology_settings(stack_home, topology, partitions), stack_home, progress=progress)
        stack.start()
        try:
            progress(f"{topology}: {records} records on {BENCH.name}, {keys} keys")
            rows[topology] = measure(stack, records, keys, rate, seconds, progress)
        finally:
            stack.stop()
    single, cluster = rows["single"]["throughput_rps"], rows["cluster"]["throughput_rps"]
    return {"when": time.strftime("%Y-%m-%d %H:%M"), "rows": rows,
            "cluster_over_single": round(cluster / single, 3) if single else None}


def table(doc: dict[str, Any]) -> str:
    """Per topology: throughput, latency at the offered rate, CPU ms per record per kind of
    process (a kind's replicas added up; each process's own figure is in the JSON)."""
    per_kind = {topology: kinds(row["cpu_ms_per_record"]) for topology, row in doc["rows"].items()}
    names = sorted({n for k in per_kind.values() for n, ms in k.items() if ms > 0})
    head = ("topology", "rec/s", "p50 ms", "p99 ms", *[f"{n} ms/rec" for n in names], "total ms/rec")
    rows = [(topology, row["throughput_rps"], row["latency_ms_at_rate"]["p50"], row["latency_ms_at_rate"]["p99"],
             *[per_kind[topology].get(n, "-") for n in names], row["cpu_ms_per_record_total"])
            for topology, row in doc["rows"].items()]
    return render_table(head, rows, right=range(1, len(head)))


def write(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


TARGETS = (10_000, 100_000)
UTILISATION = 0.6  # headroom: one node's load moves to the others when it is lost


def kinds(per_process: dict[str, float]) -> dict[str, float]:
    """CPU ms per record per kind of process (`kafka-1` + `kafka-2` + ... = kafka)."""
    summed: dict[str, float] = {}
    for name, ms in per_process.items():
        kind = name.split("-")[0]
        summed[kind] = round(summed.get(kind, 0.0) + ms, 3)
    return summed


def sizing(doc: dict[str, Any], targets: tuple[int, ...] = TARGETS,
           utilisation: float = UTILISATION) -> list[tuple[str, float, list[float]]]:
    """Per kind of process: its CPU ms per record in the cluster row, and the cores each
    target rate needs at ``utilisation`` (docs/sizing.md's model)."""
    per_kind = kinds(doc["rows"]["cluster"]["cpu_ms_per_record"])
    return [(kind, ms, [round(rate * ms / 1000 / utilisation, 1) for rate in targets])
            for kind, ms in sorted(per_kind.items()) if kind != "loadgen" and ms > 0]


def sizing_table(doc: dict[str, Any], targets: tuple[int, ...] = TARGETS) -> str:
    rows = sizing(doc, targets)
    total = [round(sum(r[2][i] for r in rows), 1) for i in range(len(targets))]
    body = [(kind, ms, *cores) for kind, ms, cores in rows]
    body.append(("total", round(sum(r[1] for r in rows), 3), *total))
    head = ("process", "CPU ms/record", *[f"cores at {rate:,} rec/s" for rate in targets])
    return render_table(head, body, right=range(1, len(head)))
