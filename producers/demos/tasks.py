"""AsyncTaskWorker demo: tasks through `task-queue` (one produced twice, one delayed, one
malformed), then the seed's TaskSubmitter over HTTP: a delayed send with an idempotency
key, sent twice, and attached to for its outcome. Each task id runs once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from producers.tasks import attach, idempotency_key, submit
from schemas.catalogue import topic
from schemas.tasks import TaskRequest

TOPIC = topic("task-queue")
DELAY = timedelta(seconds=2)


def run(env: DemoEnv) -> None:
    env.say("AsyncTaskWorker: Restate as a (delayed) task queue; each task id runs once")
    run_id = uuid.uuid4().hex[:6]  # task ids are idempotency keys: fresh ones per run
    now, later, bad = (f"task-{run_id}-{n}" for n in ("now", "later", "bad"))
    resize = TaskRequest(taskName="resize", payload={"image": "cat.png", "width": 200})
    report = TaskRequest(taskName="report", payload={"month": "2024-12"}, delayMs=round(DELAY.total_seconds() * 1000))
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [
            (now, resize.model_dump_json(exclude_none=True).encode()),
            (now, resize.model_dump_json(exclude_none=True).encode()),  # the same task again: runs once
            (later, report.model_dump_json().encode()),
            (bad, b'{"payload": {"image": "cat.png"}}'),
        ])
        records = env.wait(reader, {TOPIC.results: 3, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    ran = next(r.json()["result"]["invocationId"] for r in records if r.key_text == now and r.topic == TOPIC.results)
    env.show(f"{now} ran once: its ledger", env.call(f"/TaskLedger/{ran}/get"))

    env.say(f"  the seed's submitter over HTTP (switchyard submit cleanup --id task-{run_id}-http --delay 2s), twice:")
    task_id, cleanup = f"task-{run_id}-http", TaskRequest(taskName="cleanup", payload={"older_than_days": 30})
    for _ in range(2):
        sent = submit(env.http, task_id, cleanup, DELAY)
        env.say(f"  POST /AsyncTaskWorker/runTask/send?delay=2s  idempotency-key: {idempotency_key(task_id)}  -> "
                f"{sent.status} {sent.invocationId}")
    env.say(f"  GET /restate/invocation/{sent.invocationId}/attach")
    env.show("outcome", attach(env.http, sent.invocationId, timeout=60).model_dump(mode="json"))
    env.show(f"{task_id} ran once: its ledger", env.call(f"/TaskLedger/{sent.invocationId}/get"))
