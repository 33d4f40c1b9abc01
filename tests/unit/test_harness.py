"""switchyard.testing.Harness: an app's own sink handlers on records, in process: the
outcomes the sink publishes, state per key, order, retries, calls between handlers."""

from __future__ import annotations

import pytest
import restate
from pydantic import BaseModel, ConfigDict

from switchyard.app import App
from switchyard.core.settings import RetrySettings
from switchyard.testing import Harness, HarnessError


class Greeting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


class Booking(BaseModel):
    trip: str


app = App("greeter")
FLAKY: dict[str, int] = {}


@app.object("greetings", key="person")
async def greet(ctx: restate.ObjectContext, greeting: Greeting) -> dict[str, object]:
    seen = (await ctx.get("seen", type_hint=list[str]) or []) + [greeting.name]
    ctx.set("seen", seen)
    if greeting.name == "nobody":
        raise restate.TerminalError("nobody to greet", 422)
    if greeting.name.startswith("flaky"):  # fails its first attempts, then works
        FLAKY[greeting.name] = FLAKY.get(greeting.name, 0) + 1
        if FLAKY[greeting.name] < 3:
            raise ConnectionError("provider down")
    if greeting.name == "bug":
        raise ValueError("a bug")
    stamp = await ctx.run_typed("stamp", lambda: f"{ctx.uuid()}", restate.RunOptions(type_hint=str))
    return {"hello": greeting.name, "seen": seen, "stamp": stamp}


@app.handler()
async def seen(ctx: restate.ObjectSharedContext) -> list[str]:
    return await ctx.get("seen", type_hint=list[str]) or []


@app.service("pings", key="ping", service="Pings")
async def ping(ctx: restate.Context, greeting: Greeting) -> str:
    count = await ctx.object_call(seen, key=greeting.name, arg=None)
    return f"pong {greeting.name} ({len(count)})"


@app.workflow("bookings", key="trip", service="Trips")
async def book(ctx: restate.WorkflowContext, booking: Booking) -> str:
    await ctx.sleep(__import__("datetime").timedelta(hours=1))  # instant here
    return f"booked {booking.trip}"


def test_an_answer_is_an_ok_result_naming_its_record() -> None:
    harness = Harness(app)
    out = harness.send("greetings", "ada", Greeting(name="Ada"))
    assert out.ok
    assert not out.dead_lettered
    assert out.result["hello"] == "Ada"
    assert out.result["seen"] == ["Ada"]
    record = out.result_record
    assert record is not None
    assert record.target == "Greeter/greet"
    assert (record.source.topic, record.source.offset) == ("greetings", 0)
    assert out.record.topic == "greetings-results"
    assert out.record.key == b"ada"


def test_a_terminal_error_is_an_ok_false_result() -> None:
    out = Harness(app).send("greetings", "ada", {"name": "nobody"})
    assert not out.ok
    assert not out.dead_lettered
    assert out.error is not None
    assert (out.error.code, out.error.message) == (422, "nobody to greet")
    assert out.reason == "nobody to greet"


def test_a_bad_value_or_key_is_a_dead_letter_with_its_reason() -> None:
    harness = Harness(app)
    bad = harness.send("greetings", "ada", {"nom": "Ada"})
    assert bad.dead_lettered
    assert not bad.ok
    assert bad.reason is not None
    assert "name: Field required" in bad.reason
    assert bad.record.topic == "greetings-dlq"
    assert bad.record.value == b'{"nom": "Ada"}'
    assert bad.record.header("source.offset") == "0"
    assert bad.dead_letter is not None
    assert bad.dead_letter.error_class == "ValidationError"
    keyless = harness.send("greetings", None, {"name": "Ada"})  # the key gate's refusal
    assert keyless.dead_lettered
    assert keyless.reason is not None
    assert keyless.reason.startswith("record has no key")
    not_json = harness.send("greetings", "ada", b"\xff")
    assert not_json.dead_lettered
    assert not_json.source.offset == 2


def test_state_is_kept_per_key_and_records_run_in_order() -> None:
    harness = Harness(app)
    outcomes = harness.send_all([("greetings", "ada", {"name": n}) for n in ("A", "B", "C")]
                                + [("greetings", "bob", {"name": "D"})])
    assert [o.result["seen"] for o in outcomes] == [["A"], ["A", "B"], ["A", "B", "C"], ["D"]]
    assert [o.source.offset for o in outcomes] == [0, 1, 2, 3]
    assert harness.state("Greeter", "ada")["seen"] == ["A", "B", "C"]
    assert harness.send("greetings", "ada", {"name": "nobody"}).error is not None
    assert harness.state("Greeter", "ada")["seen"][-1] == "nobody"  # a terminal failure keeps its state


def test_a_transient_failure_is_retried_and_a_bug_ends_in_the_dlq() -> None:
    harness = Harness(app, retries=RetrySettings(max_attempts=3))
    flaky = harness.send("greetings", "ada", {"name": "flaky-1"})
    assert flaky.ok
    assert flaky.result["seen"] == ["flaky-1"]
    bug = harness.send("greetings", "ada", {"name": "bug"})
    assert bug.dead_lettered
    assert bug.dead_letter is not None
    assert bug.dead_letter.error_class == "RetriesExhausted"
    assert bug.reason == "retries exhausted after 3 attempts: ValueError: a bug"


def test_steps_are_deterministic_per_invocation() -> None:
    first = Harness(app).send("greetings", "ada", {"name": "Ada"}).result["stamp"]
    assert first == Harness(app).send("greetings", "ada", {"name": "Ada"}).result["stamp"]


def test_a_service_calls_an_object_and_a_key_runs_once() -> None:
    harness = Harness(app)
    harness.send("greetings", "Ada", {"name": "Ada"})
    assert harness.send("pings", "p1", {"name": "Ada"}).result == "pong Ada (1)"
    again = harness.send("pings", "p1", {"name": "Zed"})  # the same key: the first outcome (idempotency key)
    assert again.result == "pong Ada (1)"
    assert again.source.offset == 1
    assert "idempotency key" in (harness.send("pings", None, {"name": "Ada"}).reason or "")


def test_a_workflow_runs_once_per_key() -> None:
    harness = Harness(app)
    before = harness.clock
    assert harness.send("bookings", "trip-1", {"trip": "Rome"}).result == "booked Rome"
    assert harness.clock == before + 3600
    second = harness.send("bookings", "trip-1", {"trip": "Oslo"})
    assert second.error is not None
    assert second.error.code == 409
    assert "runs once per key" in second.error.message


def test_what_the_harness_cannot_do_is_said() -> None:
    lonely = App("lonely")

    @lonely.object("waits", key="id")
    async def wait(ctx: restate.ObjectContext, greeting: Greeting) -> None:
        ctx.awakeable()

    with pytest.raises(HarnessError, match=r"ctx.awakeable is not in switchyard.testing's harness"):
        Harness(lonely).send("waits", "a", {"name": "x"})
    with pytest.raises(KeyError, match="unknown input topic 'nope'"):
        Harness(app).send("nope", "a", {})
