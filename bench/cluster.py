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
from producers.load import LoadSpec, generate_load
from schemas.catalogue import topic
from switchyard.core.text import render_table
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
    names = sorted({n for row in doc["rows"].values() for n in row["cpu_ms_per_record"]})
    head = ("topology", "rec/s", "p50 ms", "p99 ms", *[f"{n} ms/rec" for n in names], "total ms/rec")
    rows = [(topology, row["throughput_rps"], row["latency_ms_at_rate"]["p50"], row["latency_ms_at_rate"]["p99"],
             *[row["cpu_ms_per_record"].get(n, "-") for n in names], row["cpu_ms_per_record_total"])
            for topology, row in doc["rows"].items()]
    return render_table(head, rows, right=range(1, len(head)))


def write(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
