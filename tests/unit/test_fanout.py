import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError

from handlers.fanout import aggregate, execute, subtask_duration
from handlers.settings import FanOutSettings
from schemas.fanout import MAX_SUBTASKS, FanOutRequest, SubtaskResult, split_subtasks

SETTINGS = FanOutSettings(subtask_min_duration=timedelta(milliseconds=200), subtask_max_duration=timedelta(seconds=2))


def test_a_description_splits_on_commas_in_input_order() -> None:
    assert FanOutRequest(description="a,b,c").subtasks() == ["a", "b", "c"]
    assert FanOutRequest(description=" zeta , alpha,zeta ").subtasks() == ["zeta", "alpha", "zeta"]
    assert FanOutRequest(description="single").subtasks() == ["single"]


@pytest.mark.parametrize(("description", "reason"), [
    ("a,,c", "subtask 2 of 3 is empty"), (",", "subtask 1 of 2 is empty"), ("a, ", "subtask 2 of 2 is empty"),
    (",".join(["t"] * (MAX_SUBTASKS + 1)), f"{MAX_SUBTASKS + 1} subtasks; at most {MAX_SUBTASKS}"),
    ("", "at least 1 character"),
])
def test_a_description_that_names_no_proper_subtasks_is_refused(description: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        FanOutRequest(description=description)


def test_the_most_subtasks_allowed_pass() -> None:
    assert len(FanOutRequest(description=",".join(["t"] * MAX_SUBTASKS)).subtasks()) == MAX_SUBTASKS
    assert split_subtasks("a,,b") == ["a", "", "b"]  # the validator, not the splitter, refuses


def test_the_aggregate_is_the_seeds_in_the_order_given() -> None:
    results = [SubtaskResult(task=t, result="DONE", durationMs=d) for t, d in (("c", 5), ("a", 900), ("b", 1))]
    assert aggregate(results) == "c: DONE, a: DONE, b: DONE"
    assert aggregate([]) == ""


@pytest.mark.parametrize(("draw", "duration"), [(0.0, timedelta(milliseconds=200)), (0.5, timedelta(milliseconds=1100)),
                                                (0.999999, timedelta(seconds=2))])
def test_a_subtask_duration_spans_the_configured_bounds(draw: float, duration: timedelta) -> None:
    assert abs(subtask_duration(draw, SETTINGS) - duration) < timedelta(milliseconds=1)


def test_equal_or_inverted_bounds_give_the_minimum() -> None:
    fixed = FanOutSettings(subtask_min_duration=timedelta(seconds=1), subtask_max_duration=timedelta(seconds=1))
    assert subtask_duration(0.7, fixed) == timedelta(seconds=1)
    inverted = FanOutSettings(subtask_min_duration=timedelta(seconds=2), subtask_max_duration=timedelta(seconds=1))
    assert subtask_duration(0.7, inverted) == timedelta(seconds=2)


def test_the_simulated_work_returns() -> None:
    assert asyncio.run(execute("a", 0)) is None
