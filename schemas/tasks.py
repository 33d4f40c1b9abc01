"""task-queue: the (delayed) task queue."""

from typing import Any

from pydantic import Field

from schemas.base import Payload


class TaskRequest(Payload):
    taskName: str = Field(min_length=1, max_length=200)
    payload: Any = None
    delayMs: int | None = Field(default=None, ge=0)
