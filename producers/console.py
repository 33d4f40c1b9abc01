"""`kafka-console-producer`: Kafka's console producer, for the seed READMEs' demo steps.

    kafka-console-producer --bootstrap-server localhost:9092 --topic social-media-posts \\
        --property parse.key=true --property key.separator=:

Reads records from standard input, one per line, as Kafka's own does. Unlike Kafka's, it
refuses a key that is not valid UTF-8 (Restate would stall that partition), a record
without key on a Switchyard input topic, and a value over Kafka's size limit, naming the
line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from confluent_kafka import KafkaException

from producers.records import too_large, too_large_message
from schemas.catalogue import TOPICS
from switchyard.core.kafka import InvalidKeyError, RecordProducer

INPUT_TOPICS = {t.name: t.key for t in TOPICS}  # topic -> what its key means


@dataclass(frozen=True)
class LineFormat:
    parse_key: bool = False
    key_separator: bytes = b"\t"
    ignore_error: bool = False


class LineError(ValueError):
    pass


def parse_properties(pairs: Iterable[str]) -> LineFormat:
    props: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise LineError(f"--property {pair!r}: expected name=value")
        props[name.strip()] = value
    known = {"parse.key", "key.separator", "ignore.error"}
    unknown = set(props) - known
    if unknown:
        raise LineError(f"--property {sorted(unknown)[0]}: not supported (supported: {', '.join(sorted(known))})")
    return LineFormat(
        parse_key=props.get("parse.key", "false").lower() == "true",
        key_separator=props.get("key.separator", "\t").encode(),
        ignore_error=props.get("ignore.error", "false").lower() == "true",
    )


def split_line(line: bytes, fmt: LineFormat, number: int) -> tuple[bytes | None, bytes]:
    if not fmt.parse_key:
        return None, line
    key, sep, value = line.partition(fmt.key_separator)
    if not sep:
        if fmt.ignore_error:
            return None, line
        raise LineError(f"No key separator found on line number {number}: '{line.decode(errors='replace')}'")
    return key, value


def records(stream: Iterable[bytes], fmt: LineFormat) -> Iterator[tuple[int, bytes | None, bytes]]:
    for number, raw in enumerate(stream, start=1):
        line = raw.rstrip(b"\r\n")
        if not line:
            continue
        key, value = split_line(line, fmt, number)
        yield number, key, value


def send_line(producer: RecordProducer, topic: str, key: bytes | None, value: bytes) -> str | None:
    """Sends one record; returns why it was refused, if it was.

    Switchyard's input topics need a UTF-8 key (the object or idempotency key): without
    one, every unkeyed record would share a key; with bytes that are not UTF-8, Restate
    stops the topic's subscription at that record.
    """
    if key is None:
        if topic in INPUT_TOPICS:
            return (f"no key: {topic} is keyed by {INPUT_TOPICS[topic]} "
                    "(use --property parse.key=true --property key.separator=:)")
        producer.send_unkeyed(topic, value)
        return None
    try:
        producer.send(topic, key, value)
    except InvalidKeyError as exc:
        return f"{exc} (key {key!r})"
    except KafkaException as exc:
        if not too_large(exc):
            raise
        return too_large_message(len(value))
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kafka-console-producer", description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-server", required=True, help="host:port of the Kafka broker(s)")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--property", action="append", default=[], help="parse.key, key.separator, ignore.error")
    parser.add_argument("--producer-property", action="append", default=[], help="any librdkafka property")
    args = parser.parse_args(argv)
    try:
        fmt = parse_properties(args.property)
        extra = dict(p.split("=", 1) for p in args.producer_property)
    except (LineError, ValueError) as exc:
        parser.error(str(exc))
    producer = RecordProducer({"bootstrap.servers": args.bootstrap_server, **extra})
    interactive = sys.stdin.isatty()
    stream = sys.stdin.buffer
    try:
        if interactive:
            print(">", end="", flush=True)
        for number, key, value in records(stream, fmt):
            refused = send_line(producer, args.topic, key, value)
            if refused is not None:
                print(f"line {number}: {refused}; record not sent", file=sys.stderr)
                return 1
            if interactive:
                print(">", end="", flush=True)
    except LineError as exc:
        print(f"ERROR {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        producer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
