"""The raw limit: confluent-kafka consume -> in-memory per-key update -> produce the result.

No durability at all (state lives in a dict, offsets auto-committed): the ceiling a
Python process on this machine reaches doing the benchmark's work with nothing else.
Run as its own process (``python -m bench.peers.raw_loop``); SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import json
import signal
from typing import Any

from confluent_kafka import Consumer, Producer

from bench.peers.work import result_value, updated

BATCH = 500


def run(bootstrap: str, source: str, results: str, group: str) -> None:
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": "true", "log_level": "0",
    })
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": "5", "log_level": "0"})
    state: dict[bytes, dict[str, int]] = {}
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer.subscribe([source])
    try:
        while not stopping:
            for msg in consumer.consume(BATCH, 0.05):
                if msg.error():
                    continue
                _apply(msg, state, producer, results)
            producer.poll(0)
    finally:
        producer.flush(10)
        consumer.close()


def _apply(msg: Any, state: dict[bytes, dict[str, int]], producer: Producer, results: str) -> None:
    key = msg.key() or b""
    now = updated(state.get(key), json.loads(msg.value()))
    state[key] = now
    value = result_value(msg.topic(), msg.partition(), msg.offset(), "raw", now)
    while True:
        try:
            producer.produce(results, key=key, value=value)
            return
        except BufferError:
            producer.poll(0.01)  # the local queue is full: let it drain


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="raw-loop")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--group", default="switchyard-bench-raw")
    args = p.parse_args(argv)
    run(args.bootstrap, args.source, args.results, args.group)


if __name__ == "__main__":
    main()
