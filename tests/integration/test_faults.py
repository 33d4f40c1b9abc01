"""The fault suite, CI-sized, on a private stack (the session stack is never crashed under
other tests): components killed with SIGKILL and restarted, the service and restate-server
frozen past Restate's inactivity timeout, the payment provider down past the retry horizon,
and a poison storm. Counted from state and from the -results/-dlq topics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.suite import SCENARIOS, Timings, fault_settings, run_scenario
from switchyard.stack.stack import Stack


@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home: Path = tmp_path_factory.mktemp("faults")
    stack = Stack(fault_settings(home), home, progress=lambda line: print(line, flush=True))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


# CI-sized: the three crashes in turn, and each other fault once (`switchyard faults` runs
# every scenario, each crash also alone). 40 records/s: a backlog CI's slower machine still
# drains within the settle time; the faults, not the rate, are what is tested here.
@pytest.mark.parametrize("scenario", ["all-in-turn", "frozen", "provider-outage", "poison-storm", "upgrade"])
def test_every_record_gets_one_outcome_and_one_effect(crash_stack: Stack, scenario: str) -> None:
    report = run_scenario(crash_stack, scenario, SCENARIOS[scenario], keys=8, rate=40.0, timings=Timings(poison=40))
    assert report.produced > 50
    assert (report.lost, report.duplicated, report.order_violations, report.stuck) == (0, 0, 0, 0), report
    assert report.processed == report.produced
    # From the output topics: no record without an outcome; a copy says what the first said.
    assert (report.outcomes_missing, report.outcome_copies_differ) == (0, 0), report
    assert report.poison_dead_lettered == report.poison
    assert report.journal_mismatches == 0
    assert 0 < report.recovery_s < 60
    if scenario == "provider-outage":
        assert report.paused > 0, "the outage outlasted no retry horizon"
    if scenario == "poison-storm":
        assert report.poison >= 40 * 3

