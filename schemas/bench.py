"""bench-events: the benchmark's own per-key workload (a counter per key)."""

from pydantic import Field

from schemas.base import Payload


class BenchEvent(Payload):
    """One unit of work: add ``amount`` to the key's counter; ``pad`` sizes the record."""

    amount: int
    pad: str = Field(default="", max_length=1_000_000)


class BenchTotal(Payload):
    """What BenchCounter/add reports on bench-events-results: the key's new total."""

    total: int
    count: int


class StepsRequest(Payload):
    """The 3-step workflow's input (scenario 4 of the benchmark)."""

    value: int = 0


class StepsResult(Payload):
    steps: list[str]
    value: int
