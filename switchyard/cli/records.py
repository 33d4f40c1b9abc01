"""`switchyard produce`: records to any input topic of the app, validated against its schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from switchyard.cli.base import Subcommands, UsageError, command, input_topic

if TYPE_CHECKING:


    from switchyard.core.catalogue import Topic
    from switchyard.settings import Settings

KAFKA = "kafka.bootstrap_servers"
INGRESS = "restate.ingress_url"
OBJECT_KEYS = 10  # --generate's keys on an object topic, unless --keys


def register(sub: Subcommands) -> None:
    prod = command(sub, "produce", cmd_produce, "produce records to an input topic, validated against its schema",
                   settings=[KAFKA, "kafka.properties"], description=PRODUCE)
    prod.add_argument("topic", metavar="TOPIC", help="an input topic (`switchyard topics` lists them)")
    prod.add_argument("--key", help="the record's key (with --value)")
    prod.add_argument("--value", help="the record's value, JSON (with --key)")
    prod.add_argument("--file", metavar="FILE", help="lines of KEY<separator>JSON; - reads standard input")
    prod.add_argument("--separator", default=":", help='between key and value in --file lines (default: ":")')
    prod.add_argument("--generate", type=int, metavar="N",
                      help="N of the topic's sample records, what `switchyard load` sends (a topic whose "
                           "records need a deployment's secret has none)")
    prod.add_argument("--keys", type=int, help=f"distinct keys for --generate (default: {OBJECT_KEYS} on an object "
                      "topic; elsewhere a key per record, as a key runs once there)")
    prod.add_argument("--seed", type=int, default=7, help="random seed for --generate")
    prod.add_argument("--no-validate", action="store_true", help="send even what the schema refuses (to try the DLQ)")


PRODUCE = """\
Produce records to an input topic, validated against its schema.

  switchyard produce package-location-updates --key package1 \\
      --value '{"timestamp": "2024-10-10 13:00", "location": "Paris"}'
  printf 'package1:{"timestamp": "2024-10-10 14:00", "location": "Ghent"}\\n' \\
      | switchyard produce package-location-updates --file -
  switchyard produce social-media-posts --generate 100 --keys 5
  switchyard produce trip-bookings --generate 3

Every record is checked before any is sent; a refusal names the record or line. A key
must be UTF-8; --no-validate sends a value its schema refuses (to try the DLQ)."""


# -- Kafka ------------------------------------------------------------------------------


def cmd_produce(settings: Settings, args: argparse.Namespace) -> int:
    from switchyard.core.preflight import checked_producer
    from switchyard.ops.load import sample_records
    from switchyard.ops.produce import check_all, produce

    t = input_topic(args.topic)
    validate = not args.no_validate
    if args.file:
        records = lines_of(args.file, t, args.separator, validate)
        validate = False  # each line was checked as it was read
    elif args.generate is not None:
        keys = args.keys if args.keys is not None or t.kind != "object" else OBJECT_KEYS
        try:
            records = sample_records(t.name, args.generate, keys, args.seed)
        except ValueError as exc:  # no sample records, or --keys below 1
            raise UsageError(f"--generate: {exc}") from None
    elif args.key is not None and args.value is not None:
        records = [(args.key, args.value.encode())]
    else:
        raise UsageError("produce: give --key and --value, --file FILE (- for standard input), or --generate N")
    if validate:
        check_all(t, records)  # a refused record needs no broker
    sent = produce(checked_producer(settings.kafka, t.name), t, records, validate=False)
    print(f"sent {sent} record(s) to {t.name}")
    return 0


def lines_of(name: str, t: Topic, separator: str, validate: bool) -> list[tuple[str, bytes]]:
    """The records of --file ``name`` (``-``: standard input), every line checked first."""
    from switchyard.ops.produce import RecordError
    from switchyard.ops.record_lines import read_lines

    path = Path(name)
    try:
        data = sys.stdin.buffer.read() if name == "-" else path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--file: {exc.strerror}: {path}") from None
    label = "line " if name == "-" else f"{path}:"  # line 3, or records.txt:3
    try:
        return read_lines(data, t, separator, validate, lambda n: f"{label}{n}")
    except RecordError as exc:
        raise UsageError(f"{exc}; nothing sent") from None
