"""A Restate serde for any pydantic-describable type (lists of models, unions, ...)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from restate.serde import DefaultSerde, Serde

T = TypeVar("T")


class TypedSerde(Serde[T], Generic[T]):
    def __init__(self, tp: Any) -> None:
        self._adapter: TypeAdapter[T] = TypeAdapter(tp)

    def deserialize(self, buf: bytes) -> T | None:
        return self._adapter.validate_json(buf) if buf else None

    def serialize(self, obj: T | None) -> bytes:
        return b"" if obj is None else self._adapter.dump_json(obj)


def typed(serde: Serde[T], type_hint: Any) -> Serde[T]:
    """``serde`` as the SDK's state calls use it: its default serde picks its encoding
    from the value's type (a pydantic model, or JSON), any other serde is used as given."""
    return serde.with_maybe_type(type_hint) if isinstance(serde, DefaultSerde) else serde
