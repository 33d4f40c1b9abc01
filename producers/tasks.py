"""`switchyard submit`: the seed's TaskSubmitter as a command.

    switchyard submit resize '{"image": "cat.png"}' --id task-1 --delay 10s

Each task is a one-way send, `POST /AsyncTaskWorker/runTask/send?delay=10s`, with the
task id as its idempotency key, in the form the Kafka sink gives a `task-queue` record
key (`idempotency-key: task-queue/<id>`), so a task id names one task whether it came
through Kafka or from here. Restate puts it in its queue (a durable timer when delayed)
and answers at once with the invocation id; the same id again is answered
"PreviouslyAccepted" and runs nothing twice. Then the command attaches to the invocation
(`GET /restate/invocation/{id}/attach`) and prints the task's outcome once it has run;
`--no-wait` leaves it queued.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from schemas.catalogue import describe_error, topic
from schemas.tasks import SubmittedTask, TaskOutcome, TaskRequest

TOPIC = topic("task-queue")
SEND = f"/{TOPIC.service}/{TOPIC.handler}/send"
DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours"}


class SubmitFailed(RuntimeError):
    pass


def parse_delay(text: str) -> timedelta:
    """`500ms`, `10s`, `2m`, `1h` (what Restate's `delay` parameter takes, kept simple)."""
    match = DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"delay {text!r}: expected a number with ms, s, m or h (e.g. 10s)")
    return timedelta(**{UNITS[match[2]]: int(match[1])})


def delay_param(delay: timedelta) -> str:
    return f"{round(delay.total_seconds() * 1000)}ms"


def idempotency_key(task_id: str) -> str:
    """The idempotency key switchyard/core/sink.py gives a `task-queue` record with key ``task_id``."""
    return f"{TOPIC.name}/{task_id}"


def submit(http: httpx.Client, task_id: str, task: TaskRequest, delay: timedelta | None = None) -> SubmittedTask:
    """Queues ``task`` as task ``task_id``, after ``delay`` if given."""
    params = {"delay": delay_param(delay)} if delay else None
    response = http.post(SEND, params=params, content=task.model_dump_json(),
                         headers={"idempotency-key": idempotency_key(task_id), "content-type": "application/json"})
    if response.status_code not in (200, 202):
        raise SubmitFailed(f"{task_id}: HTTP {response.status_code}: {response.text}")
    return SubmittedTask.model_validate(response.json())


def attach(http: httpx.Client, invocation_id: str, timeout: float) -> TaskOutcome:
    """Waits for the task's outcome (Restate holds it for the idempotency retention)."""
    response = http.get(f"/restate/invocation/{invocation_id}/attach", timeout=timeout)
    if response.status_code != 200:
        raise SubmitFailed(f"{invocation_id}: HTTP {response.status_code}: {response.text}")
    return TaskOutcome.model_validate_json(response.content)


def task_of(name: str, payload: str | None) -> TaskRequest:
    try:
        value: Any = json.loads(payload) if payload is not None else None
    except json.JSONDecodeError as exc:
        raise ValueError(f"payload: not JSON ({exc})") from None
    try:
        return TaskRequest(taskName=name, payload=value)
    except ValidationError as exc:
        raise ValueError(describe_error(exc)) from None


def describe(task_id: str, outcome: TaskOutcome) -> str:
    started = datetime.fromtimestamp(outcome.startedAt / 1000).isoformat(timespec="milliseconds")
    took = outcome.finishedAt - outcome.startedAt
    return f"{task_id}: {outcome.status} at {started} in {took} ms: {outcome.output}"
