"""`switchyard pipeline`: the pipeline page's figures as a terminal table.

The figures come from the stream worker's `/views/pipeline/` (the same JSON the page
renders). When the worker does not answer, the live half (subscriptions, lag, DLQ size,
invocations) is gathered here directly and the windowed half is left blank, with a
problem line saying why.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from schemas.streams import PipelineView
from streams.pipeline import Collector
from switchyard.core.text import render_table
from switchyard.settings import Settings

COLUMNS = ("topic", "subscription", "lag", "in/s", "in", "ok", "failed", "dlq", "p50 ms", "p90 ms", "p99 ms",
           "DLQ size", "retrying", "paused")


class ViewError(RuntimeError):
    """The worker refused the request (e.g. a window size it does not keep)."""


def fetch(settings: Settings, window: int | None = None) -> dict[str, Any]:
    """The pipeline view as the worker serves it, or the live half gathered here."""
    url = f"http://{settings.streams.web_bind}/views/pipeline/"
    try:
        response = httpx.get(url, params={"window": window} if window else None, timeout=15)
    except httpx.HTTPError as exc:
        return direct(settings, f"stream worker at {url} not answering ({type(exc).__name__}): "
                                "no rates or latencies")
    body: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise ViewError(str(body.get("error", response.text)))
    return body


def direct(settings: Settings, why: str) -> dict[str, Any]:
    collector = Collector(settings)
    rows, issues = collector.rows()
    view = PipelineView(generatedAt=int(time.time() * 1000), windowSeconds=0, rows=rows,
                        invocations=issues[:50], alerts=[], problems=[why, *collector.problems])
    return view.model_dump()


def cells(row: dict[str, Any]) -> list[str]:
    """One topic's row, in COLUMNS order; the same figures the page shows."""
    w = row.get("window") or {}
    lat = w.get("latencyMs") or {}
    return [text(v) for v in (
        row["topic"], ", ".join(row["subscriptions"]) or "missing", row["lag"], row.get("ratePerSecond"),
        w.get("recordsIn"), w.get("resultsOk"), w.get("resultsFailed"), w.get("dlq"),
        lat.get("p50"), lat.get("p90"), lat.get("p99"), row["dlqSize"], row["retrying"], row["paused"],
    )]


def text(value: Any) -> str:
    return "-" if value is None else str(value)


def clock(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))


def render(view: dict[str, Any]) -> str:
    table = render_table(COLUMNS, (cells(r) for r in view["rows"]), right=range(2, len(COLUMNS)))
    size = view.get("windowSeconds")
    head = f"pipeline at {clock(view['generatedAt'])}"
    if size:
        head += f"; window figures: the last closed {size} s window"
    out = [head, "", table]
    if view["invocations"]:
        out += ["", "invocations retrying or paused in Restate:"]
        out += [f"  {i['id']}  {i['target']}  key={i['key']}  {i['status']}  attempts={i['retryCount']}"
                f"  {i['lastFailure'] or ''}".rstrip() for i in view["invocations"]]
    if view["alerts"]:
        out += ["", "risk alerts:"]
        out += [f"  {a['userId']}: {a['depositCount']} deposits, sum {a['depositSum']} (over "
                f"{'+'.join(a['breached'])}) in the window from {clock(a['windowStart'])}" for a in view["alerts"]]
    if view["problems"]:
        out += ["", *(f"problem: {p}" for p in view["problems"])]
    return "\n".join(out)
