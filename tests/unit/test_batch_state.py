"""A batch's state (switchyard/core/batch_state.py) against the SDK's own state calls.

Generated sequences of reads and writes of one key's state, as the records of a batch
make them: through `BatchState` and `flush`, every read answers what it would have
answered through the invocation's context, the stored state afterwards is the same, and
each entry is read at most once and written at most once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
import restate
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from restate.serde import BytesSerde, DefaultSerde, Serde

from switchyard.core.batch_state import BatchContext, BatchState


class Total(BaseModel):
    total: int
    count: int


_DEFAULT: DefaultSerde[Any] = DefaultSerde()


@dataclass
class StoredState:
    """One object's stored state with the SDK's state calls (values serialized as the SDK
    does, with DefaultSerde unless told), counting the journal entries each call makes."""

    values: dict[str, bytes] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    entries: int = 0

    async def get(self, name: str, serde: Serde[Any] = _DEFAULT, type_hint: Any = None,
                  entry_name: str | None = None) -> Any:
        self.entries += 1
        self.reads[name] = self.reads.get(name, 0) + 1
        raw = self.values.get(name)
        if raw is None:
            return None
        if isinstance(serde, DefaultSerde):
            serde = serde.with_maybe_type(type_hint)
        return serde.deserialize(raw)

    def set(self, name: str, value: Any, serde: Serde[Any] = _DEFAULT, entry_name: str | None = None) -> None:
        self.entries += 1
        self.writes[name] = self.writes.get(name, 0) + 1
        if isinstance(serde, DefaultSerde):
            serde = serde.with_maybe_type(type(value))
        self.values[name] = bytes(serde.serialize(value))

    def clear(self, name: str, entry_name: str | None = None) -> None:
        self.entries += 1
        self.writes[name] = self.writes.get(name, 0) + 1
        self.values.pop(name, None)

    def clear_all(self, entry_name: str | None = None) -> None:
        self.entries += 1
        self.values.clear()

    async def state_keys(self, entry_name: str | None = None) -> list[str]:
        self.entries += 1
        return sorted(self.values)

    def key(self) -> str:
        return "the-key"


NAMES = st.sampled_from(["counter", "kafka-applied", "history"])
VALUES = st.one_of(
    st.integers(-5, 5), st.text(max_size=5), st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
    st.builds(Total, total=st.integers(-9, 9), count=st.integers(0, 9)),
)
OPS = st.lists(st.one_of(
    st.tuples(st.just("get"), NAMES, st.sampled_from(["plain", "model", "bytes"])),
    st.tuples(st.just("set"), NAMES, VALUES),
    st.tuples(st.just("clear"), NAMES),
    st.tuples(st.just("clear_all")),
    st.tuples(st.just("state_keys")),
), max_size=25)
STORED = st.dictionaries(NAMES, VALUES, max_size=3)


async def apply(ctx: Any, ops: list[tuple[Any, ...]]) -> list[Any]:
    """The ops through ``ctx``; what each read answered (a model read of a value that is
    not one answers the error's type, as the SDK's own deserializer would raise)."""
    answers: list[Any] = []
    for op in ops:
        if op[0] == "get":
            _, name, how = op
            try:
                if how == "model":
                    answers.append(await ctx.get(name, type_hint=Total))
                elif how == "bytes":
                    answers.append(await ctx.get(name, serde=BytesSerde()))
                else:
                    answers.append(await ctx.get(name))
            except Exception as exc:  # noqa: BLE001 - the same failure either way
                answers.append(type(exc).__name__)
        elif op[0] == "set":
            ctx.set(op[1], op[2])
        elif op[0] == "clear":
            ctx.clear(op[1])
        elif op[0] == "clear_all":
            ctx.clear_all()
        else:
            answers.append(await ctx.state_keys())
    return answers


def stored_with(values: dict[str, Any]) -> StoredState:
    state = StoredState()
    for name, value in values.items():
        state.set(name, value)
    state.entries, state.writes = 0, {}
    return state


@settings(max_examples=300, deadline=None)
@given(stored=STORED, ops=OPS)
def test_a_batch_reads_and_stores_what_the_context_would(stored: dict[str, Any], ops: list[tuple[Any, ...]]) -> None:
    direct = stored_with(stored)
    expected = asyncio.run(apply(direct, ops))

    behind = stored_with(stored)
    state = BatchState(behind)  # type: ignore[arg-type]  # the SDK's state calls, stored in memory
    answers = asyncio.run(apply(BatchContext(behind, state), ops))  # type: ignore[arg-type]
    state.flush()

    assert answers == expected
    assert behind.values == direct.values
    assert all(n <= 1 for n in behind.reads.values()), behind.reads
    assert all(n <= 1 for n in behind.writes.values()), behind.writes
    assert behind.entries <= direct.entries + 1  # a clear-all is written once, before the sets


def test_a_value_read_and_changed_in_place_is_not_stored_unless_set() -> None:
    behind = stored_with({"history": [1, 2]})
    state = BatchState(behind)  # type: ignore[arg-type]

    async def business() -> None:
        history = await state.get("history", type_hint=list)
        assert history is not None
        history.append(3)
        assert await state.get("history", type_hint=list) == [1, 2]

    asyncio.run(business())
    state.flush()
    assert behind.writes == {}


def test_a_value_that_cannot_be_serialized_fails_where_it_is_set() -> None:
    behind = StoredState()
    state = BatchState(behind)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        state.set("counter", object())
    state.flush()
    assert behind.writes == {}


def test_everything_else_is_the_invocations_own_after_the_state_so_far_is_written() -> None:
    """A step, a call or a send leaves the handler: the state set before it is written
    first, so an invocation stopped after it (a kill) kept both, as unbatched."""
    behind = StoredState()
    effects: list[dict[str, bytes]] = []
    behind.run = lambda *_: effects.append(dict(behind.values))  # type: ignore[attr-defined]
    ctx = BatchContext(behind, BatchState(behind))  # type: ignore[arg-type]
    ctx.set("counter", 1)
    assert ctx.key() == "the-key"
    assert behind.writes == {}  # the key is no effect
    ctx.run("charge")
    assert effects == [{"counter": b"1"}]
    ctx.set("counter", 2)
    ctx.run("charge again")
    assert effects[-1] == {"counter": b"2"}
    assert isinstance(ctx, restate.ObjectContext)


def test_a_read_answers_the_value_when_it_was_called() -> None:
    """As with the SDK, whose reads are journaled when called: a set before the await,
    or in a concurrent task, does not change what an earlier read answers."""

    async def scenario(ctx: Any) -> list[Any]:
        early = ctx.get("x", type_hint=int)
        ctx.set("x", 2)
        first = await early

        async def reader() -> Any:
            return await ctx.get("y", type_hint=int)

        async def writer() -> Any:
            ctx.set("y", 20)
            return await ctx.get("y", type_hint=int)

        both = await asyncio.gather(reader(), writer())
        return [first, *both, await ctx.get("x", type_hint=int), await ctx.get("y", type_hint=int)]

    behind = stored_with({"x": 1, "y": 10})
    state = BatchState(behind)  # type: ignore[arg-type]
    answers = asyncio.run(scenario(BatchContext(behind, state)))  # type: ignore[arg-type]
    state.flush()
    assert answers == [1, 10, 20, 2, 20]
    assert behind.values == {"x": b"2", "y": b"20"}
