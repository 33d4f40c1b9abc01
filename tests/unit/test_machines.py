import asyncio

import pytest

from handlers.machines import (
    HISTORY,
    MachineOperations,
    attempts_needed,
    crashes,
    done_message,
    next_number,
    refusal,
    with_transition,
)
from handlers.settings import MachineSettings
from schemas.machines import MachineStatus, Transition


@pytest.mark.parametrize(
    ("status", "target", "message"),
    [
        ("UP", "UP", "m1 is already running"),
        ("DOWN", "DOWN", "m1 is not up, cannot tear down"),
        ("DOWN", "UP", None),
        ("UP", "DOWN", None),
    ],
)
def test_a_command_that_would_change_nothing_says_so(
    status: MachineStatus, target: MachineStatus, message: str | None
) -> None:
    assert refusal("m1", status, target) == message


def test_the_seed_words_a_finished_transition() -> None:
    assert done_message("a", "UP") == "a is now running"
    assert done_message("a", "DOWN") == "a is now down"


def test_crashes_are_a_function_of_seed_machine_transition_and_attempt() -> None:
    draws = [crashes(7, "m", 1, attempt, 0.5) for attempt in range(1, 200)]
    assert draws == [crashes(7, "m", 1, attempt, 0.5) for attempt in range(1, 200)]
    assert 60 < sum(draws) < 140  # about half crash, and the attempts differ
    assert [crashes(8, "m", 1, a, 0.5) for a in range(1, 200)] != draws  # the seed matters
    assert not any(crashes(7, "m", n, a, 0.0) for n in range(1, 20) for a in range(1, 20))
    assert all(crashes(7, "m", n, a, 0.999999) for n in range(1, 20) for a in range(1, 20))


def test_attempts_needed_is_the_first_attempt_that_does_not_crash() -> None:
    s = MachineSettings(crash_probability=0.5, crash_seed=3)
    for machine in ("a", "b", "c", "d"):
        n = attempts_needed(s, machine, 1)
        assert all(crashes(3, machine, 1, a, 0.5) for a in range(1, n))
        assert not crashes(3, machine, 1, n, 0.5)


def test_the_operation_crashes_until_its_seeded_attempt_then_reports_the_count() -> None:
    s = MachineSettings(crash_probability=0.5, crash_seed=11)
    machine = next(f"m{i}" for i in range(100) if attempts_needed(s, f"m{i}", 1) >= 3)
    ops = MachineOperations(s)
    needed = attempts_needed(s, machine, 1)
    for _ in range(needed - 1):
        with pytest.raises(RuntimeError, match="A failure happened!"):
            asyncio.run(ops.operate(machine, 1, "UP"))
    assert asyncio.run(ops.operate(machine, 1, "UP")) == needed
    # The next transition counts its own attempts from 1.
    assert run_until_it_passes(ops, machine, 2) == attempts_needed(s, machine, 2)


def run_until_it_passes(ops: MachineOperations, machine: str, number: int) -> int:
    crashed = 0
    while True:
        try:
            attempts = asyncio.run(ops.operate(machine, number, "DOWN"))
        except RuntimeError:
            crashed += 1
            continue
        assert attempts == crashed + 1
        return attempts


def test_the_last_allowed_attempt_forgets_its_count() -> None:
    s = MachineSettings(crash_probability=0.999999, max_attempts=2)
    ops = MachineOperations(s)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            asyncio.run(ops.operate("m", 1, "UP"))
    assert ops._attempts == {}


def test_history_is_numbered_and_bounded() -> None:
    history: list[Transition] = []
    assert next_number(history) == 1
    for n in range(1, HISTORY + 6):
        history = with_transition(history, Transition(number=next_number(history), to="UP" if n % 2 else "DOWN",
                                                      began=float(n), ended=n + 0.5, attempts=1))
    assert len(history) == HISTORY
    assert history[-1].number == HISTORY + 5
    assert next_number(history) == HISTORY + 6
