"""The benchmark against the session stack, tiny: every system answers every record, and
the outputs (JSON in the issue's shape, the table with its ratios, the PNG) are written.

Figures are not asserted: performance is measured by `switchyard bench`, not by tests.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bench.plan import SCENARIOS, choose
from bench.run import publish, run_on
from handlers.settings import ExampleStackSettings as Settings
from switchyard.stack.stack import Stack


def test_tiny_benchmark_writes_json_table_and_plot(stack: Stack, settings: Settings, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # The session's partition count, and no scaling runs: no extra subscriptions on the shared
    # stack (tests/unit/test_bench_*.py cover the scaling plan). Every other scenario runs, so a
    # broken one fails here (the packages row once crashed at its warm-up: bench-events records
    # sent to PackageTracker).
    plan = replace(choose(tiny=True), partitions=settings.kafka.topic_partitions,
                   scenarios=frozenset(SCENARIOS) - {"scaling"})
    doc = run_on(stack, plan, tmp_path, {"mode": "tiny"}, progress=lambda line: None)
    assert publish(doc, tmp_path, "latest") == 0  # 0: every record got its result

    written = json.loads((tmp_path / "latest.json").read_text())
    systems = {(r["system"], r["scenario"]) for r in written["runs"]}
    assert {("raw", "throughput"), ("faust", "throughput"), ("switchyard", "throughput"),
            ("packages", "throughput")} <= systems
    assert any(scenario.startswith("latency@") for _, scenario in systems)
    for run in written["runs"]:
        assert run["records"] == run["results"] > 0
        assert run["throughput_rps"] > 0
        assert 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["p99"] <= run["latency_ms"]["max"]
    for mode in ("sequential", "concurrent16", "baseline"):
        w = written["workflow_3step"][mode]
        assert w["errors"] == 0
        assert w["calls"] == plan.workflow_calls
        assert 0 < w["p50_ms"] <= w["p99_ms"]
        # Where a call's time goes: the service and restate-server, each measured over the calls
        # (/proc counts in 10 ms ticks: over the tiny plan's few calls one may read 0, not both).
        assert set(w["cpu_ms_per_call"]) == {"service", "restate"}
        assert all(ms >= 0 for ms in w["cpu_ms_per_call"].values())
        assert sum(w["cpu_ms_per_call"].values()) > 0
    assert written["workflow_3step"]["baseline"]["path"] == "/BenchCounter/{id}/get"
    assert written["ratios"]["workflow/no-step call p50"] == round(
        written["workflow_3step"]["sequential"]["p50_ms"] / written["workflow_3step"]["baseline"]["p50_ms"], 3)
    by = {r["system"]: r["throughput_rps"] for r in written["runs"] if r["scenario"] == "throughput"}
    assert written["ratios"]["switchyard/faust"] == round(by["switchyard"] / by["faust"], 3)
    assert written["ratios"]["switchyard/raw"] == round(by["switchyard"] / by["raw"], 3)

    for system in ("faust", "switchyard"):  # the ladder climbed until a step failed or it ran out
        capacity = written["capacity"][system]
        assert capacity["steps"]
        assert capacity["capacity_rps"] in [0] + [st["offered_rps"] for st in capacity["steps"]]
        assert all(st["passed"] for st in capacity["steps"][:-1])
    assert "capacity switchyard/faust" in written["ratios"]

    out = capsys.readouterr().out
    assert f"throughput switchyard/faust: {written['ratios']['switchyard/faust']}" in out
    png = (tmp_path / "latest.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000
