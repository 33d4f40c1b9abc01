"""MachineOperator demo: the seed's concurrent curl commands (they queue per machine and
run one transition at a time, crashes retried), then commands through `machine-commands`,
an unknown action dead-lettered, and each machine's transitions."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from schemas.catalogue import topic

TOPIC = topic("machine-commands")


def seed_commands(env: DemoEnv, a: str, b: str) -> None:
    """The seed's five curl commands, sent together without waiting on each other."""
    commands = [(a, "setUp"), (a, "tearDown"), (b, "setUp"), (b, "setUp"), (b, "tearDown")]
    for machine, action in commands:
        env.say(f"  POST /MachineOperator/{machine}/{action}  &")
    with ThreadPoolExecutor(len(commands)) as pool:
        answers = list(pool.map(lambda c: env.http.post(f"/MachineOperator/{c[0]}/{c[1]}"), commands))
    for (machine, action), response in zip(commands, answers, strict=True):
        env.say(f"  {machine}/{action} -> {response.status_code} {response.text}")


def show_machine(env: DemoEnv, machine: str) -> None:
    state = env.call(f"/MachineOperator/{machine}/getStatus")
    env.say(f"  {machine} is {state['status']}; transitions:")
    for t in state["transitions"]:
        retried = f", {t['attempts'] - 1} crash(es) retried" if t["attempts"] > 1 else ""
        env.say(f"    #{t['number']} to {t['to']} in {t['ended'] - t['began']:.2f}s{retried}")


def run(env: DemoEnv) -> None:
    env.say("MachineOperator: a state machine per machine, one transition at a time, crashes retried")
    run_id = uuid.uuid4().hex[:6]  # fresh machines, so the scene can be run again
    a, b, c = (f"{name}-{run_id}" for name in ("a", "b", "c"))
    seed_commands(env, a, b)
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [
            *((c, json.dumps({"action": action}).encode()) for action in ("setUp", "setUp", "tearDown")),
            (c, b'{"action": "reboot"}'),
        ])
        records = env.wait(reader, {TOPIC.results: 3, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    for machine in (a, b, c):
        show_machine(env, machine)
