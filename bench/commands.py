"""Measuring: `switchyard bench` (the benchmark suite) and `switchyard hops` (latency per hop).

Both start a private stack on free ports (its ports and paths their own, not the dev
stack's); every other setting comes from the environment, as for the dev stack.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from switchyard.cli.base import RunFailed, Subcommands, UsageError, command, from_setting

BENCH = """\
Switchyard against a raw consumer loop and a Faust app, in one run (docs/benchmarks.md).

  switchyard bench --quick                              # under 3 minutes (make bench ARGS=--quick)
  switchyard bench --only switchyard --soak 600          # a 10-minute flat-memory soak
  switchyard bench --quick --only switchyard --profile   # py-spy + perf profiles

Starts a private stack on free ports, drives the same generated records through each
system, runs the 3-step workflow over HTTP and the scaling runs, and writes
bench/results/latest.json, a table and latest.png. Exit 1 if a run lost records.
Scenarios: raw, faust, switchyard, workflow, scaling, latency, capacity, packages."""

HOPS = """\
Where a record's end-to-end latency goes, hop by hop, at an offered rate.

Starts a private stack, offers --rate records/s to bench-events for --warmup seconds
(unmeasured: Kafka's JIT compiler alone takes about 40 s to settle), then for --seconds,
and splits each measured record's latency at the key gate's copy: input -> -routed (the
gate) and -routed -> result (Restate), from the records' own Kafka timestamps; with the
CPU each component spent per record meanwhile (what bounds the latency on a busy machine)."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # switchyard.core.settings.LogLevel


def register(sub: Subcommands) -> None:
    p = command(sub, "bench", cmd_bench, "the benchmark suite against a raw loop and a Faust app",
                settings=None, private_stack=True, description=BENCH)
    p.add_argument("--quick", action="store_true", help="small counts: finishes in under 3 minutes")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # shape checks in tests
    p.add_argument("--records", type=int, help="records per throughput run (default: the mode's)")
    p.add_argument("--keys", type=int, help="keys of the comparison runs (default: 1000)")
    p.add_argument("--partitions", type=int, help="partitions of the comparison runs' topics (default: 4)")
    p.add_argument("--only", metavar="A,B", help="comma-separated scenarios to run (default: all; listed above)")
    p.add_argument("--soak", type=float, metavar="SECONDS", help="add a flat-memory soak of this length")
    p.add_argument("--soak-rate", type=float, metavar="RATE", help="offered records/s during the soak "
                   "(default: 500)")
    p.add_argument("--latency-rate", type=float, metavar="RATE",
                   help="offered records/s of the latency runs (default: 1000)")
    p.add_argument("--profile", action="store_true", help="py-spy the service, perf restate-server")
    p.add_argument("--service-workers", type=int, metavar="N",
                   help=f"service worker processes ({from_setting('service.workers')})")
    p.add_argument("--server", choices=["granian", "hypercorn"],
                   help=f"the service's HTTP/2 server ({from_setting('service.server')})")
    p.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS,
                   help=f"the service's log level ({from_setting('service.log_level')})")
    p.add_argument("--batch-records", type=int, metavar="N",
                   help=f"records of one key per invocation ({from_setting('gate.batch_records')})")
    p.add_argument("--restate-env", action="append", default=[], metavar="RESTATE_X=VALUE",
                   help="a restate-server setting on top of restate.toml, for a lever run (repeatable)")
    p.add_argument("--restate-partitions", type=int, metavar="N",
                   help=f"restate-server partitions ({from_setting('stack.restate_partitions')})")
    p.add_argument("--out", type=Path, metavar="DIR", help="where <name>.json and <name>.png go "
                   "(default: bench/results in the checkout)")
    p.add_argument("--name", default="latest", help="file name stem of the outputs")
    p.add_argument("--label", default="", help="a note stored with the results (what was changed)")
    p.add_argument("--keep", action="store_true", help="keep the stack's home (logs, data) afterwards")
    p.add_argument("--cluster", action="store_true",
                   help="instead: the same records through one node and through the local cluster (3 brokers, "
                        "3 Restate nodes, 2 replicas), CPU per record per process (bench/results/cluster.json; "
                        "docs/sizing.md)")

    hops = command(sub, "hops", cmd_hops, "latency per hop (key gate, Restate) at an offered rate",
                   settings=None, private_stack=True, description=HOPS)
    hops.add_argument("--rate", type=float, default=200.0, help="offered records/s")
    hops.add_argument("--seconds", type=float, default=6.0, help="how long to offer them")
    hops.add_argument("--keys", type=int, default=1000, help="keys the records spread over")
    hops.add_argument("--warmup", type=float, default=30.0, metavar="SECONDS",
                      help="offer the same rate this long first, unmeasured (default: 30)")


def cmd_bench(args: argparse.Namespace) -> int:
    import shlex

    from bench.run import BenchInputError, run

    if args.cluster:
        return cluster_bench(args)
    try:
        code = run(args, shlex.join(["switchyard", *args.argv]))
    except BenchInputError as exc:
        raise UsageError(exc) from None
    if code:
        raise RunFailed("bench: a run lost records (its `missing` is not 0)")
    return 0


def cmd_hops(args: argparse.Namespace) -> int:
    from bench.hops import measure

    return measure(args.rate, args.seconds, args.keys, args.warmup)


def cluster_bench(args: argparse.Namespace) -> int:
    import tempfile

    from bench.cluster import run_cluster_bench, sizing_table, table, write
    from switchyard.stack.paths import REPO

    out = (args.out or REPO / "bench" / "results") / "cluster.json"
    with tempfile.TemporaryDirectory(prefix="switchyard-bench-cluster-") as home:
        doc = run_cluster_bench(Path(home), records=args.records or (2000 if args.quick else 5000),
                                keys=args.keys or 100)
    write(doc, out)
    print(f"\n{table(doc)}\n\ncluster/single throughput: {doc['cluster_over_single']}\n\n{sizing_table(doc)}\n\n"
          f"written to {out}")
    missing = sum(row["missing"] for row in doc["rows"].values())
    if missing:
        raise RunFailed(f"bench --cluster: {missing} records without a result")
    return 0
