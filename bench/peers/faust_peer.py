"""The Faust peer: a Faust agent doing the benchmark's per-key update in a Faust table.

Same work as ``BenchCounter/add`` and the raw loop: read the key's counter from the table,
add the record's amount, write it back (the table's changelog topic makes it durable the
Faust way), and produce a result record carrying the source coordinates the load
generator joins on. Run as its own process (``python -m bench.peers.faust_peer``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

import faust

from bench.peers.work import result_value, updated


def build_app(bootstrap: str, source: str, results: str, partitions: int, datadir: str, app_id: str) -> faust.App:
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=datadir,
        topic_partitions=partitions,
        topic_replication_factor=1,
        web_enabled=False,
        # The benchmark measures steady-state processing, not the consumer's start.
        consumer_auto_offset_reset="earliest",
        producer_linger_ms=5,
    )
    inbox = app.topic(source, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                      partitions=partitions)
    outbox = app.topic(results, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                       partitions=partitions)
    totals = app.Table("bench-totals", partitions=partitions, key_type=bytes, value_type=bytes)

    @app.agent(inbox)
    async def add(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            before = totals.get(event.key)
            now = updated(json.loads(before) if before else None, json.loads(event.value))
            totals[event.key] = json.dumps(now).encode()
            value = result_value(message.topic, message.partition, message.offset, "faust", now)
            await outbox.send(key=event.key, value=value)

    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="faust-peer")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--partitions", type=int, default=1)
    p.add_argument("--datadir", required=True)
    p.add_argument("--app-id", default="switchyard-bench-faust")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    app = build_app(args.bootstrap, args.source, args.results, args.partitions, args.datadir, args.app_id)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
