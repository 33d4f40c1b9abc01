import asyncio
import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from handlers.tasks import delay_of, digest, execute, outcome
from producers.tasks import delay_param, describe, idempotency_key, parse_delay, task_of
from schemas.tasks import MAX_DELAY_MS, SubmittedTask, TaskExecution, TaskRequest
from switchyard.cli.main import parser


def request(**fields: object) -> TaskRequest:
    return TaskRequest.model_validate_json(json.dumps({"taskName": "resize", "payload": None, **fields}))


def test_a_task_without_delay_runs_now_and_one_with_delay_later() -> None:
    assert delay_of(request()) is None
    assert delay_of(request(delayMs=0)) is None
    assert delay_of(request(delayMs=1500)) == timedelta(milliseconds=1500)


@pytest.mark.parametrize("bad", [{"delayMs": -1}, {"delayMs": MAX_DELAY_MS + 1}, {"delayMs": "10s"},
                                 {"delayMs": 1.5}, {"taskName": ""}, {"extra": 1}])
def test_the_schema_refuses_bad_tasks(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        request(**bad)


def test_the_payload_is_required_but_may_be_null() -> None:
    with pytest.raises(ValidationError, match="payload"):
        TaskRequest.model_validate_json('{"taskName": "resize"}')
    assert request().payload is None


def test_the_outcome_is_the_execution_marked_done() -> None:
    run = TaskExecution(taskName="resize", invocationId="inv_1", scheduledAt=1, startedAt=2, finishedAt=3,
                        output="resize: processed payload x")
    done = outcome(run)
    assert done.status == "DONE"
    assert done.model_dump(exclude={"status"}) == run.model_dump()


def test_the_simulated_work_reports_on_its_payload() -> None:
    task = request(payload={"b": 1, "a": [1, 2]})
    out = asyncio.run(execute(task, 0))
    assert out == f"resize: processed payload {digest({'a': [1, 2], 'b': 1})}"
    assert digest({"a": 1}) != digest({"a": 2})


def test_the_submitter_names_the_task_as_the_kafka_sink_does() -> None:
    # switchyard/core/sink.py forwards a plain-service record under "<topic>/<record key>".
    assert idempotency_key("task-1") == "task-queue/task-1"


@pytest.mark.parametrize(("text", "delay"), [("500ms", timedelta(milliseconds=500)), ("10s", timedelta(seconds=10)),
                                             ("2m", timedelta(minutes=2)), ("1h", timedelta(hours=1))])
def test_delays_in_restates_units(text: str, delay: timedelta) -> None:
    assert parse_delay(text) == delay


@pytest.mark.parametrize("text", ["10", "ten s", "-1s", "1.5s", "1d"])
def test_a_bad_delay_is_refused_with_the_units(text: str) -> None:
    with pytest.raises(ValueError, match="ms, s, m or h"):
        parse_delay(text)


def test_the_delay_goes_to_restate_in_milliseconds() -> None:
    assert delay_param(timedelta(seconds=10)) == "10000ms"
    assert delay_param(timedelta(milliseconds=1)) == "1ms"


def test_the_submitter_builds_the_task_and_names_bad_fields() -> None:
    assert task_of("resize", '{"image": "cat.png"}') == request(payload={"image": "cat.png"})
    assert task_of("resize", None).payload is None
    with pytest.raises(ValueError, match="payload: not JSON"):
        task_of("resize", "{oops")
    with pytest.raises(ValueError, match="taskName"):
        task_of("", None)


def test_the_submitter_takes_a_task_its_id_and_delay() -> None:
    args = parser().parse_args(["submit", "resize", '{"a": 1}', "--id", "t1", "--delay", "10s", "--no-wait"])
    assert (args.task_name, args.payload, args.task_id, args.delay, args.no_wait) == (
        "resize", '{"a": 1}', "t1", timedelta(seconds=10), True)
    with pytest.raises(SystemExit):
        parser().parse_args(["submit", "resize", "--delay", "soon"])


def test_restates_send_answer_is_read_leniently() -> None:
    sent = SubmittedTask.model_validate({"invocationId": "inv_1", "status": "Accepted", "somethingNew": 1})
    assert (sent.invocationId, sent.status) == ("inv_1", "Accepted")


def test_the_outcome_line_says_when_and_how_long() -> None:
    line = describe("t1", outcome(TaskExecution(taskName="resize", invocationId="inv_1", scheduledAt=0,
                                                startedAt=1_700_000_000_000, finishedAt=1_700_000_000_050,
                                                output="resize: processed payload x")))
    assert line.startswith("t1: DONE at 2023-11-")
    assert line.endswith(" in 50 ms: resize: processed payload x")
