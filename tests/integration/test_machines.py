"""MachineOperator (stateful actor) through Kafka and HTTP, against the real stack.

The test stack shortens transitions to 0.2 s and crashes 30% of the attempts; which
attempts crash is seeded (handlers.machines.crashes), so a test picks machines whose
first transition crashes a known number of times.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from handlers.machines import attempts_needed
from handlers.settings import ExampleStackSettings as Settings
from producers.demos import machines as demo
from schemas.catalogue import topic
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver, Outcome

TOPIC = topic("machine-commands")
SET_UP, TEAR_DOWN = json.dumps({"action": "setUp"}), json.dumps({"action": "tearDown"})


def status(ingress: httpx.Client, machine: str) -> dict[str, Any]:
    r = ingress.post(f"/MachineOperator/{machine}/getStatus")
    assert r.status_code == 200, r.text
    return dict(r.json())


def command(ingress: httpx.Client, machine: str, action: str) -> dict[str, Any]:
    r = ingress.post(f"/MachineOperator/{machine}/{action}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def answer(outcome: Outcome) -> dict[str, Any]:
    assert outcome.ok, (outcome.error, outcome.record.header("error.reason"))
    assert isinstance(outcome.result, dict)
    return outcome.result


def curl(url: str) -> dict[str, Any]:
    done = subprocess.run(["curl", "-sS", "-X", "POST", url], capture_output=True, timeout=60, check=True)
    return dict(json.loads(done.stdout))


def assert_never_overlapping(transitions: list[dict[str, Any]], settings: Settings) -> None:
    """One transition at a time: each ends before the next begins, they alternate UP/DOWN,
    and each took at least the configured duration."""
    assert [t["number"] for t in transitions] == list(range(1, len(transitions) + 1))
    assert [t["to"] for t in transitions] == ["UP", "DOWN"] * (len(transitions) // 2) + ["UP"] * (len(transitions) % 2)
    duration = settings.machines.transition_duration.total_seconds()
    for t in transitions:
        assert t["ended"] - t["began"] >= duration * 0.9, t
    for before, after in itertools.pairwise(transitions):
        assert before["ended"] <= after["began"], (before, after)


def test_the_seed_curl_commands_and_their_answers(settings: Settings, unique: str) -> None:
    base = f"{settings.restate.ingress_url}/MachineOperator/{unique}"
    assert curl(f"{base}/getStatus") == {"machineId": unique, "status": "DOWN", "transitions": []}
    assert curl(f"{base}/tearDown") == {"machineId": unique, "status": "DOWN", "changed": False,
                                        "message": f"{unique} is not up, cannot tear down"}
    assert curl(f"{base}/setUp") == {"machineId": unique, "status": "UP", "changed": True,
                                     "message": f"{unique} is now running"}
    assert curl(f"{base}/setUp") == {"machineId": unique, "status": "UP", "changed": False,
                                     "message": f"{unique} is already running"}
    assert curl(f"{base}/tearDown")["message"] == f"{unique} is now down"
    after = curl(f"{base}/getStatus")
    assert after["status"] == "DOWN"
    assert [t["to"] for t in after["transitions"]] == ["UP", "DOWN"]


def test_concurrent_set_ups_of_one_machine_transition_once(ingress: httpx.Client, unique: str) -> None:
    machine = f"{unique}-m"
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: command(ingress, machine, "setUp"), range(6)))
    assert sum(a["changed"] for a in answers) == 1
    assert sorted(a["message"] for a in answers) == sorted(
        [f"{machine} is now running"] + [f"{machine} is already running"] * 5)
    assert len(status(ingress, machine)["transitions"]) == 1


def test_concurrent_commands_through_kafka_and_http_never_overlap(
    kafka: KafkaDriver, ingress: httpx.Client, settings: Settings, unique: str
) -> None:
    machine = f"{unique}-m"
    records = [(machine, SET_UP if n % 2 == 0 else TEAR_DOWN) for n in range(6)]
    with ThreadPoolExecutor(9) as pool:
        over_kafka = pool.submit(kafka.send, TOPIC, records, 90.0)
        over_http = list(pool.map(lambda n: command(ingress, machine, "setUp" if n % 2 else "tearDown"), range(8)))
        outcomes = over_kafka.result()
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    answers = [o.result for o in outcomes] + over_http
    state = status(ingress, machine)
    transitions = state["transitions"]
    changed = [a for a in answers if isinstance(a, dict) and a["changed"]]
    # Between two Kafka records (setUp, tearDown, ...) the machine went from one state to
    # the other, whoever moved it: at least one transition per record.
    assert len(changed) == len(transitions) >= len(records)
    assert_never_overlapping(transitions, settings)
    assert state["status"] == transitions[-1]["to"]


def test_kafka_commands_apply_in_order(kafka: KafkaDriver, ingress: httpx.Client, unique: str) -> None:
    machine = f"{unique}-m"
    actions = [SET_UP, SET_UP, TEAR_DOWN, TEAR_DOWN, SET_UP]
    outcomes = kafka.send(TOPIC, [(machine, a) for a in actions])
    results = [answer(o) for o in outcomes]
    assert [r["changed"] for r in results] == [True, False, True, False, True]
    assert [r["message"] for r in results] == [
        f"{machine} is now running", f"{machine} is already running", f"{machine} is now down",
        f"{machine} is not up, cannot tear down", f"{machine} is now running"]
    assert status(ingress, machine)["status"] == "UP"


def test_a_crash_is_retried_until_the_transition_passes(
    kafka: KafkaDriver, ingress: httpx.Client, settings: Settings, unique: str
) -> None:
    """Machines whose first transition crashes once, twice (seeded), and not at all."""
    picked: dict[int, str] = {}
    for machine in (f"{unique}-{n}" for n in range(10_000)):
        picked.setdefault(attempts_needed(settings.machines, machine, 1), machine)
        if all(n in picked for n in (1, 2, 3)):
            break
    via_kafka, via_http = picked[2], picked[3]
    [outcome] = kafka.send(TOPIC, [(via_kafka, SET_UP)])
    assert outcome.ok
    assert answer(outcome)["changed"]
    assert command(ingress, via_http, "setUp")["changed"]
    assert command(ingress, picked[1], "setUp")["changed"]

    log = (settings.stack.home / "run" / "service.log").read_text(errors="replace").splitlines()
    for needed in (1, 2, 3):  # picked may also hold a machine needing more, never commanded
        machine = picked[needed]
        [transition] = status(ingress, machine)["transitions"]
        assert transition["attempts"] == needed, machine
        crashed = [line for line in log if f"[MachineOperator/{machine}/" in line
                   and "handlers.machines - A failure happened!" in line]
        assert len(crashed) == needed - 1, (machine, crashed)


def test_unknown_actions_and_bad_records_go_to_the_dlq_and_change_nothing(
    kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    machine = f"{unique}-m"
    bad = [json.dumps({"action": "reboot"}).encode(), json.dumps({"action": "setUp", "force": True}).encode(),
           b"setUp", json.dumps({}).encode()]
    outcomes = kafka.send(TOPIC, [*((machine, v) for v in bad), (machine, TEAR_DOWN)])
    assert [o.dead_lettered for o in outcomes] == [True, True, True, True, False]
    assert [o.record.value for o in outcomes[:4]] == bad
    assert "action" in (outcomes[0].record.header("error.reason") or "")
    assert answer(outcomes[4])["changed"] is False
    assert status(ingress, machine) == {"machineId": machine, "status": "DOWN", "transitions": []}


def test_a_bad_http_command_gets_400_naming_the_field(ingress: httpx.Client, unique: str) -> None:
    r = ingress.post(f"/MachineOperator/{unique}/handleCommand", json={"action": "reboot"})
    assert r.status_code == 400
    assert "action" in r.json()["message"]
    assert status(ingress, unique)["transitions"] == []


def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert "is now running" in text
    assert "is already running" in text or "is not up, cannot tear down" in text
    assert "machine-commands-dlq" in text
