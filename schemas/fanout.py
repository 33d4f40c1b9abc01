"""fanout-tasks: fan-out/fan-in over comma-separated subtasks."""

from pydantic import Field

from schemas.base import Payload


class FanOutRequest(Payload):
    description: str = Field(min_length=1, max_length=10_000)
