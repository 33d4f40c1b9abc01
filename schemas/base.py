"""The base of every payload model: strict, closed, immutable."""

from pydantic import BaseModel, ConfigDict


def pad_to(text: str, size: int) -> str:
    """``text`` padded with "x" to ``size`` characters (sample records of a given size)."""
    return text + "x" * max(0, size - len(text))


class Payload(BaseModel):
    """A JSON object at a boundary (Kafka value, HTTP body, state, result).

    Unknown fields are refused and types are not coerced, so a malformed record is
    rejected with a reason naming the field instead of being half understood.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
