"""task-queue: the (delayed) task queue."""

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import Payload, pad_to

# Thirty days: a longer delay belongs in a calendar, not in a queue record (and a bound
# keeps an absurd value from failing the timer instead of the schema).
MAX_DELAY_MS = 30 * 24 * 60 * 60 * 1000


class TaskRequest(Payload):
    taskName: str = Field(min_length=1, max_length=200)
    payload: Any  # required (the contract's shape), though it may be null
    delayMs: int | None = Field(default=None, ge=0, le=MAX_DELAY_MS)

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(taskName=f"task{n}", payload=pad_to("", size - 50))


class TaskExecution(Payload):
    """One run of a task, as the TaskLedger records it. Times are the service's wall
    clock in epoch milliseconds, taken through the context (journaled)."""

    taskName: str
    invocationId: str
    scheduledAt: int  # when the invocation began, before any delay of its own
    startedAt: int
    finishedAt: int
    output: str


class TaskLedgerView(Payload):
    """`POST /TaskLedger/{invocationId}/get`: every recorded run of a task's invocation."""

    invocationId: str
    executions: list[TaskExecution] = Field(default_factory=list)


class TaskOutcome(Payload):
    """What `AsyncTaskWorker/runTask` answers, and `task-queue-results` carries, once the
    task has run."""

    status: Literal["DONE"]
    taskName: str
    invocationId: str  # the task's identity: Restate derives it from the idempotency key
    scheduledAt: int
    startedAt: int
    finishedAt: int
    output: str


class SubmittedTask(BaseModel):
    """What Restate's ingress answers a `/send` (and the submitter prints). Restate's
    answer, not ours: fields it may add later are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    invocationId: str
    status: str  # "Accepted", or "PreviouslyAccepted" for a key already submitted
    executionTime: str | None = None  # when a delayed send is due
