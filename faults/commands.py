"""`switchyard faults`: kill, freeze, cut off and poison each part under load on a private stack."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from switchyard.cli.base import RunFailed, Subcommands, UsageError, command, one_of

SCENARIOS = ("service", "restate-server", "kafka", "all-in-turn", "frozen", "provider-outage", "poison-storm",
             "upgrade")
CLUSTER_SCENARIOS = ("restate-node", "kafka-broker", "service-replica", "cluster-in-turn", "degraded", "upgrade")

DESCRIPTION = f"""\
Kill, freeze, cut off and poison each part under load on a private stack (free ports, a
temporary home), then check every record's outcome: exactly one, in order per key.

  switchyard faults --quick
  switchyard faults --only kafka --only frozen

  switchyard faults --cluster --quick

Scenarios: {', '.join(SCENARIOS)}.
With --cluster (3 Kafka brokers, 3 Restate nodes, 2 service replicas behind HAProxy):
{', '.join(CLUSTER_SCENARIOS)}.
Exit 1 if a scenario was not clean."""


def register(sub: Subcommands) -> None:
    p = command(sub, "faults", cmd_faults, "kill, freeze, cut off, poison under load; check every record's outcome",
                settings=None, private_stack=True, description=DESCRIPTION)
    p.add_argument("--only", action="append", metavar="SCENARIO",
                   help="run only this scenario (repeatable; default: every one, listed above)")
    p.add_argument("--quick", action="store_true", help="fewer keys, lower rate, shorter phases")
    p.add_argument("--cluster", action="store_true",
                   help="on a local cluster: kill a Restate node, a broker, a service replica; run degraded")
    p.add_argument("--rate", type=float, metavar="RATE",
                   help="records/s offered over every flow (default: 100 with --quick, else 400); keep it "
                        "below what the stack sustains, or a backlog reads as a slow recovery")
    p.add_argument("--keys", type=int, metavar="N", help="keys per flow (default: 10 with --quick, else 50)")
    p.add_argument("--downtime", type=float, metavar="SECONDS",
                   help="how long a killed part stays down before it is restarted (default: 1 with --quick, "
                        "else 2); longer keeps its restart out of the failover being timed")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="where the report goes (default: bench/results/faults.json in the checkout)")


def cmd_faults(args: argparse.Namespace) -> int:
    import tempfile

    from faults.suite import CLUSTER_SCENARIOS, SCENARIOS, Timings, run_suite
    from switchyard.stack.paths import REPO

    known = CLUSTER_SCENARIOS if args.cluster else SCENARIOS
    names = [one_of("--only", name, list(known)) for name in args.only or known]
    keys, rate, timings = ((10, 100.0, Timings(warmup=2.0, downtime=1.0)) if args.quick
                           else (50, 400.0, Timings(warmup=4.0, downtime=2.0, poison=300)))
    if args.rate is not None:
        rate = above_zero("--rate", args.rate)
    if args.keys is not None:
        keys = int(above_zero("--keys", args.keys))
    if args.downtime is not None:
        timings = dataclasses.replace(timings, downtime=above_zero("--downtime", args.downtime))
    with tempfile.TemporaryDirectory(prefix="switchyard-faults-") as home:
        report = run_suite(Path(home), names, keys, rate, timings, cluster=args.cluster)
    out = args.out or REPO / "bench" / "results" / "faults.json"
    report.write(out)
    print(f"\n{report.table()}\n\nwritten to {out}")
    unclean = [s.name for s in report.scenarios if not s.clean]
    if unclean:
        raise RunFailed(f"faults: not clean: {', '.join(unclean)}")
    return 0


def above_zero(name: str, value: float) -> float:
    if not value > 0:  # NaN too
        raise UsageError(f"{name}: must be above 0, got {value:g}")
    return value
