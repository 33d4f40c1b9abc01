"""One key's state through a batch of records: read once, written once.

The key gate puts a key's queued records in one invocation (a RoutedBatch). Each record
reads and writes the object's state (its applied mark, and whatever the business keeps),
and through the SDK every read is an awaited journal entry and every write another one
that restate-server logs and applies: per record, four entries for the benchmark's
counter, most of the service's and restate-server's work per batched record. In one
invocation, nobody else can see or change this key's state in between (the object is
locked, shared handlers read the stored value), so the batch keeps the state it has read
or written here and writes each changed entry once, in `flush`: the stored state after
the batch, and the journal's determinism on replay, are the same.

Values are held serialized: a `get` deserializes afresh (a business that changes the
object it read, without setting it, changes nothing, as with the SDK), and a `set`
serializes at once (a value that cannot be serialized fails where it is set).
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import restate
from restate.serde import BytesSerde, DefaultSerde, Serde

T = TypeVar("T")
_RAW = BytesSerde()
_RAW_STATE = cast("Serde[bytes | None]", _RAW)  # a state value's bytes, None when absent
_DEFAULT: DefaultSerde[Any] = DefaultSerde()  # the SDK's own default, as its state calls take it


class BatchState:
    """The state of one object key, as one batched invocation reads and changes it."""

    def __init__(self, ctx: restate.ObjectContext) -> None:
        self._ctx = ctx
        self._values: dict[str, bytes | None] = {}  # name -> serialized value; None: absent
        self._changed: dict[str, bytes | None] = {}  # to write in flush; None: clear
        self._cleared_all = False

    async def get(self, name: str, serde: Serde[T] = _DEFAULT, type_hint: type[T] | None = None,
                  entry_name: str | None = None) -> T | None:
        if name not in self._values:
            self._values[name] = None if self._cleared_all else await self._ctx.get(
                name, serde=_RAW_STATE, entry_name=entry_name)
        raw = self._values[name]
        if raw is None:
            return None
        if isinstance(serde, DefaultSerde):
            serde = serde.with_maybe_type(type_hint)
        return serde.deserialize(raw)

    def set(self, name: str, value: T, serde: Serde[T] = _DEFAULT, entry_name: str | None = None) -> None:
        if isinstance(serde, DefaultSerde):
            serde = serde.with_maybe_type(type(value))
        raw = bytes(serde.serialize(value))
        self._values[name] = self._changed[name] = raw

    def clear(self, name: str, entry_name: str | None = None) -> None:
        self._values[name] = self._changed[name] = None

    def clear_all(self, entry_name: str | None = None) -> None:
        self._values = dict.fromkeys(self._values)
        self._changed = {}
        self._cleared_all = True

    async def state_keys(self, entry_name: str | None = None) -> list[str]:
        stored = set() if self._cleared_all else set(await self._ctx.state_keys(entry_name=entry_name))
        present = {name for name, raw in self._values.items() if raw is not None}
        absent = {name for name, raw in self._values.items() if raw is None}
        return sorted((stored - absent) | present)

    def flush(self) -> None:
        """Write what the batch changed: journal entries in a fixed order (clear-all first,
        then each changed entry by the order of its first change)."""
        if self._cleared_all:
            self._ctx.clear_all()
        for name, raw in self._changed.items():
            if raw is None:
                if not self._cleared_all:
                    self._ctx.clear(name)
            else:
                self._ctx.set(name, raw, serde=_RAW)
        self._changed = {}
        self._cleared_all = False


class BatchContext:
    """The object context a batched record's business sees: its state through the batch's
    `BatchState`, everything else (steps, calls, timers, the key) the invocation's own."""

    def __init__(self, ctx: restate.ObjectContext, state: BatchState) -> None:
        self._ctx = ctx
        self.get = state.get
        self.set = state.set
        self.clear = state.clear
        self.clear_all = state.clear_all
        self.state_keys = state.state_keys

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)
