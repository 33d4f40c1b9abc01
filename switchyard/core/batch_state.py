"""One key's state through a batch of records: read once, written once.

The key gate puts a key's queued records in one invocation (a RoutedBatch). Each record
reads and writes the object's state (its applied mark, and whatever the business keeps),
and through the SDK every read is an awaited journal entry and every write another one
that restate-server logs and applies: per record, four entries for the benchmark's
counter, most of the service's and restate-server's work per batched record. Within one
invocation no other writer can change this key's state (the object is locked), so the
batch keeps the state it has read or written here and writes each changed entry once.

It writes them before anything else leaves the handler: before any other context call
(a step, a call, a send, a timer: `BatchContext`), before a dead letter, and at the end.
So whatever point an invocation stops at (a retry, a kill), the state written and the
effects done match a point the unbatched handler could have stopped at. Shared handlers
(queries) see a batch's state changes at those points rather than per `set`.

Values are held serialized: a `get` deserializes afresh (a business that changes the
object it read, without setting it, changes nothing, as with the SDK), and a `set`
serializes at once (a value that cannot be serialized fails where it is set). A `get`
answers the value at the time it is called, as the SDK's does.

Limits, inside a batch only: a state read is a plain awaitable, not an SDK future, so it
cannot go through `restate.gather`/`select` (await it, or use asyncio's); and code that
reaches the invocation's context other than through the handler's `ctx` argument
(`restate.extensions.current_context()`) bypasses the batch's state.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar, cast

import restate
from restate.serde import BytesSerde, DefaultSerde, Serde

from switchyard.core.serde import typed

T = TypeVar("T")
_RAW = BytesSerde()
_RAW_STATE = cast("Serde[bytes | None]", _RAW)  # a state value's bytes, None when absent
_DEFAULT: DefaultSerde[Any] = DefaultSerde()  # the SDK's own default, as its state calls take it
# Context calls that neither leave the handler nor touch state: no write needed first.
_INERT = frozenset({"key", "request"})


def _decoded(raw: bytes | None, serde: Serde[T], type_hint: type[T] | None) -> T | None:
    return None if raw is None else typed(serde, type_hint).deserialize(raw)


async def _ready(raw: bytes | None, serde: Serde[T], type_hint: type[T] | None) -> T | None:
    return _decoded(raw, serde, type_hint)


class BatchState:
    """The state of one object key, as one batched invocation reads and changes it."""

    def __init__(self, ctx: restate.ObjectContext) -> None:
        self._ctx = ctx
        self._values: dict[str, bytes | None] = {}  # name -> serialized value; None: absent
        self._changed: dict[str, bytes | None] = {}  # to write in flush; None: clear
        self._cleared_all = False

    def get(self, name: str, serde: Serde[T] = _DEFAULT, type_hint: type[T] | None = None,
            entry_name: str | None = None) -> Awaitable[T | None]:
        if name in self._values or self._cleared_all:
            return _ready(self._values.get(name), serde, type_hint)
        stored = self._ctx.get(name, serde=_RAW_STATE, entry_name=entry_name)  # journaled now, as the SDK does

        async def value() -> T | None:
            raw = await stored
            self._values.setdefault(name, raw)  # a set made meanwhile stays the current value
            return _decoded(raw, serde, type_hint)

        return value()

    def set(self, name: str, value: T, serde: Serde[T] = _DEFAULT, entry_name: str | None = None) -> None:
        raw = bytes(typed(serde, type(value)).serialize(value))
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
        """Write what the batch changed since the last flush: journal entries in a fixed
        order (clear-all first, then each changed entry by the order of its first change)."""
        if self._cleared_all:
            self._ctx.clear_all()
        for name, raw in self._changed.items():
            if raw is None:
                if not self._cleared_all:
                    self._ctx.clear(name)
            else:
                self._ctx.set(name, raw, serde=_RAW)
        self._changed = {}
        self._cleared_all = False  # written: entries not known here are read from the store again


class BatchContext:
    """The object context a batched record's business sees: its state through the batch's
    `BatchState`; anything else (steps, calls, sends, timers) the invocation's own, after
    the batch's state changes so far are written."""

    def __init__(self, ctx: restate.ObjectContext, state: BatchState) -> None:
        self._ctx = ctx
        self._state = state
        self.get = state.get
        self.set = state.set
        self.clear = state.clear
        self.clear_all = state.clear_all
        self.state_keys = state.state_keys

    def __getattr__(self, name: str) -> Any:
        if name not in _INERT:
            self._state.flush()
        return getattr(self._ctx, name)


# A handler that checks isinstance(ctx, restate.ObjectContext) sees the same in a batch.
restate.ObjectContext.register(BatchContext)
