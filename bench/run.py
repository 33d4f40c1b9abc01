"""switchyard-bench: Switchyard against a raw consumer loop and a Faust app, in one run.

Starts a private stack on free ports (the same steps as the dev stack), then drives the
same generated records through each system, runs the 3-step workflow over HTTP and the
scaling runs, and writes ``bench/results/latest.json``, a table and ``latest.png``.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.plan import SCENARIOS, Plan, choose
from bench.procs import load_average
from bench.scenarios import Bench, memory_summary
from switchyard.stack.ephemeral import ephemeral_settings
from switchyard.stack.paths import REPO
from switchyard.stack.stack import Stack

RESULTS = REPO / "bench" / "results"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="switchyard-bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small counts: finishes in under 3 minutes")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # shape checks in tests
    p.add_argument("--records", type=int, help="records per throughput run")
    p.add_argument("--keys", type=int, help="keys of the comparison runs (default 1000)")
    p.add_argument("--partitions", type=int, help="partitions of the comparison runs' topics (default 4)")
    p.add_argument("--only", help=f"comma-separated scenarios to run (of {','.join(SCENARIOS)})")
    p.add_argument("--soak", type=float, metavar="SECONDS", help="add a flat-memory soak of this length")
    p.add_argument("--soak-rate", type=float, help="offered records/s during the soak (default 500)")
    p.add_argument("--latency-rate", type=float, help="offered records/s of the latency runs (default 1000)")
    p.add_argument("--profile", action="store_true", help="py-spy the service, perf restate-server")
    p.add_argument("--service-workers", type=int, help="service worker processes (default: the settings')")
    p.add_argument("--server", choices=["granian", "hypercorn"],
                   help="the service's HTTP/2 server (default: the settings')")
    p.add_argument("--log-level", help="the service's log level (default: the settings')")
    p.add_argument("--batch-records", type=int,
                   help="gate.batch_records: records of one key per invocation (default: the settings')")
    p.add_argument("--restate-env", action="append", default=[], metavar="RESTATE_X=VALUE",
                   help="a restate-server setting on top of restate.toml, for a lever run (repeatable)")
    p.add_argument("--restate-partitions", type=int, help="restate-server partitions (default: the settings')")
    p.add_argument("--out", type=Path, default=RESULTS, help="where latest.json / latest.png go")
    p.add_argument("--name", default="latest", help="file name stem of the outputs")
    p.add_argument("--label", default="", help="a note stored with the results (what was changed)")
    p.add_argument("--keep", action="store_true", help="keep the stack's home (logs, data) afterwards")
    return p


def plan_from(args: argparse.Namespace) -> Plan:
    scenarios = frozenset(s.strip() for s in args.only.split(",")) if args.only else None
    unknown = (scenarios or frozenset()) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"--only: unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}")
    return choose(quick=args.quick, tiny=args.tiny, records=args.records, keys=args.keys, partitions=args.partitions,
                  scenarios=scenarios, soak_seconds=args.soak, soak_rate=args.soak_rate,
                  latency_rate=args.latency_rate)


def run_on(stack: Stack, plan: Plan, home: Path, meta: dict[str, Any], profile_dir: Path | None = None,
           progress: Any = print) -> dict[str, Any]:
    """Every planned scenario against a running stack; returns the results document."""
    bench = Bench(stack, plan, home, progress, profile_dir)
    began = time.monotonic()
    with bench.memory() as sampler:
        bench.run()
    memory = memory_summary(sampler.samples, time.monotonic() - began, 0.0)
    meta = {**meta, "seconds": round(time.monotonic() - began, 1), "load_average": load_average(),
            "cpus": os.cpu_count()}
    return report.results_document(bench.runs, bench.workflow, meta, memory, bench.soak, bench.capacity)


def settings_for(home: Path, plan: Plan, args: argparse.Namespace) -> Any:
    service: dict[str, Any] = {"workers": args.service_workers} if args.service_workers else {}
    if args.server:
        service["server"] = args.server
    if args.log_level:
        service["log_level"] = args.log_level
    stack: dict[str, Any] = {"restate_partitions": args.restate_partitions} if args.restate_partitions else {}
    if args.restate_env:
        pairs = [item.partition("=") for item in args.restate_env]
        bad = [key for key, eq, _ in pairs if not eq or not key.startswith("RESTATE_")]
        if bad:
            raise SystemExit(f"--restate-env: expected RESTATE_NAME=VALUE, got {', '.join(bad)}")
        stack["restate_env"] = {key: value for key, _, value in pairs}
    # No stream worker: it would read every benchmark record too (an observer, not the path measured).
    gate = {"batch_records": args.batch_records} if args.batch_records else {}
    return ephemeral_settings(home, kafka={"topic_partitions": plan.partitions}, service=service, stack=stack,
                              streams={"enabled": False}, gate=gate)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    plan = plan_from(args)
    home = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    settings = settings_for(home, plan, args)
    stack = Stack(settings, home, progress=lambda line: print(line, flush=True))
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    meta = {"mode": mode, "label": args.label, "command": " ".join(["switchyard-bench", *(argv or sys.argv[1:])]),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_average_before": load_average(),
            "service_workers": settings.service.workers, "server": settings.service.server,
            "service_log_level": settings.service.log_level, "gate_batch_records": settings.gate.batch_records,
            "restate_env": settings.stack.restate_env,
            "restate_partitions": settings.stack.restate_partitions}
    started = time.monotonic()
    try:
        stack.start()
        meta["stack_start_seconds"] = round(time.monotonic() - started, 1)
        doc = run_on(stack, plan, home, meta, args.out if args.profile else None)
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    return publish(doc, args.out, args.name)


def publish(doc: dict[str, Any], out: Path, name: str) -> int:
    report.write(doc, out / f"{name}.json")
    print(report.table(doc))
    try:
        from bench.plot import draw

        print(f"plot: {draw(doc, out / f'{name}.png')}")
    except ImportError:
        print("plot: skipped (matplotlib is not installed: `pip install -e '.[bench]'` or `make bench`)")
    print(f"results: {out / f'{name}.json'}")
    return 0 if all(r["missing"] == 0 for r in doc["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
