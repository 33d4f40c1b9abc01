"""How a sink publishes a record's outcome (switchyard/core/sink.py `publish_outcomes`):
at the handler's end, after the state it wrote has been sent to restate-server, awaiting
Kafka's ack, and not as a journaled step. A publish that fails fails the attempt (Restate
retries it), and so does a result the SDK could not serialize, before anything is
published.

Generated batches of one key's records (amounts, some of them bad JSON) run through the
sink's batch and single-record paths against a context that journals what the SDK would.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any, cast

import pytest
import restate
from confluent_kafka import KafkaError, KafkaException
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from restate.serde import DefaultSerde

from schemas.catalogue import topic
from switchyard.core.kafka import AsyncProducer
from switchyard.core.metrics import SinkMetrics
from switchyard.core.settings import RetrySettings
from switchyard.core.sink import KafkaOrigin, SinkRuntime, _run_and_report, _run_batch

BENCH = topic("bench-events")


class Journal:
    """An object's invocation context as far as a sink uses it: state calls and steps
    (`run_typed`, which runs its function as the SDK does), each an entry in one event log
    that the producer writes its publishes into too."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.state: dict[str, Any] = {}

    async def get(self, name: str, serde: Any = None, type_hint: Any = None, entry_name: str | None = None) -> Any:
        self.events.append(f"get {name}")
        return copy.deepcopy(self.state.get(name))

    def set(self, name: str, value: Any, serde: Any = None, entry_name: str | None = None) -> None:
        self.events.append(f"set {name}")
        self.state[name] = copy.deepcopy(value)

    async def run_typed(self, name: str, fn: Any, options: Any = None, *args: Any, **kwargs: Any) -> Any:
        self.events.append(f"step {name}")
        return await fn(*args, **kwargs)

    async def take_and_send_output(self) -> None:
        """The SDK's: sends the entries it buffered (a `set` only buffers) to restate-server."""
        self.events.append("sent")

    def key(self) -> str:
        return "k"


class Producer:
    def __init__(self, events: list[str], fail: bool = False) -> None:
        self.events = events
        self.fail = fail
        self.records: list[tuple[str, bytes, bytes]] = []

    async def produce(self, topic_name: str, key: bytes, value: bytes, headers: Any = None, *,
                      verbatim_key: bool = False) -> tuple[int, int]:
        if self.fail:
            raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT))
        self.events.append(f"publish {topic_name}")
        self.records.append((topic_name, key, value))
        return 0, len(self.records) - 1


async def add(ctx: restate.ObjectContext, request: Any) -> dict[str, int]:
    before: int | None = await ctx.get("total", type_hint=int)
    total = (before or 0) + request.amount
    ctx.set("total", total)
    return {"total": total}


def deliveries(values: list[bytes]) -> list[tuple[KafkaOrigin | None, bytes]]:
    return [(KafkaOrigin(topic=BENCH.name, partition=0, offset=n, key=b"k", timestamp_ms=1000 + n), raw)
            for n, raw in enumerate(values)]


RECORDS = st.lists(st.one_of(st.integers(-50, 50).map(lambda a: json.dumps({"amount": a}).encode()),
                             st.just(b"{not json")), min_size=1, max_size=8)


def run(values: list[bytes], producer_fails: bool = False) -> tuple[Journal, Producer]:
    events: list[str] = []
    ctx, producer = Journal(events), Producer(events, fail=producer_fails)
    metrics = SinkMetrics(CollectorRegistry())
    runtime = SinkRuntime(cast(AsyncProducer, producer), RetrySettings(max_attempts=3), metrics)
    context = cast(restate.Context, ctx)
    if len(values) > 1:
        asyncio.run(_run_batch(context, BENCH, runtime, add, deliveries(values)))
    else:
        [(origin, raw)] = deliveries(values)
        assert origin is not None
        asyncio.run(_run_and_report(context, BENCH, runtime, origin, add, BENCH.parse(raw)))
    return ctx, producer


@settings(max_examples=60, deadline=None)
@given(RECORDS)
def test_outcomes_are_published_last_after_the_state_and_not_as_a_step(values: list[bytes]) -> None:
    if len(values) == 1 and values[0].startswith(b"{not"):
        values = [b'{"amount": 1}']  # a single bad record is refused before the handler runs
    ctx, producer = run(values)
    good = [json.loads(v)["amount"] for v in values if not v.startswith(b"{not")]
    results = [json.loads(value) for name, _, value in producer.records if name == BENCH.results]
    assert [r["result"]["total"] for r in results] == [sum(good[:n + 1]) for n in range(len(good))]
    # Dead letters stay journaled steps; the results are not one, and come after every state write.
    assert [e for e in ctx.events if e.startswith("step")] == ["step dead-letter"] * (len(values) - len(good))
    if not good:
        assert "total" not in ctx.state
        return
    assert stored(ctx.state["total"]) == sum(good)
    last_write = max(n for n, e in enumerate(ctx.events) if e.startswith("set "))
    first_result = ctx.events.index(f"publish {BENCH.results}")
    assert last_write < first_result
    # ... and the writes have been sent to restate-server by then, not only buffered.
    assert "sent" in ctx.events[last_write:first_result]


def stored(value: Any) -> Any:
    """A state value as the handler wrote it (a batch writes its entries serialized)."""
    return json.loads(value) if isinstance(value, bytes) else value


@pytest.mark.parametrize("count", [1, 3])
def test_a_failed_publish_fails_the_attempt(count: int) -> None:
    values = [json.dumps({"amount": n}).encode() for n in range(count)]
    with pytest.raises(KafkaException):
        run(values, producer_fails=True)


async def odd(ctx: restate.ObjectContext, request: Any) -> Any:
    ctx.set("total", request.amount)
    return {request.amount}  # a set: the SDK's JSON output serde refuses it


def test_a_result_the_sdk_cannot_serialize_fails_the_attempt_before_any_publish() -> None:
    events: list[str] = []
    ctx, producer = Journal(events), Producer(events)
    runtime = SinkRuntime(cast(AsyncProducer, producer), RetrySettings(max_attempts=3),
                          SinkMetrics(CollectorRegistry()))
    [(origin, raw)] = deliveries([b'{"amount": 2}'])
    assert origin is not None
    with pytest.raises(TypeError):
        asyncio.run(_run_and_report(cast(restate.Context, ctx), BENCH, runtime, origin, odd, BENCH.parse(raw),
                                    DefaultSerde[Any]()))
    assert producer.records == []
