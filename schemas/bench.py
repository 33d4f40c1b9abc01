"""bench-events: the benchmark's own per-key workload (a counter per key)."""

from typing import Self

from pydantic import Field

from schemas.base import Payload, pad_to


class BenchEvent(Payload):
    """One unit of work: add ``amount`` to the key's counter; ``pad`` sizes the record."""

    amount: int
    pad: str = Field(default="", max_length=1_000_000)

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        """``size`` bytes of JSON: ``{"amount":1,"pad":""}`` is 21."""
        return cls(amount=1, pad=pad_to("", size - 21))


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
