"""machine-commands: the stateful actor (a machine's UP/DOWN state machine)."""

from typing import Literal

from schemas.base import Payload

MachineStatus = Literal["UP", "DOWN"]


class MachineCommand(Payload):
    action: Literal["setUp", "tearDown"]
