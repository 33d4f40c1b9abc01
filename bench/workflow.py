"""Scenario 4: the 3-step workflow (``BenchWorkflow/run``) over HTTP ingress.

Each call is a new workflow id, so every call runs the three ``ctx.run`` steps: latency is
the client's wall time from request to response (keep-alive connections, warmed up first).

Its baseline in the same run is one durable call without a step (``BenchCounter/get``, a
shared handler reading one state entry): what any invocation costs, so the difference is
what the three steps add (each a journal entry the service waits on until restate-server
has logged it).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.procs import CpuMeter
from switchyard.ops.load import latency_summary

PATH = "/BenchWorkflow/{id}/run"
BASELINE_PATH = "/BenchCounter/{id}/get"  # the same call's cost without steps


@dataclass
class WorkflowReport:
    mode: str  # sequential | concurrent16 | baseline
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    path: str = PATH
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process, over the measured calls

    def summary(self) -> dict[str, Any]:
        lat = latency_summary(self.latencies_ms)
        calls = len(self.latencies_ms)
        return {
            "calls": calls, "errors": self.errors, "concurrency": self.concurrency, "path": self.path,
            "p50_ms": lat["p50"], "p90_ms": lat["p90"], "p99_ms": lat["p99"], "max_ms": lat["max"],
            "throughput_rps": round(calls / self.seconds, 1) if self.seconds else 0.0,
            "cpu_ms_per_call": {name: round(spent * 1000 / calls, 2) for name, spent in self.cpu_seconds.items()}
            if calls else {},
        }


def _path(prefix: str, template: str = PATH) -> str:
    return template.format(id=f"{prefix}-{uuid.uuid4().hex[:12]}")


def sequential(ingress: str, calls: int, prefix: str = "wf", warmup: int = 20, meter: CpuMeter | None = None,
               template: str = PATH, mode: str = "sequential") -> WorkflowReport:
    """One call at a time; ``meter`` (if given) is read around the measured calls only."""
    report = WorkflowReport(mode, 1, path=template)
    with httpx.Client(base_url=ingress, timeout=30) as client:
        for n in range(warmup + calls):
            if n == warmup and meter is not None:
                meter.start()
            began = time.perf_counter()
            response = client.post(_path(prefix, template), json={"value": n} if template == PATH else None)
            took = (time.perf_counter() - began) * 1000
            if n < warmup:
                continue
            if response.status_code != 200:
                report.errors += 1
                continue
            report.latencies_ms.append(took)
            report.seconds += took / 1000
    if meter is not None:
        report.cpu_seconds = meter.stop()
    return report


def baseline(ingress: str, calls: int, meter: CpuMeter | None = None) -> WorkflowReport:
    """The workflow's baseline: one call at a time of a handler without steps."""
    return sequential(ingress, calls, "wfb", meter=meter, template=BASELINE_PATH, mode="baseline")


def concurrent(ingress: str, calls: int, concurrency: int = 16, prefix: str = "wfc",
               meter: CpuMeter | None = None) -> WorkflowReport:
    """``concurrency`` callers, each one call at a time, ``calls`` in all."""
    return asyncio.run(_concurrent(ingress, calls, concurrency, prefix, meter))


async def _concurrent(ingress: str, calls: int, concurrency: int, prefix: str,
                      meter: CpuMeter | None) -> WorkflowReport:
    report = WorkflowReport(f"concurrent{concurrency}", concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=ingress, timeout=30, limits=limits) as client:
        await asyncio.gather(*(client.post(_path(prefix), json={"value": 0}) for _ in range(concurrency)))
        left = [calls]
        if meter is not None:
            meter.start()
        began = time.perf_counter()
        await asyncio.gather(*(_caller(client, prefix, left, report) for _ in range(concurrency)))
        report.seconds = time.perf_counter() - began
        if meter is not None:
            report.cpu_seconds = meter.stop()
    return report


async def _caller(client: httpx.AsyncClient, prefix: str, left: list[int], report: WorkflowReport) -> None:
    while left[0] > 0:
        left[0] -= 1
        began = time.perf_counter()
        response = await client.post(_path(prefix), json={"value": 1})
        if response.status_code != 200:
            report.errors += 1
            continue
        report.latencies_ms.append((time.perf_counter() - began) * 1000)
