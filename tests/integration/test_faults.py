"""The fault suite, CI-sized: each component killed with SIGKILL under load and restarted,
on a private stack (the session stack is never crashed under other tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard.faults import SCENARIOS, fault_settings, run_scenario
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


# CI-sized: one crash alone, then all three in turn (`switchyard faults` runs every scenario).
@pytest.mark.parametrize("scenario", ["restate-server", "all-in-turn"])
def test_nothing_lost_or_doubled_when_a_component_is_killed(crash_stack: Stack, scenario: str) -> None:
    report = run_scenario(crash_stack, scenario, SCENARIOS[scenario], keys=8, rate=80.0, warmup=1.5, downtime=0.5)
    assert report.produced > 100
    assert (report.lost, report.duplicated, report.order_violations, report.stuck) == (0, 0, 0, 0), report
    assert report.processed == report.produced
    assert 0 < report.recovery_s < 60

