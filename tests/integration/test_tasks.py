"""AsyncTaskWorker (delayed task queue) through Kafka and HTTP, against the real stack:
each task id runs once, and a delayed task runs after its delay, not before."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from producers.demos import tasks as demo
from producers.tasks import attach, idempotency_key, submit
from schemas.catalogue import topic
from schemas.tasks import TaskRequest
from switchyard.cli.main import main as cli
from switchyard.core.admin import RestateAdmin
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver

TOPIC = topic("task-queue")
DELAY_MS = 2_000


def executions(ingress: httpx.Client, invocation_id: str) -> list[dict[str, Any]]:
    r = ingress.post(f"/TaskLedger/{invocation_id}/get")
    assert r.status_code == 200, r.text
    return list(r.json()["executions"])


def business_invocations(admin: RestateAdmin, task_id: str) -> list[str]:
    """The AsyncTaskWorker invocations holding task ``task_id`` (its idempotency key)."""
    rows = admin.query(f"SELECT id FROM sys_invocation WHERE target = '{TOPIC.target}' "
                       f"AND idempotency_key = '{idempotency_key(task_id)}'")
    return [str(row["id"]) for row in rows]


def task(name: str = "resize", delay_ms: int | None = None) -> str:
    body: dict[str, Any] = {"taskName": name, "payload": {"image": "cat.png", "width": 200}}
    if delay_ms is not None:
        body["delayMs"] = delay_ms
    return json.dumps(body)


def now_ms() -> int:
    return round(time.time() * 1000)


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def test_a_task_produced_twice_runs_once(kafka: KafkaDriver, ingress: httpx.Client, admin: RestateAdmin,
                                         unique: str) -> None:
    first, again = kafka.send(TOPIC, [(unique, task()), (unique, task())])
    [later] = kafka.send(TOPIC, [(unique, task())])
    assert first.ok, first.error
    assert isinstance(first.result, dict)
    assert first.result["status"] == "DONE"
    assert first.result["output"].startswith("resize: processed payload ")
    assert again.result == first.result == later.result
    assert business_invocations(admin, unique) == [first.result["invocationId"]]
    [run] = executions(ingress, first.result["invocationId"])
    assert run["startedAt"] == first.result["startedAt"]


def test_a_task_sent_twice_over_http_runs_once(ingress: httpx.Client, unique: str) -> None:
    request = TaskRequest(taskName="thumbnail", payload=[1, 2, 3])
    first = submit(ingress, unique, request)
    again = submit(ingress, unique, request)
    assert (first.status, again.status) == ("Accepted", "PreviouslyAccepted")
    assert again.invocationId == first.invocationId
    outcome = attach(ingress, first.invocationId, timeout=60)
    assert (outcome.status, outcome.invocationId) == ("DONE", first.invocationId)
    # The same key on a call after it ran: Restate answers with the first outcome.
    replay = ingress.post("/AsyncTaskWorker/runTask", content=request.model_dump_json(),
                          headers={"idempotency-key": idempotency_key(unique), "content-type": "application/json"})
    assert replay.status_code == 200, replay.text
    assert replay.json() == outcome.model_dump(mode="json")
    assert len(executions(ingress, first.invocationId)) == 1


def test_a_delayed_record_runs_after_its_delay_not_before(kafka: KafkaDriver, ingress: httpx.Client,
                                                          admin: RestateAdmin, settings: Settings,
                                                          unique: str) -> None:
    sent_at = now_ms()
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(kafka.send, TOPIC, [(unique, task("report", DELAY_MS))])
        [invocation] = eventually(lambda: business_invocations(admin, unique), "the task's invocation")
        # Half way through the delay: queued, not run, no result yet.
        time.sleep(max(0.0, (sent_at + DELAY_MS / 2) / 1000 - time.time()))
        assert executions(ingress, invocation) == [], "the task ran before its delay was over"
        assert not waiting.done(), "a result came before the delay was over"
        [outcome] = waiting.result(timeout=60)
    assert outcome.ok, outcome.error
    [run] = executions(ingress, invocation)
    assert run["startedAt"] >= sent_at + DELAY_MS
    assert run["startedAt"] - run["scheduledAt"] >= DELAY_MS
    assert run["finishedAt"] - run["startedAt"] >= settings.tasks.task_duration.total_seconds() * 1000 - 1
    assert outcome.record.timestamp_ms >= sent_at + DELAY_MS


def test_a_delayed_send_over_http_runs_after_its_delay_not_before(ingress: httpx.Client, unique: str) -> None:
    sent_at = now_ms()
    submitted = submit(ingress, unique, TaskRequest(taskName="cleanup", payload=None), timedelta(milliseconds=DELAY_MS))
    time.sleep(max(0.0, (sent_at + DELAY_MS / 2) / 1000 - time.time()))
    assert executions(ingress, submitted.invocationId) == [], "the task ran before its delay was over"
    outcome = attach(ingress, submitted.invocationId, timeout=60)
    assert outcome.status == "DONE"
    [run] = executions(ingress, submitted.invocationId)
    assert run["startedAt"] >= sent_at + DELAY_MS
    assert outcome.startedAt == run["startedAt"]


def test_one_task_id_through_kafka_and_over_http_runs_once(kafka: KafkaDriver, ingress: httpx.Client,
                                                           admin: RestateAdmin, unique: str) -> None:
    sent_at = now_ms()
    submitted = submit(ingress, unique, TaskRequest(taskName="cleanup", payload=None), timedelta(milliseconds=DELAY_MS))
    # The record with the same task id joins the queued task: its result is that task's outcome.
    [joined] = kafka.send(TOPIC, [(unique, task("cleanup"))])
    assert isinstance(joined.result, dict)
    assert joined.result["invocationId"] == submitted.invocationId
    assert joined.result["startedAt"] >= sent_at + DELAY_MS
    again = submit(ingress, unique, TaskRequest(taskName="cleanup", payload=None))
    assert (again.status, again.invocationId) == ("PreviouslyAccepted", submitted.invocationId)
    assert business_invocations(admin, unique) == [submitted.invocationId]
    assert len(executions(ingress, submitted.invocationId)) == 1


def test_bad_records_go_to_the_dlq_and_run_nothing(kafka: KafkaDriver, admin: RestateAdmin, unique: str) -> None:
    bad = [b"not json", json.dumps({"payload": 1}).encode(), json.dumps({"taskName": "x", "delayMs": -5}).encode()]
    outcomes = kafka.send(TOPIC, [(f"{unique}-{n}", raw) for n, raw in enumerate(bad)])
    assert all(o.dead_lettered for o in outcomes)
    assert "taskName" in (outcomes[1].record.header("error.reason") or "")
    assert "delayMs" in (outcomes[2].record.header("error.reason") or "")
    assert all(business_invocations(admin, f"{unique}-{n}") == [] for n in range(len(bad)))


def test_bad_http_body_gets_400_naming_the_field(ingress: httpx.Client) -> None:
    r = ingress.post("/AsyncTaskWorker/runTask", json={"taskName": "x", "delayMs": "soon"})
    assert r.status_code == 400
    assert "delayMs" in r.text
    assert executions(ingress, r.headers["x-restate-id"]) == []


def test_submit_command_queues_and_attaches(settings: Settings, unique: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = ["submit", "resize", '{"image": "dog.png"}', "--id", unique, "--delay", "500ms",
            "--ingress", settings.restate.ingress_url]
    assert cli(args) == 0
    first = capsys.readouterr().out.splitlines()
    assert cli(args) == 0
    second = capsys.readouterr().out.splitlines()
    assert first[0].startswith(f"{unique}: Accepted as inv_")
    assert first[0].endswith("runs in 0:00:00.500000")
    assert second[0] == first[0].replace("Accepted", "PreviouslyAccepted")
    assert first[1] == second[1]
    assert first[1].startswith(f"{unique}: DONE at ")
    assert "ms: resize: processed payload" in first[1]


def test_submit_command_refuses_a_bad_task_naming_the_field(settings: Settings,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["submit", "", "--ingress", settings.restate.ingress_url]) == 2
    assert "taskName" in capsys.readouterr().err
    assert cli(["submit", "x", "{not json", "--ingress", settings.restate.ingress_url]) == 2
    assert "payload: not JSON" in capsys.readouterr().err


def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert "task-queue-dlq" in text
    assert "PreviouslyAccepted" in text
    assert '"status": "DONE"' in text
