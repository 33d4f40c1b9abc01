"""fanout-tasks: fan-out/fan-in over comma-separated subtasks."""

from typing import Literal, Self

from pydantic import Field, field_validator

from schemas.base import Payload

# One durable call per subtask: a bound keeps one record from flooding the service.
MAX_SUBTASKS = 100


def split_subtasks(description: str) -> list[str]:
    """The subtasks a description names, in input order: comma-separated, trimmed."""
    return [part.strip() for part in description.split(",")]


class FanOutRequest(Payload):
    description: str = Field(min_length=1, max_length=10_000)

    @field_validator("description")
    @classmethod
    def names_subtasks(cls, description: str) -> str:
        parts = split_subtasks(description)
        if len(parts) > MAX_SUBTASKS:
            raise ValueError(f"{len(parts)} subtasks; at most {MAX_SUBTASKS}")
        empty = [n for n, part in enumerate(parts, 1) if not part]
        if empty:
            raise ValueError(f"subtask {empty[0]} of {len(parts)} is empty (expected e.g. 'a,b,c')")
        return description

    def subtasks(self) -> list[str]:
        return split_subtasks(self.description)

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(description="a,b,c")


class Subtask(Payload):
    """The body of `FanOutWorker/runSubtask`: one subtask of a job."""

    task: str = Field(min_length=1, max_length=10_000)


class SubtaskResult(Payload):
    task: str
    result: Literal["DONE"]
    durationMs: int  # how long the subtask worked (drawn through its context)


class FanOutResult(Payload):
    """What `FanOutWorker/run` answers: the seed's aggregate, and each subtask's result."""

    aggregate: str  # "a: DONE, b: DONE, c: DONE", in input order
    subtasks: list[SubtaskResult]
