"""``Harness(app)``: an app's handlers run on records in-process, in milliseconds.

No broker and no restate-server: ``send(topic, key, value)`` does what the key gate and a
Restate subscription would do with that record, runs the app's own sink handler (the
same wrapper the service runs: validation, dead letters, dedup, the retry budget, the
outcome) on a context kept in memory, and returns the outcome the sink published: the
``<topic>-results`` record, or the ``<topic>-dlq`` record with its reason.

The context is a small Restate of its own: state per service and key (committed when an
invocation ends, dropped when an attempt fails and is retried), ``ctx.run`` inline with
its result journaled (a retried invocation replays it instead of running it again) and
its ``max_attempts`` counted, ``ctx.sleep`` instant (``ctx.time`` moves on),
``ctx.random``/``ctx.uuid`` seeded per invocation, calls between the app's handlers run in
process (an idempotency key or a workflow id honoured), one-way sends run after the
record. A failure in handler code ends the attempt and the invocation runs again, as
Restate retries it, up to ``max_attempts`` attempts. Not there: awakeables, durable
promises, signals, ``restate.select``/``gather`` on futures; a flow that needs them is
tested on a real stack (``switchyard.testing.private_stack``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import restate
from pydantic import BaseModel
from restate.context import AttemptFinishedEvent, Request, RunOptions
from restate.exceptions import SdkInternalBaseException, SdkInternalException
from restate.handler import Handler, handler_from_callable, invoke_handler
from restate.serde import DefaultSerde, Serde
from restate.types import extract_core_type

from switchyard.app import App
from switchyard.core.catalogue import Topic
from switchyard.core.envelope import DlqReason, ResultError, ResultRecord, RoutedRecord, SourceRecord
from switchyard.core.kafka import AsyncProducer, encode_key
from switchyard.core.keys import header_key, key_problem
from switchyard.core.metrics import SinkMetrics
from switchyard.core.serde import typed
from switchyard.core.settings import RetrySettings
from switchyard.core.sink import SUBSCRIPTION_ID, KafkaOrigin, SinkRuntime

log = logging.getLogger(__name__)

PARTITION = 0  # every topic has one partition here: a key's records keep their order
DEFAULT_SERDE: DefaultSerde[Any] = DefaultSerde()  # the SDK's defaults, as its Context declares them
DEFAULT_RUN_OPTIONS: RunOptions[Any] = RunOptions()
WORKFLOW_AGAIN = "workflow run already invoked"  # what Restate answers a second run (the sink's ALREADY_INVOKED)


class HarnessError(BaseException):
    """The harness cannot do what the test asked (an unknown handler, a context method it
    lacks, an invocation that would retry forever). A BaseException: handler code that
    catches ``Exception`` does not take it for a failure of its own (nor does the sink's
    retry budget)."""


@dataclass(frozen=True)
class Produced:
    """One record as the sink (or the key gate) would have produced it to Kafka."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int = PARTITION
    offset: int = 0

    @property
    def key_text(self) -> str | None:
        return None if self.key is None else self.key.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.value)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", errors="replace")
        return None


@dataclass(frozen=True)
class Outcome:
    """A record's outcome: its ``<topic>-results`` record (``ok``, ``result`` or ``error``)
    or its ``<topic>-dlq`` record (``dead_lettered``, ``reason``)."""

    topic: Topic
    record: Produced
    source: SourceRecord

    @property
    def dead_lettered(self) -> bool:
        return self.record.topic == self.topic.dlq

    @property
    def result_record(self) -> ResultRecord | None:
        """The ``-results`` record's value, as published; None for a dead letter."""
        return None if self.dead_lettered else ResultRecord.model_validate_json(self.record.value)

    @property
    def ok(self) -> bool:
        record = self.result_record
        return record is not None and record.ok

    @property
    def result(self) -> Any:
        """The handler's answer as JSON (what ``result`` holds on ``-results``); None unless ok."""
        record = self.result_record
        return record.result if record is not None and record.ok else None

    @property
    def error(self) -> ResultError | None:
        record = self.result_record
        return record.error if record is not None else None

    @property
    def dead_letter(self) -> DlqReason | None:
        """The dead letter's headers (reason, error class, source); None for a result."""
        return DlqReason.from_headers(list(self.record.headers)) if self.dead_lettered else None

    @property
    def reason(self) -> str | None:
        """Why it failed: the dead letter's reason, or an ``ok: false`` result's message."""
        dead = self.dead_letter
        if dead is not None:
            return dead.reason
        error = self.error
        return error.message if error is not None else None


class CapturingProducer:
    """What the sink runtime produces through, kept in a list (``AsyncProducer``'s shape)."""

    def __init__(self) -> None:
        self.records: list[Produced] = []
        self._offsets: dict[str, itertools.count[int]] = {}

    async def produce(self, topic: str, key: str | bytes | None, value: bytes,
                      headers: Sequence[tuple[str, bytes]] | None = None, *, verbatim_key: bool = False) -> tuple[
                          int, int]:
        if not verbatim_key:
            assert key is not None, "only a dead letter may lack a key"
            key = encode_key(key)
        elif isinstance(key, str):
            key = key.encode()
        offset = next(self._offsets.setdefault(topic, itertools.count()))
        self.records.append(Produced(topic, key, bytes(value), tuple(headers or ()), PARTITION, offset))
        return PARTITION, offset

    def close(self, timeout: float = 10.0) -> None:
        pass


@dataclass
class _Done:
    """A finished journal entry or invocation: its bytes, or its terminal failure."""

    value: bytes | None = None
    failure: tuple[str, int] | None = None

    def replay(self) -> bytes:
        if self.failure is not None:
            raise restate.TerminalError(*self.failure)
        assert self.value is not None
        return self.value


@dataclass
class _Journal:
    """One invocation's completed steps (runs, calls, sleeps), by position, kept across
    its attempts; and how often each failing step failed."""

    done: dict[int, _Done] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)
    position: int = 0

    def next(self) -> tuple[int, _Done | None]:
        index = self.position
        self.position += 1
        return index, self.done.get(index)


class _Finished(AttemptFinishedEvent):
    def is_set(self) -> bool:
        return False

    async def wait(self) -> None:
        await asyncio.Event().wait()


@dataclass(frozen=True)
class _Invocation:
    id: str
    service: str
    handler: str
    key: str | None
    body: bytes
    headers: dict[str, str]
    idempotency_key: str | None


class HarnessContext:
    """The context a handler gets in the harness: the part of Restate's ``Context``,
    ``ObjectContext`` and ``WorkflowContext`` an app's handlers use."""

    def __init__(self, harness: Harness, invocation: _Invocation, state: dict[str, bytes] | None,
                 journal: _Journal) -> None:
        self._harness = harness
        self._invocation = invocation
        self._state = state
        self._journal = journal
        self._random = random.Random(invocation.id)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise HarnessError(f"ctx.{name} is not in switchyard.testing's harness; test this handler on a real "
                           f"stack (switchyard.testing.private_stack)")

    # -- the invocation ---------------------------------------------------------------------------

    def request(self) -> Request:
        inv = self._invocation
        return Request(id=inv.id, headers=dict(inv.headers), attempt_headers=dict(inv.headers), body=inv.body,
                       attempt_finished_event=_Finished(), idempotency_key=inv.idempotency_key)

    def key(self) -> str:
        if self._invocation.key is None:
            raise HarnessError(f"{self._invocation.service} is a plain service: its handlers have no key")
        return self._invocation.key

    def random(self) -> random.Random:
        return self._random

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self._random.getrandbits(128), version=4)

    async def take_and_send_output(self) -> None:
        """What a sink calls before it publishes an outcome, to send the journal entries
        the SDK buffered; the harness's journal is in memory, with nothing to send."""

    # -- state --------------------------------------------------------------------------------------

    def _store(self) -> dict[str, bytes]:
        if self._state is None:
            raise HarnessError(f"{self._invocation.service} is a plain service: it has no state")
        return self._state

    async def get(self, name: str, serde: Serde[Any] = DEFAULT_SERDE, type_hint: type | None = None,
                  entry_name: str | None = None) -> Any:
        data = self._store().get(name)
        return None if data is None else typed(serde, type_hint).deserialize(data)

    async def state_keys(self, entry_name: str | None = None) -> list[str]:
        return list(self._store())

    def set(self, name: str, value: Any, serde: Serde[Any] = DEFAULT_SERDE, entry_name: str | None = None) -> None:
        self._store()[name] = bytes(typed(serde, type(value)).serialize(value))

    def clear(self, name: str, entry_name: str | None = None) -> None:
        self._store().pop(name, None)

    def clear_all(self, entry_name: str | None = None) -> None:
        self._store().clear()

    # -- side effects -------------------------------------------------------------------------------

    def run(self, name: str, action: Callable[..., Any], serde: Serde[Any] = DEFAULT_SERDE,
            max_attempts: int | None = None, max_retry_duration: timedelta | None = None,
            type_hint: type | None = None, args: tuple[Any, ...] | None = None) -> Awaitable[Any]:
        if isinstance(serde, DefaultSerde):
            if type_hint is None:
                type_hint = inspect.signature(action, eval_str=True).return_annotation
            serde = serde.with_maybe_type(type_hint)
        return self._run(name, lambda: action(*(args or ())), serde, max_attempts)

    def run_typed(self, name: str, action: Callable[..., Any], options: RunOptions[Any] = DEFAULT_RUN_OPTIONS, /,
                  *args: Any, **kwargs: Any) -> Awaitable[Any]:
        serde = options.serde
        if isinstance(serde, DefaultSerde):
            hint = options.type_hint
            if hint is None:
                hint = inspect.signature(action, eval_str=True).return_annotation
            kind, core = extract_core_type(hint)
            serde = serde.with_maybe_type(core if kind in ("simple", "optional") else hint)
        return self._run(name, lambda: action(*args, **kwargs), serde, options.max_attempts)

    async def _run(self, name: str, action: Callable[[], Any], serde: Serde[Any], max_attempts: int | None) -> Any:
        index, done = self._journal.next()
        if done is None:
            try:
                value = action()
                if inspect.isawaitable(value):
                    value = await value
            except restate.TerminalError as exc:
                self._journal.done[index] = _Done(failure=(exc.message, exc.status_code))
                raise
            except Exception as exc:  # a failed step: retried as Restate retries it
                failed = self._journal.failures[index] = self._journal.failures.get(index, 0) + 1
                if max_attempts is None or failed < max_attempts:
                    log.info("ctx.run %r failed (attempt %d): %s; the invocation runs again", name, failed, exc)
                    raise SdkInternalException() from exc
                self._journal.done[index] = _Done(failure=(f"{type(exc).__name__}: {exc}", 500))
                raise restate.TerminalError(f"{type(exc).__name__}: {exc}", 500) from None
            self._journal.done[index] = done = _Done(value=bytes(serde.serialize(value)))
        return serde.deserialize(done.replay())

    async def sleep(self, delta: timedelta, name: str | None = None) -> None:
        index, done = self._journal.next()
        if done is None:
            self._harness.clock += delta.total_seconds()
            self._journal.done[index] = _Done(value=b"")

    async def time(self) -> float:
        index, done = self._journal.next()
        if done is None:
            self._journal.done[index] = done = _Done(value=json.dumps(self._harness.clock).encode())
        return float(json.loads(done.replay()))

    # -- calls between handlers ---------------------------------------------------------------------

    async def generic_call(self, service: str, handler: str, arg: bytes, key: str | None = None,
                           idempotency_key: str | None = None, headers: dict[str, str] | None = None) -> bytes:
        index, done = self._journal.next()
        if done is None:
            try:
                out = await self._harness._invoke(service, handler, key, arg, headers or {}, idempotency_key)
            except restate.TerminalError as exc:
                self._journal.done[index] = _Done(failure=(exc.message, exc.status_code))
                raise
            self._journal.done[index] = done = _Done(value=out)
        return done.replay()

    def generic_send(self, service: str, handler: str, arg: bytes, key: str | None = None,
                     send_delay: timedelta | None = None, idempotency_key: str | None = None,
                     headers: dict[str, str] | None = None) -> None:
        index, done = self._journal.next()
        if done is None:
            self._harness._sends.append((service, handler, key, arg, headers or {}, idempotency_key))
            self._journal.done[index] = _Done(value=b"")

    async def _typed_call(self, tpe: Any, arg: Any, key: str | None, idempotency_key: str | None,
                          headers: dict[str, str] | None) -> Any:
        target: Handler[Any, Any] = handler_from_callable(tpe)
        raw = bytes(target.handler_io.input_serde.serialize(arg))
        out = await self.generic_call(target.service_tag.name, target.name, raw, key, idempotency_key, headers)
        return target.handler_io.output_serde.deserialize(out)

    def _typed_send(self, tpe: Any, arg: Any, key: str | None, send_delay: timedelta | None,
                    idempotency_key: str | None, headers: dict[str, str] | None) -> None:
        target: Handler[Any, Any] = handler_from_callable(tpe)
        raw = bytes(target.handler_io.input_serde.serialize(arg))
        self.generic_send(target.service_tag.name, target.name, raw, key, send_delay, idempotency_key, headers)

    def service_call(self, tpe: Any, arg: Any, idempotency_key: str | None = None,
                     headers: dict[str, str] | None = None) -> Awaitable[Any]:
        return self._typed_call(tpe, arg, None, idempotency_key, headers)

    def object_call(self, tpe: Any, key: str, arg: Any, idempotency_key: str | None = None,
                    headers: dict[str, str] | None = None) -> Awaitable[Any]:
        return self._typed_call(tpe, arg, key, idempotency_key, headers)

    def workflow_call(self, tpe: Any, key: str, arg: Any, idempotency_key: str | None = None,
                      headers: dict[str, str] | None = None) -> Awaitable[Any]:
        return self._typed_call(tpe, arg, key, idempotency_key, headers)

    def service_send(self, tpe: Any, arg: Any, send_delay: timedelta | None = None,
                     idempotency_key: str | None = None, headers: dict[str, str] | None = None) -> None:
        self._typed_send(tpe, arg, None, send_delay, idempotency_key, headers)

    def object_send(self, tpe: Any, key: str, arg: Any, send_delay: timedelta | None = None,
                    idempotency_key: str | None = None, headers: dict[str, str] | None = None) -> None:
        self._typed_send(tpe, arg, key, send_delay, idempotency_key, headers)

    def workflow_send(self, tpe: Any, key: str, arg: Any, send_delay: timedelta | None = None,
                      idempotency_key: str | None = None, headers: dict[str, str] | None = None) -> None:
        self._typed_send(tpe, arg, key, send_delay, idempotency_key, headers)


class Harness:
    """An app's handlers on records, in process (module docstring). ``retries``: the sink's
    retry budget (default: ``RetrySettings()``'s attempts, no waiting); ``max_attempts``:
    how often one invocation is attempted before the harness gives up on it (Restate would
    go on retrying, then pause it)."""

    def __init__(self, app: App, *, retries: RetrySettings | None = None, max_attempts: int = 50) -> None:
        self.app = app
        self.catalogue = app.catalogue()
        self.producer = CapturingProducer()
        self.runtime = SinkRuntime(cast(AsyncProducer, self.producer), retries or RetrySettings(),
                                   SinkMetrics(registry=None))
        self.max_attempts = max_attempts
        self.clock = time.time()  # what ctx.time() says; every ctx.sleep moves it on
        self._handlers: dict[tuple[str, str], Handler[Any, Any]] = {}
        self._kinds: dict[str, str] = {}
        for service in app.build(self.runtime):
            self._kinds[service.service_tag.name] = service.service_tag.kind
            for handler in service.handlers.values():
                self._handlers[(service.service_tag.name, handler.name)] = handler
        self._states: dict[tuple[str, str], dict[str, bytes]] = {}
        self._offsets: dict[str, itertools.count[int]] = {}
        self._idempotent: dict[tuple[str, str, str], _Done] = {}
        self._workflows: set[tuple[str, str]] = set()
        self._sends: list[tuple[str, str, str | None, bytes, dict[str, str], str | None]] = []
        self._ids = itertools.count(1)

    @property
    def produced(self) -> list[Produced]:
        """Every record produced so far (results, dead letters), in order."""
        return list(self.producer.records)

    def state(self, service: str, key: str) -> dict[str, Any]:
        """The committed state of ``service``'s object (or workflow) ``key``, each value as JSON."""
        return {name: json.loads(data) if data else None for name, data in self._states.get((service, key), {}).items()}

    def send(self, topic: str, key: str | bytes | None, value: BaseModel | dict[str, Any] | list[Any] | str | bytes,
             *, timestamp_ms: int | None = None) -> Outcome:
        """The outcome of one record on ``topic`` (see ``asend``)."""
        return asyncio.run(self.asend(topic, key, value, timestamp_ms=timestamp_ms))

    def send_all(self, records: Sequence[tuple[str, str | bytes | None, Any]]) -> list[Outcome]:
        """``send`` for each ``(topic, key, value)``, in order."""
        return [self.send(topic, key, value) for topic, key, value in records]

    async def asend(self, topic: str, key: str | bytes | None, value: Any, *,
                    timestamp_ms: int | None = None) -> Outcome:
        """Produces one record: the key gate's check (object and workflow topics), the
        subscription's delivery, the app's sink handler, the sends it made; returns the
        record's outcome. A ``str`` value is sent as its UTF-8 bytes, a model or dict as JSON."""
        t = self.catalogue.topic(topic)
        raw = _value_bytes(value)
        key_bytes = key.encode() if isinstance(key, str) else key
        offset = next(self._offsets.setdefault(t.name, itertools.count()))
        stamp = timestamp_ms if timestamp_ms is not None else int(self.clock * 1000)
        origin = KafkaOrigin(topic=t.name, partition=PARTITION, offset=offset, key=key_bytes or b"",
                             timestamp_ms=stamp)
        mark = len(self.producer.records)
        problem = key_problem(t, key_bytes) if t.gated else None
        if problem is not None:  # the key gate dead-letters it: no handler sees it
            reason = DlqReason(reason=problem.reason, error_class=problem.error_class, source=origin.source)
            await self.runtime.publish_dead_letter(t, origin, raw, reason)
        else:
            body = RoutedRecord.wrap(origin.source, raw, stamp).to_json() if t.gated else raw
            headers = {SUBSCRIPTION_ID: f"harness-{t.subscribed_topic}", "kafka.topic": t.subscribed_topic,
                       "kafka.partition": str(PARTITION), "kafka.offset": str(offset),
                       "kafka.key": header_key(key_bytes or b""),
                       "kafka.timestamp": str(stamp)}
            key_text = (key_bytes or b"").decode("utf-8", errors="replace") if t.gated else None
            with contextlib.suppress(restate.TerminalError):  # its outcome is on -results or -dlq
                await self._invoke(t.subscribed_service, t.subscribed_handler, key_text, body, headers, None)
            await self._drain_sends()
        outcomes = [r for r in self.producer.records[mark:] if r.topic in (t.results, t.dlq)]
        if not outcomes:
            raise HarnessError(f"{t.name} record {offset} (key {key!r}) got no outcome on {t.results} or {t.dlq}")
        return Outcome(t, outcomes[-1], origin.source)

    async def _drain_sends(self) -> None:
        while self._sends:
            service, handler, key, arg, headers, idempotency_key = self._sends.pop(0)
            try:
                await self._invoke(service, handler, key, arg, headers, idempotency_key)
            except restate.TerminalError as exc:
                log.warning("%s/%s (sent) failed: %s", service, handler, exc.message)

    async def _invoke(self, service: str, handler: str, key: str | None, body: bytes, headers: dict[str, str],
                      idempotency_key: str | None) -> bytes:
        """One invocation to its end: attempts until it completes or fails terminally."""
        target = self._handlers.get((service, handler))
        if target is None:
            known = ", ".join(f"{s}/{h}" for s, h in self._handlers)
            raise HarnessError(f"no handler {service}/{handler} in {self.app.name} (it has {known})")
        kind = self._kinds[service]
        if kind != "service" and key is None:
            raise HarnessError(f"{service}/{handler} takes a key ({service} is a {kind})")
        remembered = (service, handler, idempotency_key) if idempotency_key is not None else None
        if remembered is not None and remembered in self._idempotent:
            return self._idempotent[remembered].replay()
        if target.kind == "workflow":
            assert key is not None
            if (service, key) in self._workflows:
                raise restate.TerminalError(f"{WORKFLOW_AGAIN}: {service} {key}", 409)
            self._workflows.add((service, key))
        invocation = _Invocation(f"inv_{next(self._ids)}", service, handler, key, body, headers, idempotency_key)
        committed = self._states.setdefault((service, key), {}) if key is not None else None
        journal = _Journal()
        last: BaseException | None = None
        for _ in range(self.max_attempts):
            state = dict(committed) if committed is not None else None
            journal.position = 0
            ctx = HarnessContext(self, invocation, state, journal)
            try:
                out = await invoke_handler(target, ctx, body)
            except restate.TerminalError as exc:
                self._commit(committed, state)
                if remembered is not None:
                    self._idempotent[remembered] = _Done(failure=(exc.message, exc.status_code))
                raise
            except SdkInternalBaseException as exc:  # an attempt ended on a retryable failure
                last = exc.__cause__ or exc
                continue
            except HarnessError:
                raise
            except Exception as exc:  # noqa: BLE001 - handler code failed: Restate retries the invocation
                last = exc
                continue
            self._commit(committed, state)
            if remembered is not None:
                self._idempotent[remembered] = _Done(value=out)
            return out
        raise HarnessError(f"{service}/{handler} failed {self.max_attempts} attempts; Restate would go on "
                           f"retrying it, then pause it: {type(last).__name__}: {last}")

    @staticmethod
    def _commit(committed: dict[str, bytes] | None, state: dict[str, bytes] | None) -> None:
        if committed is not None and state is not None:
            committed.clear()
            committed.update(state)


def _value_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode()
    return json.dumps(value).encode()
