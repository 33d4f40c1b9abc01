"""`switchyard bench`: Switchyard against a raw consumer loop and a Faust app, in one run.

Starts a private stack on free ports (the same steps as the dev stack), then drives the
same generated records through each system, runs the 3-step workflow over HTTP and the
scaling runs, and writes ``bench/results/latest.json``, a table and ``latest.png``.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.plan import SCENARIOS, SYSTEMS, Plan, choose
from bench.procs import load_average
from bench.scenarios import CAPACITY_SYSTEMS, Bench, Progress, memory_summary
from switchyard.settings import Settings
from switchyard.stack.ephemeral import ephemeral_settings
from switchyard.stack.paths import REPO
from switchyard.stack.stack import Stack

RESULTS = REPO / "bench" / "results"


class BenchInputError(ValueError):
    """An option the benchmark cannot run with; the message names it."""


def plan_from(args: argparse.Namespace) -> Plan:
    scenarios = frozenset(s.strip() for s in args.only.split(",")) if args.only else None
    unknown = (scenarios or frozenset()) - set(SCENARIOS)
    if unknown:
        raise BenchInputError(f"--only: unknown scenario(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(SCENARIOS)}")
    hosts = {"latency": SYSTEMS, "capacity": CAPACITY_SYSTEMS}
    for scenario, systems in hosts.items():  # run inside a system's comparison, not on their own
        if scenarios and scenario in scenarios and scenarios.isdisjoint(systems):
            raise BenchInputError(f"--only: {scenario} runs within a system's comparison: add one of "
                                  f"{', '.join(systems)} (e.g. --only switchyard,{scenario})")
    return choose(quick=args.quick, tiny=args.tiny, records=args.records, keys=args.keys, partitions=args.partitions,
                  scenarios=scenarios, soak_seconds=args.soak, soak_rate=args.soak_rate,
                  latency_rate=args.latency_rate)


def run_on(stack: Stack, plan: Plan, home: Path, meta: dict[str, Any], profile_dir: Path | None = None,
           progress: Progress = print) -> dict[str, Any]:
    """Every planned scenario against a running stack; returns the results document."""
    bench = Bench(stack, plan, home, progress, profile_dir)
    began = time.monotonic()
    with bench.memory() as sampler:
        bench.run()
    memory = memory_summary(sampler.samples, time.monotonic() - began, 0.0)
    meta = {**meta, "seconds": round(time.monotonic() - began, 1), "load_average": load_average(),
            "cpus": os.cpu_count()}
    return report.results_document(bench.runs, bench.workflow, meta, memory, bench.soak, bench.capacity)


def settings_for(home: Path, plan: Plan, args: argparse.Namespace) -> Settings:
    service: dict[str, Any] = {"workers": args.service_workers} if args.service_workers else {}
    if args.server:
        service["server"] = args.server
    if args.log_level:
        service["log_level"] = args.log_level
    stack: dict[str, Any] = {"restate_partitions": args.restate_partitions} if args.restate_partitions else {}
    if args.restate_env:
        stack["restate_env"] = restate_env(args.restate_env)
    # No stream worker: it would read every benchmark record too (an observer, not the path measured).
    gate = {"batch_records": args.batch_records} if args.batch_records else {}
    return ephemeral_settings(home, kafka={"topic_partitions": plan.partitions}, service=service, stack=stack,
                              streams={"enabled": False}, gate=gate)


def restate_env(items: list[str]) -> dict[str, str]:
    """``--restate-env RESTATE_X=VALUE`` options as a mapping."""
    pairs = [item.partition("=") for item in items]
    bad = [key for key, eq, _ in pairs if not eq or not key.startswith("RESTATE_")]
    if bad:
        raise BenchInputError(f"--restate-env: expected RESTATE_NAME=VALUE, got {', '.join(bad)}")
    return {key: value for key, _, value in pairs}


def run(args: argparse.Namespace, command_line: str) -> int:
    """The benchmark as `switchyard bench` gives it (bench/commands.py has the options);
    BenchInputError before anything starts if an option is wrong."""
    plan = plan_from(args)
    restate_env(args.restate_env)
    out: Path = args.out or RESULTS
    home = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    settings = settings_for(home, plan, args)
    stack = Stack(settings, home, progress=lambda line: print(line, flush=True))
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    meta = {"mode": mode, "label": args.label, "command": command_line,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_average_before": load_average(),
            "service_workers": settings.service.workers, "server": settings.service.server,
            "service_log_level": settings.service.log_level, "gate_batch_records": settings.gate.batch_records,
            "gate_mode": settings.gate.mode,
            "gate_commit_interval_s": settings.gate.commit_interval.total_seconds(),
            "subscription_options": settings.kafka.subscription_options,
            "restate_env": settings.stack.restate_env,
            "restate_partitions": settings.stack.restate_partitions}
    started = time.monotonic()
    try:
        stack.start()
        meta["stack_start_seconds"] = round(time.monotonic() - started, 1)
        doc = run_on(stack, plan, home, meta, out if args.profile else None)
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    return publish(doc, out, args.name)


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

