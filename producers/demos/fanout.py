"""FanOutWorker demo: jobs through `fanout-tasks` (and one malformed), then the seed's call
over HTTP, timed: the subtasks run in parallel, so the job takes about as long as its
slowest subtask, not the sum."""

from __future__ import annotations

import json
import time
import uuid

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from schemas.catalogue import topic

TOPIC = topic("fanout-tasks")


def run(env: DemoEnv) -> None:
    env.say("FanOutWorker: split a job into subtasks, run them in parallel, gather the results in order")
    run_id = uuid.uuid4().hex[:6]  # job ids are idempotency keys: fresh ones per run
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [
            (f"job-{run_id}-1", json.dumps({"description": "a,b,c"}).encode()),
            (f"job-{run_id}-2", json.dumps({"description": "fetch, resize, watermark, publish"}).encode()),
            (f"job-{run_id}-bad", json.dumps({"description": "a,,c"}).encode()),
        ])
        records = env.wait(reader, {TOPIC.results: 2, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)

    body = {"description": "a,b,c,d,e,f"}
    started = time.monotonic()
    result = env.call("/FanOutWorker/run", body)
    took = round((time.monotonic() - started) * 1000)
    env.show("result", result)
    durations = [s["durationMs"] for s in result["subtasks"]]
    env.say(f"  took {took} ms for subtasks of {durations} ms: "
            f"slowest {max(durations)} ms, sum {sum(durations)} ms")
