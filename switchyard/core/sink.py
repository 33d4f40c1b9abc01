"""Kafka sink handlers: one wrapper gives every example the same Kafka behaviour.

A sink handler takes the record value as raw bytes (so a bad record reaches our code
instead of failing in the SDK's deserializer), validates it against the topic's model,
and then:

* bad value from Kafka  -> the original key and value to `<topic>-dlq`, reason in headers;
  the invocation ends as a terminal failure and changes nothing;
* bad body over HTTP    -> a 400 naming the field;
* object sink          -> the highest applied offset per source topic partition is kept
  in the object's state (`kafka-applied`), so a record that arrives a second way (a
  second subscription, one re-created on a rewound group) is skipped, not applied twice;
* plain-service sink    -> the business call is re-issued with the record key as its
  idempotency key, so a re-produced record never runs the business step twice;
* workflow sink         -> fed through `<Workflow>Ingest/ingest` (one record at a time
  per key, with the same applied mark as an object sink), which calls `run` and reports
  a second record for the same id as a 409;
* otherwise             -> the business function runs, and a record fed from Kafka gets
  its outcome (ok or terminal failure) on `<topic>-results`, published at the end of the
  handler, not as a journaled step (see `publish_outcomes`);
* failure in handler code -> (a bug, a poison record) retried with backoff through a
  journaled retry budget (`RetrySettings`); once it is spent the record goes to the DLQ
  with the last error, so a poison record never stalls its key. A failing side effect
  (`ctx.run`) follows restate.toml's retry policy and pauses past it (switchyard/ops/paused.py).

Restate does not pass Kafka record headers through; it sets `kafka.*` headers of its own
on a subscription delivery, and only on one that lacks `x-restate-ingress-path` (see
`KafkaOrigin.from_headers`) are they believed. Object and workflow topics arrive through
the key gate (switchyard/core/gate.py): their value names the source record.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

import restate
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from restate.exceptions import SdkInternalException
from restate.handler import handler_from_callable
from restate.serde import BytesSerde, Serde

from switchyard.core.backlog import DOWNSTREAM
from switchyard.core.batch_state import BatchContext, BatchState
from switchyard.core.catalogue import INGEST_HANDLER, ROUTED_SUFFIX, Topic, describe_error
from switchyard.core.envelope import DlqReason, ResultError, ResultRecord, SourceRecord, parse_routed
from switchyard.core.kafka import AsyncProducer
from switchyard.core.keys import decode_header_key, key_problem
from switchyard.core.metrics import SINK, SinkMetrics, replaying
from switchyard.core.settings import RetrySettings

log = logging.getLogger(__name__)

Ctx = TypeVar("Ctx", bound=restate.Context)
Business = Callable[[Any, Any], Awaitable[Any]]
Registrar = Callable[..., Callable[[Any], Any]]
# A handler of a record's raw bytes, as registered with the SDK (which keeps the handler's
# output serde on it: restate.handler.handler_from_callable).
RawHandler = Callable[[restate.Context, bytes], Awaitable[Any]]
# An object's mark of the last record it applied from one source partition (its
# `kafka-applied` state): [offset, timestamp ms or null], or a bare offset (older versions).
AppliedMark = int | Sequence[int | None]


@dataclass(frozen=True)
class KafkaOrigin:
    """Where a Kafka-delivered invocation came from (from Restate's `kafka.*` headers)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None  # None: the record had none (Restate leaves `kafka.key` out); b"": an empty one
    timestamp_ms: int | None
    # The record's value was null (known through the key gate's copy; Restate hands a plain
    # service a null value as empty bytes), so its dead letter is a tombstone too.
    tombstone: bool = False

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> KafkaOrigin | None:
        """The origin of a real subscription delivery; None for anything else.

        The ingress passes a caller's headers through, `kafka.*` included, but it always
        adds `x-restate-ingress-path` (a caller can change its value, never drop it), and a
        subscription delivery never has it. Calls between our own handlers carry no
        `kafka.*` headers.
        """
        if INGRESS_PATH in headers or SUBSCRIPTION_ID not in headers or "kafka.topic" not in headers:
            return None
        timestamp = headers.get("kafka.timestamp")
        return cls(
            topic=headers["kafka.topic"],
            partition=int(headers.get("kafka.partition", "-1")),
            offset=int(headers.get("kafka.offset", "-1")),
            # Restate hands the key over in URL-safe base64: these are the record's own bytes.
            key=decode_header_key(headers["kafka.key"]) if "kafka.key" in headers else None,
            timestamp_ms=int(timestamp) if timestamp else None,
        )

    def unwrapped(self, raw: bytes) -> list[tuple[KafkaOrigin, bytes]]:
        """The source records of a delivery with their values: a delivery from a key gate's
        routed topic names them in its value (one RoutedRecord, or a RoutedBatch of one
        key's consecutive records); any other delivery is its own source."""
        if not self.topic.endswith(ROUTED_SUFFIX):
            return [(self, raw)]
        return [(replace(self, topic=envelope.source.topic, partition=envelope.source.partition,
                         offset=envelope.source.offset, timestamp_ms=envelope.timestamp_ms,
                         tombstone=envelope.tombstone), envelope.value)
                for envelope in parse_routed(raw)]

    @property
    def source(self) -> SourceRecord:
        return SourceRecord(topic=self.topic, partition=self.partition, offset=self.offset)

    @property
    def key_text(self) -> str:
        return (self.key or b"").decode("utf-8", errors="replace")


INGRESS_PATH = "x-restate-ingress-path"
SUBSCRIPTION_ID = "restate.subscription.id"


def kafka_origin(ctx: restate.Context) -> KafkaOrigin | None:
    """Where this invocation's Kafka record came from; None unless Restate's subscription
    delivered it (an HTTP call, whatever its headers, or a call between handlers)."""
    return KafkaOrigin.from_headers(ctx.request().headers)


def record_origins(ctx: restate.Context, raw: bytes) -> Sequence[tuple[KafkaOrigin | None, bytes]]:
    """The source records of a delivery (through the key gate or not) with their value
    bytes; one ``(None, raw)`` for a call that is not a subscription delivery."""
    origin = kafka_origin(ctx)
    if origin is not None and origin.topic.endswith(ROUTED_SUFFIX) and not replaying():
        DOWNSTREAM.observe(origin.timestamp_ms)  # the gate holds its reads while this grows
    return [(None, raw)] if origin is None else origin.unwrapped(raw)


def record_origin(ctx: restate.Context, raw: bytes) -> tuple[KafkaOrigin | None, bytes]:
    """The one source record of a delivery (the gate batches object topics only)."""
    [(origin, value)] = record_origins(ctx, raw)
    return origin, value


class SinkRuntime:
    """The process-wide outlet for results and dead letters, the retry budget, and the
    metrics (switchyard/core/metrics.py: outcomes are counted here, once Kafka has them: a
    result at the handler's end, once per attempt that gets there; a dead letter inside
    its journaled step, so a replay does not count it again)."""

    def __init__(self, producer: AsyncProducer, retries: RetrySettings | None = None,
                 metrics: SinkMetrics | None = None) -> None:
        self.producer = producer
        self.retries = retries or RetrySettings()
        self.metrics = metrics or SINK

    async def publish_results(self, topic: Topic, key: bytes, records: list[ResultRecord],
                              seconds: Sequence[float | None] = ()) -> dict[str, int]:
        """Outcomes of one key (one record's, or a batch's), in order, acknowledged together;
        ``seconds``: each record's handler time (None: not measured, e.g. replayed)."""
        # The produce calls go out in order, their acks awaited together.
        acks = await asyncio.gather(*(self.producer.produce(topic.results, key, r.to_json()) for r in records))
        for n, r in enumerate(records):
            self.metrics.finished(topic.name, "ok" if r.ok else "failed", seconds[n] if n < len(seconds) else None)
        partition, offset = acks[-1]
        return {"count": len(records), "partition": partition, "offset": offset}

    async def publish_dead_letter(
        self, topic: Topic, origin: KafkaOrigin, raw: bytes, reason: DlqReason
    ) -> dict[str, int]:
        # The original key and value, whatever they are: a missing key stays missing, a
        # tombstone stays one.
        value = None if origin.tombstone else raw
        partition, offset = await self.producer.produce(topic.dlq, origin.key, value, headers=reason.headers(),
                                                        verbatim_key=True)
        self.metrics.finished(topic.name, "dead_lettered")
        return {"partition": partition, "offset": offset}


def sink_handler(
    register: Registrar, topic: Topic, runtime: SinkRuntime, *, front: Registrar | None = None, **options: Any
) -> Callable[[Business], Business]:
    """Register ``fn(ctx, request_model) -> result`` as the Kafka sink handler of ``topic``.

    ``register`` is the service's ``.handler`` (or a workflow's ``.main``); ``options``
    pass through to it. A workflow also needs ``front``, the ``.handler`` of its
    `ingest_object`: what Restate's subscription invokes, one record at a time per key;
    it calls ``run`` and reports a re-produced workflow id as a 409 outcome.
    """
    if topic.kind == "workflow" and front is None:
        raise ValueError(f"{topic.target}: a workflow sink needs front= (its ingest_object's .handler)")

    def decorate(fn: Business) -> Business:
        @functools.wraps(fn)
        async def handle(ctx: restate.Context, raw: bytes) -> Any:
            deliveries = record_origins(ctx, raw)
            _took_in(ctx, topic, runtime, sum(origin is not None for origin, _ in deliveries))
            if len(deliveries) > 1:
                return await _run_batch(ctx, topic, runtime, fn, deliveries)
            [(origin, raw)] = deliveries
            # An object's handler gets an ObjectContext.
            if origin is not None and topic.kind == "object" and await _seen_before(
                    cast(restate.ObjectContext, ctx), origin):
                return None
            if origin is not None and topic.kind == "service":
                await _refuse_bad_key(ctx, topic, runtime, origin, raw)
            request = await _validated(ctx, topic, runtime, origin, raw)
            try:
                if origin is not None and topic.kind == "service":  # the key is its idempotency key
                    return await _forward(ctx, topic, runtime, origin, raw, registered)
                return await _run_and_report(ctx, topic, runtime, origin, fn, request, output)
            except RetriesExhausted as exhausted:
                if origin is not None:
                    await _dead_letter(ctx, topic, runtime, origin, raw, exhausted.message, "RetriesExhausted")
                raise

        # The SDK keeps its Handler (and the output serde the forward needs) on the
        # wrapper it returns, not on `handle`.
        registered: RawHandler = register(name=topic.handler, input_serde=BytesSerde(), **options)(handle)
        output = output_serde(registered)
        runtime.metrics.prime(topic.name)
        if front is not None and topic.kind == "workflow":  # required for workflows (above)
            _register_front(front, topic, runtime, registered)
        return handle

    return decorate


APPLIED = "kafka-applied"
# With the type given, the SDK does not call inspect.signature on every run (a few % of
# the service's CPU per Kafka record in the benchmark's profile).
WHERE_PUBLISHED: restate.RunOptions[dict[str, int]] = restate.RunOptions(type_hint=dict[str, int])


async def _seen_before(ctx: restate.ObjectContext | BatchContext, origin: KafkaOrigin) -> bool:
    """True if this object already took in this record; otherwise marks it taken.

    Restate deduplicates one subscription's deliveries itself; this mark is for the same
    record arriving by a second way (a second subscription such as the seeds' curl, or a
    direct one beside the key gate's). Per key, records of one partition arrive in offset
    order, so a high-water mark per source topic partition is enough; the record's
    timestamp rides along, so a topic deleted and created again (offsets from 0, later
    timestamps) is not taken for a repeat. The mark commits with the business state.
    """
    applied: dict[str, AppliedMark] = await ctx.get(APPLIED) or {}
    slot = f"{origin.topic}/{origin.partition}"
    if is_repeat(applied.get(slot), origin):
        log.info("skipping %s[%d]@%d: already applied (mark %s)", origin.topic, origin.partition,
                 origin.offset, applied[slot])
        return True
    ctx.set(APPLIED, {**applied, slot: [origin.offset, origin.timestamp_ms]})
    return False


def is_repeat(mark: AppliedMark | None, origin: KafkaOrigin) -> bool:
    """Whether ``origin`` is at or below the mark: an offset already applied, with a
    timestamp no later than the marked record's (a mark of an older version is a bare offset)."""
    if mark is None:
        return False
    offset, stamp = (mark, None) if isinstance(mark, int) else (mark[0], mark[1])
    if offset is None or origin.offset > offset:
        return False
    return stamp is None or origin.timestamp_ms is None or origin.timestamp_ms <= stamp


def _took_in(ctx: restate.Context, topic: Topic, runtime: SinkRuntime, count: int) -> None:
    if count:
        runtime.metrics.took_in(topic.name, ctx.request().id, count)


def ingest_object(topic: Topic) -> restate.VirtualObject:
    """The virtual object a workflow topic's subscription feeds (`topic.subscribed_service`)."""
    return restate.VirtualObject(topic.subscribed_service)


def _register_front(front: Registrar, topic: Topic, runtime: SinkRuntime, run: RawHandler) -> None:
    async def ingest(ctx: restate.ObjectContext, raw: bytes) -> Any:
        origin, raw = record_origin(ctx, raw)
        if origin is None:
            raise restate.TerminalError(f"{topic.subscribed_service}/{INGEST_HANDLER} takes Kafka deliveries "
                                        f"only; call {topic.target}", 400)
        _took_in(ctx, topic, runtime, 1)
        # A repeated copy (the key gate's idempotent mode copies a batch again after a
        # crash) would otherwise run into the workflow's 409 and publish a second outcome
        # that says something else than the first.
        if await _seen_before(ctx, origin):
            return None
        await _validated(ctx, topic, runtime, origin, raw)
        try:
            return to_jsonable_python(await _forward(ctx, topic, runtime, origin, raw, run, key=ctx.key()))
        except RetriesExhausted as exhausted:  # the workflow failed for good in handler code
            await _dead_letter(ctx, topic, runtime, origin, raw, exhausted.message, "RetriesExhausted")
            raise

    front(name=INGEST_HANDLER, input_serde=BytesSerde(), ingress_private=True)(ingest)


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


async def _refuse_bad_key(ctx: restate.Context, topic: Topic, runtime: SinkRuntime, origin: KafkaOrigin,
                          raw: bytes) -> None:
    """On a plain-service topic the key is the idempotency key: keyless records would all
    share one, and two binary keys could decode to one string (each would get the other's
    outcome without running). Both are dead-lettered, as the key gate does on its topics."""
    problem = key_problem(topic, origin.key)
    if problem is None:
        return
    await _dead_letter(ctx, topic, runtime, origin, raw, problem.reason, problem.error_class)
    raise restate.TerminalError(f"record sent to {topic.dlq}: {problem.reason}", 400)


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
    ctx: restate.Context, topic: Topic, runtime: SinkRuntime, key: str | None, call: Callable[[], Awaitable[Any]]
) -> Any:
    """Runs ``call``; a transient failure spends one attempt of a journaled retry budget."""
    try:
        if key is not None and key in runtime.retries.poison_keys:
            raise RuntimeError(f"simulated outage for key {key!r} (retries.poison_keys)")
        return await call()
    except restate.TerminalError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure in handler code spends the budget
        raise await spend_retry_budget(ctx, runtime, topic.name, exc) from None


async def spend_retry_budget(ctx: restate.Context, runtime: SinkRuntime, topic_name: str,
                             exc: Exception) -> RetriesExhausted:
    """Spends one attempt of the record's journaled retry budget on ``exc`` (a failure in
    handler code). With attempts left this attempt ends (SdkInternalException: Restate
    retries the invocation with backoff, and its replay reaches the same step); once they
    are spent it returns the RetriesExhausted to raise, a terminal error naming the last
    failure. The sink does this around every business call; a handler that must clean up
    before failing for good (a saga's compensations) calls it in its own ``except``.
    """
    r = runtime.retries
    last = f"{type(exc).__name__}: {exc}"
    log.warning("attempt failed (%s); retrying within the budget of %d attempts", last, r.max_attempts)
    options: restate.RunOptions[None] = restate.RunOptions(
        max_attempts=r.max_attempts, initial_retry_interval=r.initial_interval, max_retry_interval=r.max_interval,
    )
    try:
        await ctx.run_typed("retry budget", _fail_again, options, last_error=last)
    except restate.TerminalError:
        return RetriesExhausted(f"{RetriesExhausted.PREFIX} after {r.max_attempts} attempts: {last}", 500)
    except SdkInternalException:  # budget left: this attempt ends, and Restate retries the invocation
        runtime.metrics.retried(topic_name)
        raise
    raise AssertionError("unreachable: the retry budget step always fails") from exc


async def _run_and_report(
    ctx: restate.Context,
    topic: Topic,
    runtime: SinkRuntime,
    origin: KafkaOrigin | None,
    fn: Business,
    request: Any,
    output: Serde[Any] | None = None,
) -> Any:
    """Runs the business function and reports its outcome. ``output``, the handler's output
    serde, serializes the result first, as the SDK will after the handler returns: a result
    it cannot serialize fails the attempt before anything is published (the SDK would fail
    it after, on every retry, each time after a publish)."""
    timer = _Timer()
    try:
        result = await _guarded(ctx, topic, runtime, origin.key_text if origin else None, lambda: fn(ctx, request))
    except RetriesExhausted:
        raise
    except restate.TerminalError as exc:
        if origin is not None:
            await _report(ctx, topic, runtime, origin, ok=False, error=failure(exc), seconds=timer.seconds())
        raise
    if output is not None:
        output.serialize(result)
    if origin is not None:
        await _report(ctx, topic, runtime, origin, ok=True, result=to_jsonable_python(result), seconds=timer.seconds())
    return result


async def _run_batch(
    ctx: restate.Context, topic: Topic, runtime: SinkRuntime, fn: Business,
    deliveries: Sequence[tuple[KafkaOrigin | None, bytes]],
) -> None:
    """Several records of one key (a RoutedBatch from the key gate) in one invocation, in
    order, each with the outcome it would have alone: skipped if already applied, a bad
    one or one past its retry budget dead-lettered, a terminal failure an `ok: false`
    result. The results go out together at the end (`publish_outcomes`)."""
    outcomes: list[ResultRecord] = []
    seconds: list[float | None] = []
    key = b""
    # The gate batches objects' records only. Their state is read once and written once
    # for the whole batch (switchyard/core/batch_state.py).
    state = BatchState(cast(restate.ObjectContext, ctx))
    batch_ctx = BatchContext(cast(restate.ObjectContext, ctx), state)
    for origin, raw in deliveries:
        assert origin is not None  # a batch only ever comes from a subscription delivery
        key = origin.key or b""  # the gate routes keyed records only
        if await _seen_before(batch_ctx, origin):
            continue
        try:
            request = topic.parse(raw)
        except ValueError as exc:
            state.flush()  # the state so far is written before anything leaves the handler
            await _dead_letter(ctx, topic, runtime, origin, raw, describe_error(exc), type(exc).__name__)
            continue
        timer = _Timer()
        try:
            result = await _guarded(ctx, topic, runtime, origin.key_text, functools.partial(fn, batch_ctx, request))
        except RetriesExhausted as exhausted:
            state.flush()
            await _dead_letter(ctx, topic, runtime, origin, raw, exhausted.message, "RetriesExhausted")
            continue
        except restate.TerminalError as exc:
            outcomes.append(_outcome(topic, origin, ok=False, error=failure(exc)))
            seconds.append(timer.seconds())
            continue
        outcomes.append(_outcome(topic, origin, ok=True, result=to_jsonable_python(result)))
        seconds.append(timer.seconds())
    state.flush()
    if outcomes:
        await publish_outcomes(ctx, runtime, topic, key, outcomes, seconds)


async def _forward(
    ctx: restate.Context, topic: Topic, runtime: SinkRuntime, origin: KafkaOrigin, raw: bytes, handle: RawHandler,
    key: str | None = None,
) -> Any:
    """Runs the business handler as a call of its own and reports its outcome.

    Plain services have no key: the record key is the call's idempotency key, so Restate
    runs the business step once per key (within the idempotency retention) and hands every
    later duplicate the first outcome. A workflow (``key`` given) runs once per key:
    Restate refuses a second `run` with 409, which becomes this record's outcome.
    """
    def call() -> Awaitable[bytes]:  # issued inside the guard, so a poison key never reaches it
        if key is not None:
            return ctx.generic_call(topic.service, topic.handler, raw, key=key)
        return ctx.generic_call(topic.service, topic.handler, raw, idempotency_key=f"{topic.name}/{origin.key_text}")

    timer = _Timer()
    try:
        out = await _guarded(ctx, topic, runtime, origin.key_text, call)
    except restate.TerminalError as exc:
        exhausted = RetriesExhausted.recognise(exc)
        if exhausted is not None:
            raise exhausted from None
        error = failure(exc)
        if key is not None and exc.status_code == 409 and ALREADY_INVOKED in exc.message:
            error = ResultError(code=409, message=f"{topic.service} {key} already ran: a workflow runs once per "
                                                  f"key; its outcome is the result of its first record")
        await _report(ctx, topic, runtime, origin, ok=False, error=error, seconds=timer.seconds())
        raise restate.TerminalError(error.message, error.code) from None
    seconds = timer.seconds()
    result = output_serde(handle).deserialize(out)
    await _report(ctx, topic, runtime, origin, ok=True, result=to_jsonable_python(result), seconds=seconds)
    return result


def output_serde(handler: RawHandler) -> Serde[Any]:
    """The serde the SDK writes ``handler``'s output with."""
    serde: Serde[Any] = handler_from_callable(handler).handler_io.output_serde
    return serde


ALREADY_INVOKED = "already invoked"  # Restate's answer to a second `run` of one workflow key


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
    seconds: float | None = None,
) -> None:
    record = _outcome(topic, origin, ok=ok, result=result, error=error)
    # Only a record whose key can run gets this far (the gate and the sink dead-letter the rest).
    await publish_outcomes(ctx, runtime, topic, origin.key or b"", [record], [seconds])


async def publish_outcomes(ctx: restate.Context, runtime: SinkRuntime, topic: Topic, key: bytes,
                           records: list[ResultRecord], seconds: Sequence[float | None]) -> None:
    """Publishes a key's outcomes at the end of the handler, awaiting Kafka's ack, and not
    as a journaled step (`ctx.run`).

    First the journal entries the SDK holds back (the invocation's state writes and its
    `kafka-applied` mark: `ctx.set` only buffers them) go out to restate-server, as they
    would before a step runs, so an outcome never reaches Kafka before the state it
    reports has left the service. A step would add nothing else: an attempt that gets here
    again (a retry after a crash between the ack and the invocation's end) recomputes the
    same outcomes from the same state and publishes identical copies, as a step's crash
    window did; a publish that fails fails the attempt, and Restate retries it
    (restate.toml). What dropping the step saves is a round trip through restate-server's
    log per invocation, which under load queued behind other invocations' work
    (docs/benchmarks.md, "Fourth round", has the measurements).
    """
    await send_journal(ctx)
    await runtime.publish_results(topic, key, records, seconds)


async def send_journal(ctx: restate.Context) -> None:
    """Sends the journal entries the SDK buffered to restate-server, without awaiting an
    acknowledgement: what the SDK does itself before it runs a step or waits on a future
    (restate-sdk's ServerInvocationContext.take_and_send_output)."""
    send = getattr(ctx, "take_and_send_output", None)
    if send is None:
        raise TypeError(f"{type(ctx).__name__} cannot send its journal: restate-sdk changed (take_and_send_output)")
    await send()


class _Timer:
    """A record's handler time, for the latency histogram; None when the handler started
    while the invocation was replaying its journal (its time is then the replay's)."""

    def __init__(self) -> None:
        self.replayed = replaying()
        self.started = time.perf_counter()

    def seconds(self) -> float | None:
        return None if self.replayed else time.perf_counter() - self.started


def _outcome(topic: Topic, origin: KafkaOrigin, *, ok: bool, result: Any = None,
             error: ResultError | None = None) -> ResultRecord:
    return ResultRecord(source=origin.source, target=topic.target, ok=ok, result=result, error=error)
