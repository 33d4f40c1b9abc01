"""FanOutWorker (fan-out/fan-in) through Kafka and HTTP, against the real stack: subtasks
run in parallel as durable calls, the aggregate keeps the input order, and a job takes
about as long as its slowest subtask, not the sum."""

from __future__ import annotations

import json
import string
import time
from typing import Any

import httpx

from handlers.settings import ExampleStackSettings as Settings
from producers.demos import fanout as demo
from schemas.catalogue import topic
from switchyard.core.admin import RestateAdmin
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver

TOPIC = topic("fanout-tasks")


def job(*subtasks: str) -> dict[str, str]:
    return {"description": ",".join(subtasks)}


def expected(*subtasks: str) -> str:
    return ", ".join(f"{s}: DONE" for s in subtasks)


def check_durations(result: dict[str, Any], settings: Settings) -> list[int]:
    durations = [int(s["durationMs"]) for s in result["subtasks"]]
    low = settings.fanout.subtask_min_duration.total_seconds() * 1000
    high = settings.fanout.subtask_max_duration.total_seconds() * 1000
    assert all(low <= d <= high for d in durations), durations
    return durations


def test_subtasks_run_in_parallel_over_http(ingress: httpx.Client, admin: RestateAdmin, settings: Settings) -> None:
    names = list(string.ascii_lowercase[:8])
    started = time.monotonic()
    r = ingress.post("/FanOutWorker/run", json=job(*names))
    took_ms = (time.monotonic() - started) * 1000
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["aggregate"] == expected(*names)
    durations = check_durations(result, settings)
    # Parallel: at least the slowest subtask, well short of their sum (sequential would be
    # the sum). The slack is for a busy 2-core machine, not a performance claim.
    assert took_ms >= max(durations)
    assert took_ms < max(durations) + (sum(durations) - max(durations)) / 2, (took_ms, durations)
    # Each subtask was a durable call of its own, made by this job's invocation.
    calls = admin.query("SELECT id FROM sys_invocation WHERE target = 'FanOutWorker/runSubtask' "
                        f"AND invoked_by_id = '{r.headers['x-restate-id']}'")
    assert len(calls) == len(names)


def test_the_aggregate_keeps_the_input_order_through_kafka(kafka: KafkaDriver, settings: Settings,
                                                           unique: str) -> None:
    # Names whose sorted order is not the input order, one repeated, spaces trimmed.
    names = ["zeta", "alpha", "mid", "alpha", "beta"]
    outcomes = kafka.send(TOPIC, [(f"{unique}-1", json.dumps(job(*names)).replace(",", " , ")),
                                  (f"{unique}-2", json.dumps(job("a", "b", "c")))])
    assert [o.ok for o in outcomes] == [True, True], [o.error for o in outcomes]
    first, seed = (o.result for o in outcomes)
    assert isinstance(first, dict)
    assert isinstance(seed, dict)
    assert first["aggregate"] == expected(*names)
    assert [s["task"] for s in first["subtasks"]] == names
    check_durations(first, settings)
    assert seed["aggregate"] == "a: DONE, b: DONE, c: DONE"


def test_a_job_produced_twice_runs_its_subtasks_once(kafka: KafkaDriver, admin: RestateAdmin, unique: str) -> None:
    record = (unique, json.dumps(job("x", "y")))
    first, again = kafka.send(TOPIC, [record, record])
    assert first.result == again.result
    [business] = admin.query(f"SELECT id FROM sys_invocation WHERE target = '{TOPIC.target}' "
                             f"AND idempotency_key = '{TOPIC.name}/{unique}'")
    calls = admin.query("SELECT id FROM sys_invocation WHERE target = 'FanOutWorker/runSubtask' "
                        f"AND invoked_by_id = '{business['id']}'")
    assert len(calls) == 2


def test_bad_jobs_go_to_the_dlq(kafka: KafkaDriver, unique: str) -> None:
    bad = [json.dumps({"description": "a,,c"}), json.dumps({"description": ","}),
           json.dumps({"description": ",".join(["t"] * 101)}), json.dumps({"jobs": "a,b"})]
    outcomes = kafka.send(TOPIC, [(f"{unique}-{n}", raw) for n, raw in enumerate(bad)])
    assert [o.dead_lettered for o in outcomes] == [True] * len(bad)
    reasons = [o.record.header("error.reason") or "" for o in outcomes]
    assert "description" in reasons[0]
    assert "subtask 2 of 3 is empty" in reasons[0]
    assert "subtask 1 of 2 is empty" in reasons[1]
    assert "101 subtasks; at most 100" in reasons[2]
    assert "description" in reasons[3]


def test_bad_http_bodies_get_400_naming_the_field(ingress: httpx.Client) -> None:
    r = ingress.post("/FanOutWorker/run", json={"description": "a,,b"})
    assert r.status_code == 400
    assert "description" in r.text


def test_a_subtask_runs_only_for_its_job(ingress: httpx.Client, admin: RestateAdmin) -> None:
    # runSubtask is ingress-private: only FanOutWorker/run calls it (tests/integration/test_ingress_access.py).
    r = ingress.post("/FanOutWorker/runSubtask", json={"task": "solo"})
    assert r.status_code == 400
    assert "not public" in r.text
    assert admin.query("SELECT id FROM sys_invocation WHERE target = 'FanOutWorker/runSubtask' "
                       "AND invoked_by = 'ingress'") == []


def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert "a: DONE, b: DONE, c: DONE" in text
    assert "fetch: DONE, resize: DONE, watermark: DONE, publish: DONE" in text
    assert "fanout-tasks-dlq" in text
    assert "slowest" in text
