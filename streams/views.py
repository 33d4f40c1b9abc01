"""Traffic and outcome views: records in, results ok/failed, dead letters and end-to-end
latency per input topic, in tumbling windows of every configured size.

Three agents read every catalogue topic, its `-results` and its `-dlq`. Each record adds
to the window its own timestamp falls in, under the key of the input topic it belongs
to, in one Faust tumbling table per window size. Keys are topics, not partitions, so the
tables write their changelogs through the partitioner (one key, one changelog partition).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from datetime import timedelta
from typing import Any

from schemas.catalogue import TOPICS
from schemas.streams import TrafficView, WindowCounts
from streams import windows
from streams.latency import LatencyJoin
from streams.settings import StreamsSettings

log = logging.getLogger(__name__)

RESULTS = {t.results: t.name for t in TOPICS}
DLQS = {t.dlq: t.name for t in TOPICS}


def window_sizes(settings: StreamsSettings) -> list[int]:
    return windows.whole_seconds(settings.streams.windows, "streams.windows")


class Traffic:
    """The windowed tables, one per size, and how they are read and written."""

    def __init__(self, app: Any, sizes: list[int], history: int) -> None:
        self.sizes = sizes
        self.history = history
        self.join = LatencyJoin()
        self.pending: dict[tuple[str, int, int], windows.Stats] = {}
        self.tables = {
            size: app.Table(f"traffic-{size}s", default=windows.empty, use_partitioner=True,
                            help=f"per-topic traffic in {size} s windows")
            .tumbling(size, expires=timedelta(seconds=size * history))
            for size in sizes
        }

    def add(self, topic: str, ts: float, delta: windows.Stats) -> None:
        """Adds ``delta`` to the window holding ``ts`` (seconds) of every size, in memory
        until the next :meth:`flush`."""
        for size in self.sizes:
            slot = (topic, size, windows.window_start(ts, size))
            self.pending[slot] = windows.add(self.pending.get(slot) or windows.empty(), delta)

    def flush(self) -> None:
        """Writes the gathered counts to the tables: one write (and changelog record) per
        topic and window touched since the last flush. The tables use the partitioner, so
        this runs from a timer, outside any agent."""
        pending, self.pending = self.pending, {}
        for (topic, size, start), delta in pending.items():
            window = self.tables[size][topic]
            key = windows.faust_range(start, size)
            window[key] = windows.add(window[key], delta)

    def windows_of(self, topic: str, size: int, now: float | None = None) -> list[WindowCounts]:
        now = time.time() if now is None else now
        window = self.tables[size][topic]
        return [
            windows.counts(start, size, window[windows.faust_range(start, size)], now)
            for start in windows.recent_starts(now, size, self.history)
        ]

    def view(self, topic: str, size: int, now: float | None = None) -> TrafficView:
        return TrafficView(topic=topic, windowSeconds=size, windows=self.windows_of(topic, size, now))


def register(app: Any, settings: StreamsSettings) -> Traffic:
    traffic = Traffic(app, window_sizes(settings), settings.streams.history)
    raw = {"key_serializer": "raw", "value_serializer": "raw"}

    async def inputs(stream: Any) -> None:
        async for event in stream.events():
            on_input(traffic, event.message)

    async def results(stream: Any) -> None:
        async for event in stream.events():
            on_result(traffic, event.message)

    async def dead_letters(stream: Any) -> None:
        async for event in stream.events():
            on_dead_letter(traffic, event.message)

    app.agent(app.topic(*[t.name for t in TOPICS], **raw), name="traffic-inputs")(inputs)
    app.agent(app.topic(*RESULTS, **raw), name="traffic-results")(results)
    app.agent(app.topic(*DLQS, **raw), name="traffic-dlq")(dead_letters)

    async def flush() -> None:
        traffic.flush()

    app.timer(settings.streams.flush_interval.total_seconds(), name="traffic-flush")(flush)
    return traffic


def on_input(traffic: Traffic, m: Any) -> None:
    traffic.add(m.topic, m.timestamp, windows.received())
    pair = traffic.join.input_seen((m.topic, m.partition, m.offset), _ms(m.timestamp))
    if pair is not None:  # its result was read first
        traffic.add(m.topic, pair.result_ms / 1000, windows.latency(pair.latency_ms))


def on_result(traffic: Traffic, m: Any) -> None:
    topic = RESULTS[m.topic]
    try:
        value = json.loads(m.value)
        source = value["source"]
        coords = (str(source["topic"]), int(source["partition"]), int(source["offset"]))
        ok = bool(value["ok"])
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("unreadable result %s[%d]@%d: %s", m.topic, m.partition, m.offset, exc)
        return
    traffic.add(topic, m.timestamp, windows.outcome(ok))
    pair = traffic.join.result_seen(coords, _ms(m.timestamp))
    if pair is not None:
        traffic.add(topic, m.timestamp, windows.latency(pair.latency_ms))


def on_dead_letter(traffic: Traffic, m: Any) -> None:
    topic = DLQS[m.topic]
    traffic.add(topic, m.timestamp, windows.dead_lettered())
    headers = {k: (v or b"").decode(errors="replace") for k, v in (m.headers or [])}
    # A DLQ record without its source headers has nothing pending to forget.
    with contextlib.suppress(KeyError, ValueError):
        traffic.join.forget((headers["source.topic"], int(headers["source.partition"]),
                             int(headers["source.offset"])))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
