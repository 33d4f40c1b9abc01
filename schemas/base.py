"""The base of every payload model: strict, closed, immutable."""

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    """A JSON object at a boundary (Kafka value, HTTP body, state, result).

    Unknown fields are refused and types are not coerced, so a malformed record is
    rejected with a reason naming the field instead of being half understood.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
