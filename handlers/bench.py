"""The benchmark's own workloads (bench/run.py drives them; see docs/benchmarks.md).

* ``BenchCounter/add`` — fed by `bench-events`: read the key's counter, add the record's
  amount, write it back, result on `bench-events-results`. The same per-key update the
  Faust peer and the raw consumer loop do, so the three are compared on the same work.
* ``BenchWorkflow/run`` — a Restate workflow of three ``ctx.run`` steps, the shape of the
  seed's "3-step workflows can execute in 30 ms" claim, called over HTTP ingress.
"""

from __future__ import annotations

from datetime import timedelta

import restate

from handlers.access import QUERY, public
from schemas.bench import BenchEvent, BenchTotal, StepsRequest, StepsResult
from schemas.catalogue import topic
from switchyard.core.sink import SinkRuntime, body_handler, sink_handler

TOPIC = topic("bench-events")
COUNTER = "counter"
# Workflow ids are one-shot in the benchmark: keep finished runs only briefly.
WORKFLOW_RETENTION = timedelta(minutes=10)
# The step's type up front: the SDK then skips inspect.signature on every run.
STEP: restate.RunOptions[int] = restate.RunOptions(type_hint=int)


def added(counter: BenchTotal | None, event: BenchEvent) -> BenchTotal:
    """The counter after one event."""
    before = counter or BenchTotal(total=0, count=0)
    return BenchTotal(total=before.total + event.amount, count=before.count + 1)


async def step(name: str, value: int) -> int:
    """One trivial step of the workflow: the benchmark measures the orchestration, not work.
    Async, as side effects that do I/O should be: the SDK runs a plain function on a worker
    thread, a hop per step."""
    return value + len(name)


def build_counter(runtime: SinkRuntime) -> restate.VirtualObject:
    counter = restate.VirtualObject("BenchCounter")

    @sink_handler(counter.handler, TOPIC, runtime, **public(f"Kafka sink of {TOPIC.name} (the benchmark)"))
    async def add(ctx: restate.ObjectContext, event: BenchEvent) -> BenchTotal:
        # One state entry (not two) keeps the journal to one get and one set per record.
        now = added(await ctx.get(COUNTER, type_hint=BenchTotal), event)
        ctx.set(COUNTER, now)
        return now

    @counter.handler("get", kind="shared", **QUERY)
    async def get(ctx: restate.ObjectSharedContext) -> BenchTotal:
        return await ctx.get(COUNTER, type_hint=BenchTotal) or BenchTotal(total=0, count=0)

    return counter


def build_workflow() -> restate.Workflow:
    workflow = restate.Workflow("BenchWorkflow")

    @body_handler(workflow.main, "run", StepsRequest, workflow_retention=WORKFLOW_RETENTION,
                  **public("the benchmark's 3-step workflow, called over HTTP"))
    async def run(ctx: restate.WorkflowContext, request: StepsRequest) -> StepsResult:
        value = request.value
        names = ["validate", "reserve", "confirm"]
        for name in names:
            value = await ctx.run_typed(name, step, STEP, name=name, value=value)
        return StepsResult(steps=names, value=value)

    return workflow
