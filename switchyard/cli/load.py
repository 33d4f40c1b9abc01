"""`switchyard load`: paced, keyed, sized records to any input topic, with end-to-end latency."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from switchyard.cli.base import RunFailed, Subcommands, UsageError, command

if TYPE_CHECKING:
    from switchyard.settings import Settings

DEFAULT_COUNT = 10_000  # when neither --count nor --duration is given

DESCRIPTION = """\
Produce paced, keyed, sized records to an input topic and measure each one's end-to-end
latency (its result's Kafka timestamp minus its own), with a live progress line.

  switchyard load --topic bench-events --rate 500 --duration 30 --keys 100 --skew hot

Exit 1 if a record got no result or a produce failed."""


def register(sub: Subcommands) -> None:
    p = command(sub, "load", cmd_load, "load generator: records at a rate, end-to-end latency, live progress",
                settings=["kafka.bootstrap_servers", "kafka.properties"], description=DESCRIPTION)
    p.add_argument("--topic", default="bench-events", help="input topic (one with sample records in the catalogue)")
    p.add_argument("--count", type=int, help=f"records to produce (default: {DEFAULT_COUNT:,} unless --duration)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="seconds to produce for (whichever first)")
    p.add_argument("--rate", type=float, help="offered records/s (default: as fast as possible)")
    p.add_argument("--keys", type=int, default=100, help="number of distinct keys")
    p.add_argument("--skew", choices=["uniform", "hot"], default="uniform",
                   help="hot: 10%% of the keys take 90%% of the records")
    p.add_argument("--payload-size", type=int, default=100, metavar="BYTES", help="approximate value size")
    p.add_argument("--seed", type=int, default=0, help="random seed of the key choice")
    p.add_argument("--key-prefix", default="k", help="keys are this prefix and a number")
    p.add_argument("--results-topic", metavar="TOPIC", help="where the results come (default: <topic>-results)")
    p.add_argument("--drain-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="stop waiting for results after this long without one")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from switchyard.ops.load import LoadSpec, generate_load, progress_display

    count = DEFAULT_COUNT if args.count is None and args.duration is None else args.count
    if args.keys < 1:
        raise UsageError(f"--keys: expected at least 1, got {args.keys}")
    try:
        spec = LoadSpec(args.topic, count, args.duration, args.rate, args.keys, args.skew, args.payload_size,
                        args.seed, args.key_prefix, args.results_topic, args.drain_timeout)
    except ValueError as exc:  # an unknown topic, or one without sample records
        raise UsageError(exc) from None
    with progress_display(spec) as show:
        report = generate_load(settings.kafka.client_config(), spec, show)
    summary = report.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        lat = summary["latency_ms"]
        print(f"{report.produced} produced, {report.results} results, {report.missing} missing; "
              f"throughput {summary['throughput_rps']} records/s; latency ms p50 {lat['p50']} p90 {lat['p90']} "
              f"p99 {lat['p99']} max {lat['max']}")
    if report.missing or report.errors:
        errors = f"; {len(report.errors)} produce errors, the first: {report.errors[0]}" if report.errors else ""
        raise RunFailed(f"load: {report.missing} of {report.produced} records got no result{errors}")
    return 0
