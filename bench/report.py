"""The benchmark's outputs: ``latest.json`` (the issue's shape plus detail) and the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from switchyard.core.text import render_table


def results_document(runs: list[dict[str, Any]], workflow: dict[str, dict[str, Any]], meta: dict[str, Any],
                     memory: dict[str, Any] | None = None, soak: dict[str, Any] | None = None,
                     capacity: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"runs": runs, "workflow_3step": workflow,
                           "ratios": {**ratios(runs, capacity or {}), **step_ratio(workflow)}, "meta": meta}
    if capacity:
        doc["capacity"] = capacity
    if memory is not None:
        doc["service_memory"] = memory
    if soak is not None:
        doc["soak"] = soak
    return doc


def write(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)


def _find(runs: list[dict[str, Any]], system: str, scenario: str) -> dict[str, Any] | None:
    return next((r for r in runs if r["system"] == system and r["scenario"] == scenario), None)


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 3) if ours is not None and theirs else None


def _rps(run: dict[str, Any] | None) -> float | None:
    return None if run is None else float(run["throughput_rps"])


def ratios(runs: list[dict[str, Any]], capacity: dict[str, dict[str, Any]] | None = None) -> dict[str, float | None]:
    """Switchyard's throughput over each peer's on the shared records; the PackageTracker
    flow over the bench handler; capacity at the SLO over Faust's."""
    ours = _rps(_find(runs, "switchyard", "throughput"))
    out: dict[str, float | None] = {
        f"switchyard/{peer}": _ratio(ours, _rps(_find(runs, peer, "throughput"))) for peer in ("faust", "raw")}
    packages = _find(runs, "packages", "throughput")
    if packages is not None:
        out["packages/switchyard"] = _ratio(_rps(packages), ours)
    capacity = capacity or {}
    if "switchyard" in capacity and "faust" in capacity:
        out["capacity switchyard/faust"] = _ratio(capacity["switchyard"]["capacity_rps"],
                                                   capacity["faust"]["capacity_rps"])
    return out


def step_ratio(workflow: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """The sequential workflow's p50 over its baseline's (the same call without steps)."""
    if "sequential" not in workflow or "baseline" not in workflow:
        return {}
    return {"workflow/no-step call p50": _ratio(workflow["sequential"]["p50_ms"], workflow["baseline"]["p50_ms"])}


def _cpu(run: dict[str, Any], key: str = "cpu_ms_per_record") -> str:
    parts = [f"{name} {ms:.2f}" for name, ms in run.get(key, {}).items() if name != "loadgen"]
    return ", ".join(parts)


def _workflow_lines(workflow: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for mode, w in workflow.items():
        what = ("one call without steps (BenchCounter/get), sequential" if mode == "baseline"
                else f"3-step workflow over HTTP, {mode}")
        cpu = _cpu(w, "cpu_ms_per_call")
        lines.append(f"{what}: p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms, max {w['max_ms']} ms, "
                     f"{w['throughput_rps']} calls/s" + (f"; cpu ms/call {cpu}" if cpu else ""))
    if "sequential" in workflow and "baseline" in workflow:
        per_step = (workflow["sequential"]["p50_ms"] - workflow["baseline"]["p50_ms"]) / 3
        lines.append(f"each of the workflow's 3 steps adds {per_step:.2f} ms at p50 over the call without steps")
    return lines


def table(doc: dict[str, Any]) -> str:
    head = ("system", "scenario", "keys", "parts", "records", "rec/s", "p50 ms", "p99 ms", "max ms", "cpu ms/record")
    rows = [(r["system"], r["scenario"], r["keys"], r["partitions"], r["records"], f"{r['throughput_rps']:.0f}",
             *(f"{r['latency_ms'][q]:.0f}" for q in ("p50", "p99", "max")), _cpu(r)) for r in doc["runs"]]
    lines = [render_table(head, rows, right=range(2, 9))]
    for name, value in doc["ratios"].items():
        what = f"throughput {name}" if name.startswith(("switchyard/", "packages/")) else name
        lines.append(f"{what}: {value if value is not None else 'n/a'}")
    for system, cap in doc.get("capacity", {}).items():
        lines.append(f"capacity at p99 <= {cap['slo_p99_ms']:g} ms, {system}: {cap['capacity_rps']:g} rec/s "
                     f"(stopped {cap['stopped']})")
    lines.extend(_workflow_lines(doc["workflow_3step"]))
    for name in ("service_memory", "soak"):
        mem = doc.get(name)
        if mem:
            lines.append(f"{name.replace('_', ' ')}: RSS {mem['rss_mb_start']} -> {mem['rss_mb_end']} MiB "
                         f"(max {mem['rss_mb_max']}, {mem['growth_pct']:+.1f}%) over {mem['seconds']:.0f} s")
    lines.append(f"machine: {doc['meta'].get('cpus')} CPUs, load average {doc['meta'].get('load_average')}")
    return "\n".join(lines)
