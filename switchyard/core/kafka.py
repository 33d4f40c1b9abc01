"""The confluent-kafka edge: typed producers for CLIs and for handlers.

Keys are UTF-8 strings by contract: a key Restate cannot decode stalls its partition,
so every producer here refuses one before it reaches Kafka.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import BaseModel

from switchyard.core.catalogue import COMPANION_MAX_BYTES
from switchyard.core.errors import UsageProblem
from switchyard.core.settings import METADATA_REFRESH_MS

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, str | bytes | None]]


class InvalidKeyError(UsageProblem, ValueError):
    """The record key is not a UTF-8 string."""


def encode_key(key: str | bytes) -> bytes:
    """The key's UTF-8 bytes; refuses anything that is not a UTF-8 string."""
    if isinstance(key, bytes):
        try:
            key.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidKeyError(f"key: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        return key
    if not isinstance(key, str):
        raise InvalidKeyError(f"key: expected a string, got {type(key).__name__}")
    if not key:
        raise InvalidKeyError("key: must not be empty")
    try:
        return key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidKeyError(f"key: not encodable as UTF-8 ({exc.reason})") from None


def encode_value(value: BaseModel | Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(value, BaseModel):
        return value.model_dump_json(exclude_none=True).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def producer_config(client: Mapping[str, str], **extra: str) -> dict[str, str]:
    """Idempotence keeps broker-side retries from writing a record twice. murmur2 is the
    partitioner of Kafka's Java clients (kafka-console-producer included), so a key lands
    on the same partition whichever client produced it; librdkafka's default is CRC32. A
    topic grown while running is seen within the metadata refresh (librdkafka's: 5 min)."""
    return {"enable.idempotence": "true", "linger.ms": "5", "log_level": "3", "partitioner": "murmur2_random",
            "topic.metadata.refresh.interval.ms": str(METADATA_REFRESH_MS), **client, **extra}


class IdempotenceWatch:
    """An idempotent producer's state as librdkafka's statistics report it: "Assigned"
    once the broker gave it a producer id."""

    def __init__(self) -> None:
        self.state: str | None = None

    def __call__(self, stats: str) -> None:
        if self.state == "Assigned":
            return  # librdkafka keeps reporting for the producer's life: nothing more to learn
        try:
            state = json.loads(stats).get("eos", {}).get("idemp_state")
        except (ValueError, AttributeError):
            return
        if isinstance(state, str):
            self.state = state


STATS_INTERVAL_MS = 50  # how often the watch hears (librdkafka keeps reporting for the producer's life)


def producer_with_id(config: Mapping[str, str], timeout: float = 10.0,
                     watch: IdempotenceWatch | None = None) -> Producer:
    """A producer that has its producer id already (after ``timeout``, one that may not).

    A fresh idempotent librdkafka producer asks for its id on a timer: about 0.5 s (up to
    1 s) after it starts, connected or not, and every record produced meanwhile waits for
    it. For the load generator, which starts a producer per run, that was a 0.5 s latency
    tail on the first records of a run in a third of its runs (Faust's, the raw loop's and
    Switchyard's alike), which ended capacity ladders early. A producer without
    idempotence has no id to wait for and is returned at once.
    """
    watch = watch or IdempotenceWatch()
    producer = Producer({**config, "statistics.interval.ms": str(STATS_INTERVAL_MS), "stats_cb": watch})
    idempotent = str(config.get("enable.idempotence", "false")).lower() in ("true", "t", "1") \
        or "transactional.id" in config
    if not idempotent:
        return producer
    deadline = time.monotonic() + timeout
    while watch.state not in ("Assigned", "FatalError") and time.monotonic() < deadline:
        producer.poll(STATS_INTERVAL_MS / 1000)
    if watch.state != "Assigned":
        log.warning("producer has no producer id after %.0f s (state %s): its first records wait for it",
                    timeout, watch.state)
    return producer


class RecordProducer:
    """A blocking producer for commands: send() then flush() to learn of failures."""

    def __init__(self, client: Mapping[str, str]) -> None:
        self._producer = Producer(producer_config(client))
        self._errors: list[str] = []
        self.sent = 0
        # (topic, partition, offset) per record in produce order: delivery reports arrive
        # per partition batch, so a report fills the slot its record was given at send.
        self._slots: list[tuple[str, int, int] | None] = []

    @property
    def delivered(self) -> list[tuple[str, int, int]]:
        """Where each acknowledged record landed, in the order the records were sent."""
        return [slot for slot in self._slots if slot is not None]

    def send(
        self,
        topic: str,
        key: str | bytes,
        value: BaseModel | Mapping[str, Any] | bytes | str,
        headers: Headers | None = None,
    ) -> None:
        self._producer.produce(
            topic, key=encode_key(key), value=encode_value(value), headers=list(headers or []),
            on_delivery=self._reporter(),
        )
        self._producer.poll(0)

    def send_unkeyed(self, topic: str, value: bytes) -> None:
        """A record without key, as Kafka's console producer sends without parse.key."""
        self._producer.produce(topic, value=value, on_delivery=self._reporter())
        self._producer.poll(0)

    def _reporter(self) -> Callable[[KafkaError | None, Message], None]:
        index = len(self._slots)
        self._slots.append(None)

        def delivered(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                self._errors.append(f"{msg.topic()}: {err.str()}")
            else:
                self.sent += 1
                self._slots[index] = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)

        return delivered

    def flush(self, timeout: float = 30.0) -> None:
        left = self._producer.flush(timeout)
        if left:
            raise KafkaException(f"{left} record(s) not delivered within {timeout}s")
        if self._errors:
            raise KafkaException("; ".join(self._errors[:3]))


class AsyncProducer:
    """Produces from asyncio code and awaits the broker's acknowledgement.

    A daemon thread serves delivery callbacks so the event loop never blocks on
    librdkafka; linger.ms batches concurrent results into one request.
    """

    def __init__(self, client: Mapping[str, str], linger_ms: float = 5.0) -> None:
        # Dead letters carry the input's bytes plus headers: a record the broker took must
        # fit (companion topics are created with the same limit, switchyard/core/bootstrap.py).
        self._producer = Producer(producer_config(
            client, **{"linger.ms": f"{linger_ms:g}", "message.max.bytes": str(COMPANION_MAX_BYTES)}))
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.1)

    async def produce(
        self, topic: str, key: str | bytes | None, value: bytes | None, headers: Headers | None = None, *,
        verbatim_key: bool = False,
    ) -> tuple[int, int]:
        """Returns the record's (partition, offset) once the broker has it. ``verbatim_key``:
        the key goes out as given, unchecked (a dead letter keeps a foreign record's key)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[int, int]] = loop.create_future()

        def delivered(err: KafkaError | None, msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, done, err, msg)

        if not verbatim_key:
            assert key is not None, "only a dead letter may lack a key"
            key = encode_key(key)
        self._producer.produce(topic, key=key, value=value, headers=list(headers or []), on_delivery=delivered)
        return await done

    def close(self, timeout: float = 10.0) -> None:
        self._closed.set()
        self._producer.flush(timeout)


def _settle(done: asyncio.Future[tuple[int, int]], err: KafkaError | None, msg: Message) -> None:
    if done.done():
        return
    if err is not None:
        done.set_exception(KafkaException(err))
    else:
        done.set_result((msg.partition() or 0, msg.offset() or 0))
