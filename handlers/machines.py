"""MachineOperator: the stateful actor, a machine's UP/DOWN state machine, fed by `machine-commands`.

One virtual object per machineId. Restate runs one exclusive handler per key at a time, so
one transition per machine is in progress and further commands queue behind it; machines
run in parallel. A transition (DOWN->UP or UP->DOWN) is a fragile operation that crashes
now and then, then a durable sleep of `transition_duration`.

The crash is a `ctx.run` step that raises: Restate retries the step (the invocation
resumes from its journal) until it passes. Which attempt crashes is decided by
`crashes()`, a hash of (crash_seed, machine, transition number, attempt), not by
`ctx.random()`: that one is seeded by the invocation id and would give every retry the same
answer, so a crash decided by it would crash forever.

State: `status` ("UP"/"DOWN", the seed's key) and `transitions` (the latest finished
transitions with their begin/end times and attempts).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Literal

import restate
from restate.logging import RestateLoggingFilter

from handlers.access import QUERY, public
from handlers.settings import MachineSettings
from schemas.catalogue import topic
from schemas.machines import MachineCommand, MachineResult, MachineState, MachineStatus, Transition
from switchyard.core.serde import TypedSerde
from switchyard.core.sink import SinkRuntime, sink_handler

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())
TOPIC = topic("machine-commands")
STATUS = "status"
TRANSITIONS = "transitions"
HISTORY = 20  # finished transitions kept per machine
TRANSITION_LIST: TypedSerde[list[Transition]] = TypedSerde(list[Transition])
STATUS_SERDE: TypedSerde[MachineStatus] = TypedSerde(MachineStatus)
Action = Literal["setUp", "tearDown"]
TARGET: dict[Action, MachineStatus] = {"setUp": "UP", "tearDown": "DOWN"}


# --- decisions (plain functions, unit-tested) -------------------------------------------

def refusal(machine: str, status: MachineStatus, target: MachineStatus) -> str | None:
    """Why a command changes nothing (the seed's answers), or None if it transitions."""
    if target == "UP" and status == "UP":
        return f"{machine} is already running"
    if target == "DOWN" and status != "UP":
        return f"{machine} is not up, cannot tear down"
    return None


def done_message(machine: str, target: MachineStatus) -> str:
    return f"{machine} is now running" if target == "UP" else f"{machine} is now down"


def crashes(seed: int, machine: str, number: int, attempt: int, probability: float) -> bool:
    """Whether attempt `attempt` of the machine's transition `number` crashes."""
    digest = hashlib.sha256(f"{seed}/{machine}/{number}/{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < probability


def attempts_needed(settings: MachineSettings, machine: str, number: int) -> int:
    """The attempt that first passes (what a test foresees for a seeded crash)."""
    attempt = 1
    while crashes(settings.crash_seed, machine, number, attempt, settings.crash_probability):
        attempt += 1
    return attempt


def with_transition(history: list[Transition], done: Transition) -> list[Transition]:
    return [*history, done][-HISTORY:]


def next_number(history: list[Transition]) -> int:
    return history[-1].number + 1 if history else 1


# --- the fragile operation --------------------------------------------------------------

class MachineOperations:
    """Brings machines up and down; the operation crashes as `crashes()` decides.

    It counts attempts per transition in this process: the count names the attempt for
    `crashes()` and is returned (and journaled) when the operation passes. A restarted
    process counts from 1 again, which replays the same draws and still ends.
    """

    def __init__(self, settings: MachineSettings) -> None:
        self.settings = settings
        self._attempts: dict[tuple[str, int], int] = {}

    async def operate(self, machine: str, number: int, target: MachineStatus) -> int:
        slot = (machine, number)
        attempt = self._attempts.get(slot, 0) + 1
        self._attempts[slot] = attempt
        s = self.settings
        if crashes(s.crash_seed, machine, number, attempt, s.crash_probability):
            log.error("A failure happened!")
            if attempt >= s.max_attempts:  # the last one: Restate fails the step for good
                del self._attempts[slot]
            raise RuntimeError(f"A failure happened! ({machine} transition {number} to {target}, attempt {attempt})")
        del self._attempts[slot]
        return attempt


async def status_of(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> MachineStatus:
    return await ctx.get(STATUS, serde=STATUS_SERDE) or "DOWN"


async def history_of(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> list[Transition]:
    return await ctx.get(TRANSITIONS, serde=TRANSITION_LIST) or []


async def transition(ctx: restate.ObjectContext, ops: MachineOperations, action: Action) -> MachineResult:
    """setUp or tearDown: the one place both HTTP and Kafka commands go."""
    machine, target = ctx.key(), TARGET[action]
    status = await status_of(ctx)
    why_not = refusal(machine, status, target)
    if why_not is not None:
        log.info("%s: nothing to do", why_not)
        return MachineResult(machineId=machine, status=status, changed=False, message=why_not)

    history = await history_of(ctx)
    number = next_number(history)
    began = await ctx.time()
    log.info("%s beginning transition to %s", machine, "UP" if target == "UP" else "down")
    # Retried by Restate on a crash: max_attempts turns a machine that never comes up
    # into a failed command instead of an invocation retried forever.
    options: restate.RunOptions[int] = restate.RunOptions(max_attempts=ops.settings.max_attempts)
    attempts = await ctx.run_typed(f"{action} operation", ops.operate, options,
                                   machine=machine, number=number, target=target)
    await ctx.sleep(ops.settings.transition_duration, name=f"{action} in progress")
    ended = await ctx.time()
    done = Transition(number=number, to=target, began=began, ended=ended, attempts=attempts)
    ctx.set(STATUS, target, serde=STATUS_SERDE)
    ctx.set(TRANSITIONS, with_transition(history, done), serde=TRANSITION_LIST)
    message = done_message(machine, target)
    log.info("%s", message)
    return MachineResult(machineId=machine, status=target, changed=True, message=message)


def build(settings: MachineSettings, runtime: SinkRuntime) -> restate.VirtualObject:
    operator = restate.VirtualObject("MachineOperator")
    ops = MachineOperations(settings)

    @operator.handler("setUp", **public("contract HTTP path: brings the machine up"))
    async def set_up(ctx: restate.ObjectContext) -> MachineResult:
        return await transition(ctx, ops, "setUp")

    @operator.handler("tearDown", **public("contract HTTP path: takes the machine down"))
    async def tear_down(ctx: restate.ObjectContext) -> MachineResult:
        return await transition(ctx, ops, "tearDown")

    @sink_handler(operator.handler, TOPIC, runtime,
                  **public(f"Kafka sink of {TOPIC.name} (what setUp/tearDown do)"))
    async def handle_command(ctx: restate.ObjectContext, command: MachineCommand) -> MachineResult:
        return await transition(ctx, ops, command.action)

    @operator.handler("getStatus", kind="shared", **QUERY)
    async def get_status(ctx: restate.ObjectSharedContext) -> MachineState:
        return MachineState(machineId=ctx.key(), status=await status_of(ctx), transitions=await history_of(ctx))

    return operator
