"""AsyncTaskWorker: Restate as a (delayed) task queue, fed by `task-queue`.

A task is submitted under an id that is its idempotency key: the Kafka sink forwards a
record with key K as the idempotency key `task-queue/K`; over HTTP the submitter sends
`POST /AsyncTaskWorker/runTask/send?delay=10s` with `idempotency-key: task-queue/K`, so
both paths name the same task (a plain `idempotency-key: K` works too, as a task of its
own). Restate derives the invocation id from that key and keeps every later submission
on the first invocation and its outcome: the task runs once.

A delay is a durable timer: Restate's own for `/send?delay=...`, a `ctx.sleep` for a
record's `delayMs` (the invocation suspends; the timer survives restarts). The outcome,
and so the `task-queue-results` record, comes once the task has run, not when it was
queued: it says what the task did and when.

Restate shows a handler neither the idempotency key nor the `idempotency-key` header, so
the task's identity inside the handler is its invocation id. `TaskLedger/{invocationId}`
records each run with times taken through the context, so "ran once" and "not before
its time" can be checked from outside while the task waits and after it ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import restate
from restate.logging import RestateLoggingFilter

from handlers.access import QUERY, private, public
from handlers.settings import TaskSettings
from schemas.catalogue import topic
from schemas.tasks import TaskExecution, TaskLedgerView, TaskOutcome, TaskRequest
from switchyard.core.serde import TypedSerde
from switchyard.core.sink import SinkRuntime, sink_handler

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())
TOPIC = topic("task-queue")
EXECUTIONS = "executions"
RUNS: TypedSerde[list[TaskExecution]] = TypedSerde(list[TaskExecution])


def delay_of(task: TaskRequest) -> timedelta | None:
    return timedelta(milliseconds=task.delayMs) if task.delayMs else None


def outcome(execution: TaskExecution) -> TaskOutcome:
    return TaskOutcome(status="DONE", **execution.model_dump())


def digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


async def execute(task: TaskRequest, seconds: float) -> str:
    """The simulated work (the seed's `someHeavyWork`): takes a while, yields an output."""
    await asyncio.sleep(seconds)
    return f"{task.taskName}: processed payload {digest(task.payload)}"


async def now_ms(ctx: restate.Context) -> int:
    return round(await ctx.time() * 1000)


@dataclass(frozen=True)
class Ledger:
    service: restate.VirtualObject
    record: Callable[..., Any]


def build_ledger() -> Ledger:
    ledger = restate.VirtualObject("TaskLedger")

    @ledger.handler("record", **private("AsyncTaskWorker/runTask records its run"))
    async def record(ctx: restate.ObjectContext, execution: TaskExecution) -> None:
        executions = await ctx.get(EXECUTIONS, serde=RUNS) or []
        ctx.set(EXECUTIONS, [*executions, execution], serde=RUNS)

    @ledger.handler("get", kind="shared", **QUERY)
    async def get(ctx: restate.ObjectSharedContext) -> TaskLedgerView:
        return TaskLedgerView(invocationId=ctx.key(), executions=await ctx.get(EXECUTIONS, serde=RUNS) or [])

    return Ledger(ledger, record)


def build(settings: TaskSettings, runtime: SinkRuntime) -> list[restate.Service | restate.VirtualObject]:
    ledger = build_ledger()
    worker = restate.Service("AsyncTaskWorker")

    @sink_handler(worker.handler, TOPIC, runtime, **public(f"Kafka sink of {TOPIC.name}; contract HTTP path"))
    async def run_task(ctx: restate.Context, task: TaskRequest) -> TaskOutcome:
        me = ctx.request().id
        scheduled_at = await now_ms(ctx)
        delay = delay_of(task)
        if delay is not None:
            log.info("Task %s will run in %s", task.taskName, delay)
            await ctx.sleep(delay, name="task delay")
        log.info("Running task %s", task.taskName)
        started_at = await now_ms(ctx)
        output = await ctx.run_typed("execute task", execute, restate.RunOptions(), task=task,
                                     seconds=settings.task_duration.total_seconds())
        execution = TaskExecution(taskName=task.taskName, invocationId=me, scheduledAt=scheduled_at,
                                  startedAt=started_at, finishedAt=await now_ms(ctx), output=output)
        await ctx.object_call(ledger.record, key=me, arg=execution)
        log.info("Task %s done: %s", task.taskName, output)
        return outcome(execution)

    return [worker, ledger.service]
