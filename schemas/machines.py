"""machine-commands: the stateful actor (a machine's UP/DOWN state machine)."""

from typing import Literal, Self

from pydantic import Field

from schemas.base import Payload

MachineStatus = Literal["UP", "DOWN"]


class MachineCommand(Payload):
    action: Literal["setUp", "tearDown"]

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(action="setUp" if n % 2 == 0 else "tearDown")


class Transition(Payload):
    """One finished transition, kept in the machine's state `transitions` (newest last):
    when it began and ended (journaled clock, epoch seconds) and how many attempts the
    fragile operation took in the service process that finished it."""

    number: int = Field(ge=1)  # the machine's n-th transition
    to: MachineStatus
    began: float
    ended: float
    attempts: int = Field(ge=1)


class MachineResult(Payload):
    """What setUp, tearDown and handleCommand answer; `changed` is false when the machine
    was already where the command would take it, and `message` says so (the seed's words)."""

    machineId: str
    status: MachineStatus
    changed: bool
    message: str


class MachineState(Payload):
    """What `MachineOperator/{id}/getStatus` answers."""

    machineId: str
    status: MachineStatus
    transitions: list[Transition] = Field(default_factory=list)
