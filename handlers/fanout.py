"""FanOutWorker: fan-out/fan-in, fed by `fanout-tasks` (key jobId, the request's
idempotency key) or `POST /FanOutWorker/run`.

`run` splits the description on commas and calls `runSubtask` once per subtask, all at
once, as durable calls: Restate runs them in parallel (they could as well run on other
deployments) and keeps each one's result in `run`'s journal, so a retried `run` waits
for the same subtasks instead of starting them again. `restate.gather` waits for all of
them; the aggregate keeps the input order whatever order they finished in. The wall time
is that of the slowest subtask, not the sum.

Each subtask works for a time drawn from its context's seeded random (the same on every
replay), between `FanOutSettings.subtask_min_duration` and `subtask_max_duration`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import restate
from restate.logging import RestateLoggingFilter

from handlers.access import private, public
from handlers.settings import FanOutSettings
from schemas.catalogue import topic
from schemas.fanout import FanOutRequest, FanOutResult, Subtask, SubtaskResult
from switchyard.core.sink import SinkRuntime, body_handler, sink_handler

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())
TOPIC = topic("fanout-tasks")
SUBTASK = "runSubtask"


def subtask_duration(draw: float, settings: FanOutSettings) -> timedelta:
    """A duration between the configured bounds for a uniform draw in [0, 1)."""
    low, high = settings.subtask_min_duration, settings.subtask_max_duration
    return low + (high - low) * draw if high > low else low


def aggregate(results: list[SubtaskResult]) -> str:
    return ", ".join(f"{r.task}: {r.result}" for r in results)


async def execute(task: str, seconds: float) -> None:
    """The simulated work of one subtask."""
    await asyncio.sleep(seconds)


def build(settings: FanOutSettings, runtime: SinkRuntime) -> restate.Service:
    worker = restate.Service("FanOutWorker")

    @body_handler(worker.handler, SUBTASK, Subtask, **private("FanOutWorker/run's subtasks"))
    async def run_subtask(ctx: restate.Context, subtask: Subtask) -> SubtaskResult:
        duration = subtask_duration(ctx.random().random(), settings)
        log.info("Started executing subtask %s (%d ms)", subtask.task, duration // timedelta(milliseconds=1))
        await ctx.run_typed("execute subtask", execute, restate.RunOptions(), task=subtask.task,
                            seconds=duration.total_seconds())
        log.info("Execution subtask finished: %s", subtask.task)
        return SubtaskResult(task=subtask.task, result="DONE", durationMs=duration // timedelta(milliseconds=1))

    @sink_handler(worker.handler, TOPIC, runtime, **public(f"Kafka sink of {TOPIC.name}; contract HTTP path"))
    async def run(ctx: restate.Context, request: FanOutRequest) -> FanOutResult:
        subtasks = request.subtasks()
        log.info("Fanning out %d subtasks", len(subtasks))
        # All calls are issued before any is awaited: that is what makes them parallel.
        calls = [ctx.generic_call(worker.name, SUBTASK, Subtask(task=task).model_dump_json().encode())
                 for task in subtasks]
        await restate.gather(*calls)
        results = [SubtaskResult.model_validate_json(await call) for call in calls]
        log.info("All %d subtasks done", len(results))
        return FanOutResult(aggregate=aggregate(results), subtasks=results)

    return worker
