"""The benchmark's report: ratios from the shared-records runs, and the table."""

from __future__ import annotations

from typing import Any

from bench.plan import choose
from bench.report import ratios, results_document, table


def run(system: str, scenario: str, rps: float) -> dict[str, Any]:
    return {"system": system, "scenario": scenario, "records": 100, "throughput_rps": rps, "keys": 10,
            "partitions": 2, "latency_ms": {"p50": 5.0, "p90": 8.0, "p99": 9.0, "max": 12.0},
            "cpu_ms_per_record": {"service": 1.5, "loadgen": 3.0}}


def test_ratios_divide_switchyard_by_each_peer_on_the_throughput_runs() -> None:
    runs = [run("raw", "throughput", 4000), run("faust", "throughput", 1000), run("switchyard", "throughput", 800),
            run("switchyard", "scaling", 99)]
    assert ratios(runs) == {"switchyard/faust": 0.8, "switchyard/raw": 0.2}


def test_a_missing_peer_gives_no_ratio() -> None:
    assert ratios([run("switchyard", "throughput", 800)]) == {"switchyard/faust": None, "switchyard/raw": None}


def test_table_shows_runs_ratios_and_workflow_without_the_load_generator() -> None:
    workflow = {"sequential": {"p50_ms": 4.2, "p99_ms": 9.9, "max_ms": 11.0, "throughput_rps": 200.0}}
    doc = results_document([run("faust", "throughput", 1000), run("switchyard", "throughput", 800)], workflow,
                           {"cpus": 2, "load_average": "1 1 1"})
    text = table(doc)
    assert "throughput switchyard/faust: 0.8" in text
    assert "throughput switchyard/raw: n/a" in text
    assert "3-step workflow over HTTP, sequential: p50 4.2 ms, p99 9.9 ms" in text
    assert "service 1.50" in text
    assert "loadgen" not in text


def test_the_workflow_is_reported_against_its_no_step_baseline_with_cpu_per_call() -> None:
    def mode(p50: float) -> dict[str, Any]:
        return {"p50_ms": p50, "p99_ms": p50 * 2, "max_ms": p50 * 3, "throughput_rps": 100.0,
                "cpu_ms_per_call": {"service": 2.25, "restate": 5.0}}

    doc = results_document([], {"sequential": mode(9.0), "baseline": mode(4.5)}, {"cpus": 2})
    assert doc["ratios"]["workflow/no-step call p50"] == 2.0
    text = table(doc)
    assert "workflow/no-step call p50: 2.0" in text
    assert "throughput workflow" not in text
    assert "one call without steps (BenchCounter/get), sequential: p50 4.5 ms" in text
    assert "cpu ms/call service 2.25, restate 5.00" in text
    assert "each of the workflow's 3 steps adds 1.50 ms at p50" in text
    assert "workflow/no-step call p50" not in results_document([], {"sequential": mode(9.0)}, {})["ratios"]


def test_quick_plan_is_smaller_than_full_and_overrides_apply() -> None:
    quick, full = choose(quick=True), choose()
    assert quick.records < full.records
    assert quick.latency_seconds < full.latency_seconds
    assert choose(quick=True, keys=5).keys == 5
    assert choose(quick=True, keys=None).keys == quick.keys
