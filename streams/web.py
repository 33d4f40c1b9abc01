"""What the Faust web server serves (settings.streams.web_bind, the contract's :6066).

JSON:
  /views/ready/                  200 once the worker holds its partitions and its tables are recovered
  /views/traffic/?window=S       every input topic's recent windows of S seconds (default: the largest)
  /views/traffic/{topic}/?window=S
  /views/alerts/                 the latest risk alerts this worker raised
  /views/pipeline/?window=S      per topic: subscription, lag, DLQ size, retrying/paused
                                 invocations, and the last closed window's figures
The page: /pipeline/ (static files from streams/static/, no CDN), refreshing itself.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from schemas.catalogue import TOPICS
from schemas.streams import PipelineRow, PipelineView
from streams.pipeline import Collector
from streams.settings import StreamsSettings
from streams.velocity import Velocity
from streams.views import Traffic

STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html", ".js": "application/javascript", ".css": "text/css"}
INPUTS = {t.name for t in TOPICS}


class BadRequest(ValueError):
    """A query parameter the view cannot use; the message names it."""


def window_param(query: Any, sizes: list[int]) -> int:
    raw = query.get("window")
    if raw is None:
        return max(sizes)
    if not str(raw).isdigit() or int(raw) not in sizes:
        raise BadRequest(f"window: expected one of {', '.join(map(str, sizes))} (seconds), got {raw!r}")
    return int(raw)


def with_windows(rows: list[PipelineRow], traffic: Traffic, size: int, now: float) -> list[PipelineRow]:
    """Adds each topic's last closed window (the newest complete figures) and its rate."""
    out = []
    for row in rows:
        closed = [w for w in traffic.windows_of(row.topic, size, now) if w.closed]
        last = closed[0] if closed else None
        rate = round(last.recordsIn / size, 2) if last else None
        out.append(row.model_copy(update={"window": last, "ratePerSecond": rate}))
    return out


def register(app: Any, settings: StreamsSettings, traffic: Traffic, velocity: Velocity) -> None:
    def fail(web: Any, status: int, message: str) -> Any:
        return web.json({"error": message}, status=status)

    async def changelogs_known() -> bool:
        """Faust hashes a table write to its changelog partition with the producer's cached
        metadata, without waiting for it: a changelog created moments before (no leader
        yet when the producer looked) crashes the worker on its first write. Wait here."""
        producer = app.producer._ensure_producer()
        try:
            for table in app.tables.values():
                await asyncio.wait_for(producer.partitions_for(table.changelog_topic.get_topic_name()), 2)
        except Exception:  # noqa: BLE001 - not known yet, whatever the reason
            return False
        return True

    async def ready(web: Any, request: Any) -> Any:
        assigned = bool(app.consumer.assignment())
        recovered = app.tables.recovery.completed.is_set()
        ok = assigned and recovered and not getattr(app, "rebalancing", False) and await changelogs_known()
        return web.json({"ready": ok, "assigned": assigned, "recovered": recovered}, status=200 if ok else 503)

    async def traffic_all(web: Any, request: Any) -> Any:
        try:
            size = window_param(request.query, traffic.sizes)
        except BadRequest as exc:
            return fail(web, 400, str(exc))
        now = time.time()
        views = [traffic.view(t.name, size, now).model_dump() for t in TOPICS]
        return web.json({"windowSeconds": size, "generatedAt": int(now * 1000), "topics": views})

    async def traffic_one(web: Any, request: Any, topic: str) -> Any:
        if topic not in INPUTS:
            return fail(web, 404, f"topic: unknown input topic {topic!r}; known: {', '.join(sorted(INPUTS))}")
        try:
            size = window_param(request.query, traffic.sizes)
        except BadRequest as exc:
            return fail(web, 400, str(exc))
        return web.json(traffic.view(topic, size).model_dump())

    async def alerts(web: Any, request: Any) -> Any:
        return web.json({"alerts": [a.model_dump() for a in velocity.recent]})

    async def pipeline(web: Any, request: Any) -> Any:
        try:
            size = window_param(request.query, traffic.sizes)
        except BadRequest as exc:
            return fail(web, 400, str(exc))
        collector = Collector(settings)
        rows, issues = await asyncio.get_running_loop().run_in_executor(None, collector.rows)
        now = time.time()
        view = PipelineView(
            generatedAt=int(now * 1000), windowSeconds=size, rows=with_windows(rows, traffic, size, now),
            invocations=issues[:50], alerts=list(velocity.recent)[:10], problems=collector.problems,
        )
        return web.json({**view.model_dump(), "windowSizes": traffic.sizes,
                         "refreshMs": int(settings.streams.page_refresh.total_seconds() * 1000)})

    async def page(web: Any, request: Any) -> Any:
        return web.html((STATIC / "pipeline.html").read_text())

    async def static(web: Any, request: Any, name: str) -> Any:
        path = STATIC / name
        kind = CONTENT_TYPES.get(path.suffix)
        # Only the files that are there, by their bare name: no path escapes STATIC.
        if kind is None or "/" in name or not path.is_file():
            return fail(web, 404, f"no such file: {name}")
        return web.bytes(path.read_bytes(), content_type=kind)

    app.page("/views/ready/")(ready)
    app.page("/views/traffic/")(traffic_all)
    app.page("/views/traffic/{topic}/")(traffic_one)
    app.page("/views/alerts/")(alerts)
    app.page("/views/pipeline/")(pipeline)
    app.page("/pipeline/")(page)
    app.page("/pipeline/{name}")(static)
