"""Scenario 4: the 3-step workflow (``BenchWorkflow/run``) over HTTP ingress.

Each call is a new workflow id, so every call runs the three ``ctx.run`` steps: latency is
the client's wall time from request to response (keep-alive connections, warmed up first).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from switchyard.ops.load import latency_summary

PATH = "/BenchWorkflow/{id}/run"


@dataclass
class WorkflowReport:
    mode: str  # sequential | concurrent16
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0

    def summary(self) -> dict[str, Any]:
        lat = latency_summary(self.latencies_ms)
        return {
            "calls": len(self.latencies_ms), "errors": self.errors, "concurrency": self.concurrency,
            "p50_ms": lat["p50"], "p90_ms": lat["p90"], "p99_ms": lat["p99"], "max_ms": lat["max"],
            "throughput_rps": round(len(self.latencies_ms) / self.seconds, 1) if self.seconds else 0.0,
        }


def _path(prefix: str) -> str:
    return PATH.format(id=f"{prefix}-{uuid.uuid4().hex[:12]}")


def sequential(ingress: str, calls: int, prefix: str = "wf", warmup: int = 20) -> WorkflowReport:
    """One call at a time."""
    report = WorkflowReport("sequential", 1)
    with httpx.Client(base_url=ingress, timeout=30) as client:
        for n in range(warmup + calls):
            began = time.perf_counter()
            response = client.post(_path(prefix), json={"value": n})
            took = (time.perf_counter() - began) * 1000
            if n < warmup:
                continue
            if response.status_code != 200:
                report.errors += 1
                continue
            report.latencies_ms.append(took)
            report.seconds += took / 1000
    return report


def concurrent(ingress: str, calls: int, concurrency: int = 16, prefix: str = "wfc") -> WorkflowReport:
    """``concurrency`` callers, each one call at a time, ``calls`` in all."""
    return asyncio.run(_concurrent(ingress, calls, concurrency, prefix))


async def _concurrent(ingress: str, calls: int, concurrency: int, prefix: str) -> WorkflowReport:
    report = WorkflowReport(f"concurrent{concurrency}", concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=ingress, timeout=30, limits=limits) as client:
        await asyncio.gather(*(client.post(_path(prefix), json={"value": 0}) for _ in range(concurrency)))
        left = [calls]
        began = time.perf_counter()
        await asyncio.gather(*(_caller(client, prefix, left, report) for _ in range(concurrency)))
        report.seconds = time.perf_counter() - began
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
