"""docs/upgrades.md's examples run as the page says (issue 25): each state, payload and call
example asserts its own claim; each handler example builds into a Restate app in
`replay-v1`'s module and names what its replay does; the page's table lists exactly the
examples on it. tests/integration/test_upgrades_page.py runs the handlers' replays against
restate-server."""

from __future__ import annotations

from typing import Any

import pytest
import restate

from tests.upgrades_page import BASE, MISMATCH, Example, examples, module, table

EXAMPLES = examples()
STANDALONE = [e for e in EXAMPLES.values() if not e.handler_block and e.name != BASE]
HANDLERS = [e for e in EXAMPLES.values() if e.handler_block or e.name == BASE]


def run(example: Example) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"upgrades_page_{example.name.replace('-', '_')}"}
    exec(compile(module(example, EXAMPLES), f"<docs/upgrades.md: {example.name}>", "exec"), namespace)
    return namespace


def test_the_table_lists_every_example_on_the_page_and_no_other() -> None:
    assert set(table()) == set(EXAMPLES)
    for name, checked_by in table().items():
        wanted = "unit, integration" if EXAMPLES[name] in HANDLERS else "unit"
        assert checked_by == wanted, f"{name}: the table says {checked_by!r}, the tests do {wanted!r}"


def test_there_are_examples_of_each_kind() -> None:
    names = set(EXAMPLES)
    assert {"replay-v1", "gate-v1", "gate-v2"} <= names
    assert any(n.startswith("replay-safe-") for n in names)
    assert any(n.startswith("replay-breaks-") for n in names)
    assert any(n.startswith("state-") for n in names)
    assert any(n.startswith("call-") for n in names)


@pytest.mark.parametrize("example", STANDALONE, ids=lambda e: e.name)
def test_a_state_payload_or_call_example_holds(example: Example) -> None:
    run(example)  # each asserts its own claim


@pytest.mark.parametrize("example", HANDLERS, ids=lambda e: e.name)
def test_a_handler_example_builds_into_an_app(example: Example) -> None:
    namespace = run(example)
    reminder, names = namespace["reminder"], namespace["names"]
    assert isinstance(reminder, restate.VirtualObject)
    assert isinstance(names, restate.Service)
    assert set(reminder.handlers) == {"remind"}
    assert set(names.handlers) == {"tidy"}
    restate.app([reminder, names])  # the SDK takes the handler's signature
    if example.handler_block:  # a change of `remind`, not a copy of it
        base = EXAMPLES[example.before].code
        assert example.code.split("@reminder.handler()")[1] != base.split("@reminder.handler()")[1]


@pytest.mark.parametrize("example", HANDLERS, ids=lambda e: e.name)
def test_a_handler_example_says_what_its_replay_does(example: Example) -> None:
    if example.name in (BASE, "gate-v1"):
        assert example.replayed is None  # what the others replace
    elif "-breaks-" in example.name:
        assert example.replayed == MISMATCH
    else:
        assert example.replayed is not None
        assert example.replayed != MISMATCH
    assert (example.new is not None) == (example.name == "gate-v2")
