"""`switchyard dlq list|replay`: a topic's dead letters and their reasons; replaying them, each once."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from switchyard.cli.base import HelpFormatter, Parser, Subcommands, UsageError, app_option, command

if TYPE_CHECKING:
    from switchyard.settings import Settings

DESCRIPTION = """\
List a topic's dead letters and their reasons; replay them, each once.

  switchyard dlq list package-location-updates [--json] [--partition P] [--from N --to M]
  switchyard dlq replay package-location-updates (--all | --from N --to M) [--partition P]

A replay re-produces each chosen dead letter's original key and value bytes to the source
topic and writes a marker of it to the compacted `<topic>-dlq-replayed` topic, both in one
Kafka transaction; dead letters already marked are skipped. Two DLQ records naming one
source record (headers source.topic/partition/offset; a dead letter published again after
a crash) are copies of one dead letter: `list` shows which is a copy of which, and a
replay sends one of them, once. The DLQ itself is only read."""

SETTINGS = ["kafka.bootstrap_servers", "kafka.properties", "kafka.replication_factor"]


def register(sub: Subcommands) -> None:
    dlq = command(sub, "dlq", cmd_dlq, "list a topic's dead letters; replay them to the topic, each once",
                  settings=SETTINGS, description=DESCRIPTION)
    actions = dlq.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    for name, summary in (("list", "the topic's dead letters with their reasons"),
                          ("replay", "re-produce chosen dead letters to the source topic, each once")):
        cmd: Parser = actions.add_parser(name, help=summary, description=summary[:1].upper() + summary[1:],
                                         epilog=dlq.epilog, formatter_class=HelpFormatter)
        cmd.add_argument("topic", metavar="TOPIC", help="the input topic (its -dlq name is accepted too)")
        app_option(cmd)
        cmd.add_argument("--partition", type=int, help="only this DLQ partition (needed with --from/--to when the "
                                                       "DLQ has several; default: every partition)")
        cmd.add_argument("--from", dest="first", type=int, metavar="N", help="first DLQ offset (inclusive)")
        cmd.add_argument("--to", dest="last", type=int, metavar="M", help="last DLQ offset (inclusive)")
        if name == "list":
            cmd.add_argument("--json", action="store_true", help="print one JSON array of the records")
        else:
            cmd.add_argument("--all", action="store_true", help="every dead letter not replayed yet")


def cmd_dlq(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from switchyard.core.preflight import check_kafka
    from switchyard.ops.dlq import DlqTools, Selection, source_topic, summary, table

    t = source_topic(args.topic)
    selection = Selection(args.partition, args.first, args.last)
    if args.action == "replay" and args.all == selection.is_range:
        raise UsageError("replay: give --all or --from N --to M (not both)")
    # A refused login or a missing ACL: one line (the tools read the DLQ, a replay writes the topic).
    check_kafka(settings.kafka, read=[t.dlq], write=[t.name, t.dlq_replayed] if args.action == "replay" else [])
    tools = DlqTools(settings)
    if args.action == "list":
        letters = tools.dead_letters(t, selection)
        if args.json:
            print(json.dumps([d.entry.model_dump() for d in letters], indent=2))
        else:
            print(summary(t.dlq, letters))
            if letters:
                print(table(letters))
        return 0
    for line in tools.replay(t, selection).lines():
        print(line)
    return 0
