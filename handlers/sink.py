"""Kafka sink handlers: one wrapper gives every example the same Kafka behaviour.

A sink handler takes the record value as raw bytes (so a bad record reaches our code
instead of failing in the SDK's deserializer), validates it against the topic's model,
and then:

* bad value from Kafka  -> the original key and value to `<topic>-dlq`, reason in headers;
  the invocation ends as a terminal failure and changes nothing;
* bad body over HTTP    -> a 400 naming the field;
* object sink          -> the highest applied offset per topic partition is kept in the
  object's state (`kafka-applied`), so a record delivered twice (a duplicate
  subscription, a rewound consumer group) is skipped instead of applied twice;
* plain-service sink    -> the business call is re-issued with the record key as its
  idempotency key, so a re-produced record never runs the business step twice;
* otherwise             -> the business function runs, and a record fed from Kafka gets
  its outcome (ok or terminal failure) on `<topic>-results`;
* transient failure     -> (a bug, an outage) retried with backoff through a journaled
  retry budget (`RetrySettings`); once it is spent the record goes to the DLQ with the
  last error, so a poison record never stalls its key.

Restate does not pass Kafka record headers through; it sets `kafka.*` headers of its own,
which is how a handler tells a Kafka delivery from an HTTP call.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import restate
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from restate.handler import handler_from_callable
from restate.serde import BytesSerde, Serde

from producers.client import AsyncProducer
from schemas.catalogue import Topic, describe_error
from schemas.envelope import DlqReason, ResultError, ResultRecord, SourceRecord
from switchyard.settings import RetrySettings

log = logging.getLogger(__name__)

Ctx = TypeVar("Ctx", bound=restate.Context)
Business = Callable[[Any, Any], Awaitable[Any]]
Registrar = Callable[..., Callable[[Any], Any]]


@dataclass(frozen=True)
class KafkaOrigin:
    """Where a Kafka-delivered invocation came from (from Restate's `kafka.*` headers)."""

    topic: str
    partition: int
    offset: int
    key: bytes
    timestamp_ms: int | None

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> KafkaOrigin | None:
        if "kafka.topic" not in headers:
            return None
        timestamp = headers.get("kafka.timestamp")
        return cls(
            topic=headers["kafka.topic"],
            partition=int(headers.get("kafka.partition", "-1")),
            offset=int(headers.get("kafka.offset", "-1")),
            # Restate hands the key over base64-encoded: these are the record's own bytes.
            key=base64.b64decode(headers.get("kafka.key", "")),
            timestamp_ms=int(timestamp) if timestamp else None,
        )

    @property
    def source(self) -> SourceRecord:
        return SourceRecord(topic=self.topic, partition=self.partition, offset=self.offset)

    @property
    def key_text(self) -> str:
        return self.key.decode("utf-8", errors="replace")


def kafka_origin(ctx: restate.Context) -> KafkaOrigin | None:
    return KafkaOrigin.from_headers(ctx.request().headers)


class SinkRuntime:
    """The process-wide outlet for results and dead letters, and the retry budget."""

    def __init__(self, producer: AsyncProducer, retries: RetrySettings | None = None) -> None:
        self.producer = producer
        self.retries = retries or RetrySettings()

    async def publish_result(self, topic: Topic, origin: KafkaOrigin, record: ResultRecord) -> dict[str, int]:
        partition, offset = await self.producer.produce(topic.results, origin.key, record.to_json())
        return {"partition": partition, "offset": offset}

    async def publish_dead_letter(
        self, topic: Topic, origin: KafkaOrigin, raw: bytes, reason: DlqReason
    ) -> dict[str, int]:
        partition, offset = await self.producer.produce(topic.dlq, origin.key, raw, headers=reason.headers())
        return {"partition": partition, "offset": offset}


def sink_handler(
    register: Registrar, topic: Topic, runtime: SinkRuntime, **options: Any
) -> Callable[[Business], Business]:
    """Register ``fn(ctx, request_model) -> result`` as the Kafka sink handler of ``topic``.

    ``register`` is the service's ``.handler`` (or a workflow's ``.main``); ``options``
    pass through to it. The registered handler keeps the model as its declared input
    schema, so the OpenAPI of the HTTP path still shows it.
    """

    def decorate(fn: Business) -> Business:
        @functools.wraps(fn)
        async def handle(ctx: restate.Context, raw: bytes) -> Any:
            origin = kafka_origin(ctx)
            if origin is not None and topic.kind == "object" and await _seen_before(ctx, origin):
                return None
            if origin is not None and not topic.keyed_by_record and not origin.key:
                await _refuse_keyless(ctx, topic, runtime, origin, raw)
            request = await _validated(ctx, topic, runtime, origin, raw)
            try:
                if origin is not None and not topic.keyed_by_record:
                    return await _forward_idempotently(ctx, topic, runtime, origin, raw, registered)
                return await _run_and_report(ctx, topic, runtime, origin, fn, request)
            except RetriesExhausted as exhausted:
                if origin is not None:
                    await _dead_letter(ctx, topic, runtime, origin, raw, exhausted.message, "RetriesExhausted")
                raise

        # The SDK keeps its Handler (and the output serde the forward needs) on the
        # wrapper it returns, not on `handle`.
        registered = register(name=topic.handler, input_serde=BytesSerde(), **options)(handle)
        return handle

    return decorate


APPLIED = "kafka-applied"
# With the type given, the SDK does not call inspect.signature on every run (a few % of
# the service's CPU per Kafka record in the benchmark's profile).
WHERE_PUBLISHED: restate.RunOptions[dict[str, int]] = restate.RunOptions(type_hint=dict[str, int])


async def _seen_before(ctx: Any, origin: KafkaOrigin) -> bool:
    """True if this object already took in this record; otherwise marks it taken.

    Per key, Restate delivers one subscription's records in offset order, so a
    high-water mark per topic partition is enough. The mark is written in the same
    invocation as the business state, so the two commit together.
    """
    applied: dict[str, int] = await ctx.get(APPLIED) or {}
    slot = f"{origin.topic}/{origin.partition}"
    if applied.get(slot, -1) >= origin.offset:
        log.info("skipping %s[%d]@%d: already applied (offset %d)", origin.topic, origin.partition,
                 origin.offset, applied[slot])
        return True
    ctx.set(APPLIED, {**applied, slot: origin.offset})
    return False


def body_handler(
    register: Registrar, name: str, model: type[BaseModel], **options: Any
) -> Callable[[Business], Business]:
    """Register ``fn(ctx, request_model)`` as an HTTP handler whose bad bodies get a 400
    naming the field (the SDK's own deserializer would answer 500)."""

    def decorate(fn: Business) -> Business:
        @functools.wraps(fn)
        async def handle(ctx: restate.Context, raw: bytes) -> Any:
            try:
                request = model.model_validate_json(raw or b"null")
            except ValueError as exc:
                raise restate.TerminalError(f"invalid {name} body: {describe_error(exc)}", 400) from None
            return await fn(ctx, request)

        register(name=name, input_serde=BytesSerde(), **options)(handle)
        return handle

    return decorate


async def _validated(
    ctx: restate.Context, topic: Topic, runtime: SinkRuntime, origin: KafkaOrigin | None, raw: bytes
) -> Any:
    try:
        return topic.parse(raw)
    except ValueError as exc:
        reason = describe_error(exc)
        if origin is None:
            raise restate.TerminalError(f"invalid {topic.service}/{topic.handler} body: {reason}", 400) from None
        await _dead_letter(ctx, topic, runtime, origin, raw, reason, type(exc).__name__)
        raise restate.TerminalError(f"record sent to {topic.dlq}: {reason}", 400) from None


async def _refuse_keyless(ctx: restate.Context, topic: Topic, runtime: SinkRuntime, origin: KafkaOrigin,
                          raw: bytes) -> NoReturn:
    """On a plain-service topic the key is the idempotency key: keyless records would all
    share one, and every later one would get the first one's outcome without running."""
    reason = f"record has no key: on {topic.name} the key is the {topic.key}, the request's idempotency key"
    await _dead_letter(ctx, topic, runtime, origin, raw, reason, "MissingKey")
    raise restate.TerminalError(f"record sent to {topic.dlq}: {reason}", 400)


async def _dead_letter(
    ctx: restate.Context, topic: Topic, runtime: SinkRuntime, origin: KafkaOrigin, raw: bytes,
    reason: str, error_class: str,
) -> None:
    log.warning("dead-lettering %s[%d]@%d: %s", origin.topic, origin.partition, origin.offset, reason)
    dlq = DlqReason(reason=reason, error_class=error_class, source=origin.source)
    await ctx.run_typed("dead-letter", runtime.publish_dead_letter, WHERE_PUBLISHED, topic, origin, raw, dlq)


class RetriesExhausted(restate.TerminalError):
    """The retry budget is spent; the message carries the last error."""

    PREFIX = "retries exhausted"

    @classmethod
    def recognise(cls, exc: restate.TerminalError) -> RetriesExhausted | None:
        # Across a call boundary it arrives as a plain TerminalError: the prefix tells.
        if isinstance(exc, RetriesExhausted):
            return exc
        return cls(exc.message, exc.status_code) if exc.message.startswith(cls.PREFIX) else None


def _fail_again(last_error: str) -> None:
    raise RuntimeError(last_error)


async def _guarded(
    ctx: restate.Context, runtime: SinkRuntime, key: str | None, call: Callable[[], Awaitable[Any]]
) -> Any:
    """Runs ``call``; a transient failure spends one attempt of a journaled retry budget.

    The budget is a `ctx.run` that re-raises the last error: the SDK retries the whole
    invocation with backoff, the replay reaches the same step, and after
    ``max_attempts`` the step fails for good, which ends the record's retries.
    """
    r = runtime.retries
    try:
        if key is not None and key in r.poison_keys:
            raise RuntimeError(f"simulated outage for key {key!r} (retries.poison_keys)")
        return await call()
    except restate.TerminalError:
        raise
    except Exception as exc:
        last = f"{type(exc).__name__}: {exc}"
        log.warning("attempt failed (%s); retrying within the budget of %d attempts", last, r.max_attempts)
        options: restate.RunOptions[None] = restate.RunOptions(
            max_attempts=r.max_attempts, initial_retry_interval=r.initial_interval,
            max_retry_interval=r.max_interval,
        )
        try:
            await ctx.run_typed("retry budget", _fail_again, options, last_error=last)
        except restate.TerminalError:
            raise RetriesExhausted(f"{RetriesExhausted.PREFIX} after {r.max_attempts} attempts: {last}", 500) from None
        raise AssertionError("unreachable: the retry budget step always fails") from exc


async def _run_and_report(
    ctx: restate.Context,
    topic: Topic,
    runtime: SinkRuntime,
    origin: KafkaOrigin | None,
    fn: Business,
    request: Any,
) -> Any:
    try:
        result = await _guarded(ctx, runtime, origin.key_text if origin else None, lambda: fn(ctx, request))
    except RetriesExhausted:
        raise
    except restate.TerminalError as exc:
        if origin is not None:
            await _report(ctx, topic, runtime, origin, ok=False, error=failure(exc))
        raise
    if origin is not None:
        await _report(ctx, topic, runtime, origin, ok=True, result=to_jsonable_python(result))
    return result


async def _forward_idempotently(
    ctx: restate.Context, topic: Topic, runtime: SinkRuntime, origin: KafkaOrigin, raw: bytes, handle: Any
) -> Any:
    """Plain services have no key: call ourselves with the record key as idempotency key.

    Restate then runs the business step once per key (within the idempotency retention)
    and hands every later duplicate the first outcome.
    """
    def call() -> Awaitable[bytes]:  # issued inside the guard, so a poison key never reaches it
        return ctx.generic_call(topic.service, topic.handler, raw, idempotency_key=f"{topic.name}/{origin.key_text}")

    try:
        out = await _guarded(ctx, runtime, origin.key_text, call)
    except restate.TerminalError as exc:
        exhausted = RetriesExhausted.recognise(exc)
        if exhausted is not None:
            raise exhausted from None
        await _report(ctx, topic, runtime, origin, ok=False, error=failure(exc))
        raise
    serde: Serde[Any] = handler_from_callable(handle).handler_io.output_serde
    result = serde.deserialize(out)
    await _report(ctx, topic, runtime, origin, ok=True, result=to_jsonable_python(result))
    return result


def failure(exc: restate.TerminalError) -> ResultError:
    return ResultError(code=exc.status_code, message=exc.message)


async def _report(
    ctx: restate.Context,
    topic: Topic,
    runtime: SinkRuntime,
    origin: KafkaOrigin,
    *,
    ok: bool,
    result: Any = None,
    error: ResultError | None = None,
) -> None:
    record = ResultRecord(source=origin.source, target=topic.target, ok=ok, result=result, error=error)
    await ctx.run_typed("publish result", runtime.publish_result, WHERE_PUBLISHED, topic, origin, record)
