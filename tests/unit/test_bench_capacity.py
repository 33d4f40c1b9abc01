"""The capacity ladder's decisions (bench/capacity.py): which step passes, where it stops."""

from __future__ import annotations

from typing import Any

from bench.capacity import Ladder, capacity_summary, step_passes
from bench.report import ratios


def summary(p99: float, throughput: float, produced: float, missing: int = 0) -> dict[str, Any]:
    return {"missing": missing, "latency_ms": {"p50": p99 / 2, "p99": p99}, "throughput_rps": throughput,
            "produced_rps": produced}


def test_ladder_climbs_geometrically_to_its_ceiling() -> None:
    assert Ladder(start=100, factor=2, ceiling=1000).rates() == [100, 200, 400, 800]


def test_a_step_needs_every_result_p99_within_the_slo_and_the_pace_kept() -> None:
    assert step_passes(summary(120, 495, 500), 500, 250) == (True, "ok")
    assert step_passes(summary(251, 495, 500), 500, 250) == (False, "p99 251 ms > 250 ms")
    assert step_passes(summary(100, 495, 500, missing=3), 500, 250)[1] == "3 records without a result"
    assert "behind the offer" in step_passes(summary(100, 300, 500), 500, 250)[1]
    assert "offered only" in step_passes(summary(100, 300, 300), 500, 250)[1]


def test_capacity_is_the_last_step_before_the_first_failure() -> None:
    steps = [{"offered_rps": r, "passed": ok, "why": why}
             for r, ok, why in ((200, True, "ok"), (280, True, "ok"), (392, False, "p99 900 ms > 250 ms"),
                                (549, True, "ok"))]
    found = capacity_summary(steps, 250)
    assert found["capacity_rps"] == 280
    assert found["stopped"] == "at 392 rec/s: p99 900 ms > 250 ms"
    assert capacity_summary(steps[2:3], 250)["capacity_rps"] == 0


def test_ratios_include_capacity_and_the_package_flow() -> None:
    runs = [{"system": s, "scenario": "throughput", "throughput_rps": rps}
            for s, rps in (("switchyard", 800), ("faust", 1600), ("raw", 8000), ("packages", 600))]
    found = ratios(runs, {"switchyard": {"capacity_rps": 540}, "faust": {"capacity_rps": 1080}})
    assert found == {"switchyard/faust": 0.5, "switchyard/raw": 0.1, "packages/switchyard": 0.75,
                     "capacity switchyard/faust": 0.5}
