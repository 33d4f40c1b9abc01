"""Capacity at an SLO: the highest offered rate a system sustains with end-to-end p99 within
the objective, found by climbing a geometric ladder of offered rates until a step fails.

A step passes when every record got its result, p99 (produce timestamp -> result record)
is at most the objective, and results kept pace with the offer (a system that falls behind
shows it in p99 only after the backlog builds, so the pace is checked too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KEEP_PACE = 0.9  # results/s at least this share of the offered rate


@dataclass(frozen=True)
class Ladder:
    start: float = 200.0
    factor: float = 1.4
    ceiling: float = 20_000.0
    slo_p99_ms: float = 250.0

    def rates(self) -> list[float]:
        """The offered rates in order, rounded to whole records/s."""
        out, rate = [], self.start
        while rate <= self.ceiling:
            out.append(float(round(rate)))
            rate *= self.factor
        return out


def step_passes(summary: dict[str, Any], offered: float, slo_p99_ms: float) -> tuple[bool, str]:
    """Whether one step met the objective, and why not (for the table)."""
    if summary["missing"]:
        return False, f"{summary['missing']} records without a result"
    p99 = summary["latency_ms"]["p99"]
    if p99 > slo_p99_ms:
        return False, f"p99 {p99:.0f} ms > {slo_p99_ms:.0f} ms"
    if summary["produced_rps"] < KEEP_PACE * offered:
        return False, f"the producer offered only {summary['produced_rps']:.0f} rec/s"
    if summary["throughput_rps"] < KEEP_PACE * offered:
        return False, f"results at {summary['throughput_rps']:.0f} rec/s, behind the offer"
    return True, "ok"


def capacity_summary(steps: list[dict[str, Any]], slo_p99_ms: float) -> dict[str, Any]:
    """The highest passing rate below the first failing step (0 if the first step failed)."""
    best = 0.0
    stopped = "ladder ceiling reached"
    for step in steps:
        if not step["passed"]:
            stopped = f"at {step['offered_rps']:g} rec/s: {step['why']}"
            break
        best = step["offered_rps"]
    return {"capacity_rps": best, "slo_p99_ms": slo_p99_ms, "stopped": stopped, "steps": steps}
