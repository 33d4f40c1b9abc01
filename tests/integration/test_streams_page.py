"""The pipeline page in headless Chromium: after traffic, the page shows the numbers the
JSON view gives, and its screenshot is a rendered table, not a blank page.

Chromium comes from Debian's `chromium` package (`tools/ensure_apt.sh` in `make setup`, which
`make setup` runs). Without it this test fails and says so: it never skips.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.results import TopicReader
from tests.integration.kafka_driver import source_of
from tests.integration.test_streams import await_fresh_window, eventually, produce_at, web_json

PACKAGES = topic("package-location-updates")
# What the page shows per topic (pipeline.js FIELDS), read off a pipeline view row.
FIGURES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "target": lambda r: r["target"],
    "subscription": lambda r: ", ".join(r["subscriptions"]) or "missing",
    "lag": lambda r: r["lag"],
    "rate": lambda r: r["ratePerSecond"],
    "in": lambda r: (r["window"] or {}).get("recordsIn"),
    "ok": lambda r: (r["window"] or {}).get("resultsOk"),
    "failed": lambda r: (r["window"] or {}).get("resultsFailed"),
    "dlq": lambda r: (r["window"] or {}).get("dlq"),
    "p50": lambda r: ((r["window"] or {}).get("latencyMs") or {}).get("p50"),
    "p90": lambda r: ((r["window"] or {}).get("latencyMs") or {}).get("p90"),
    "p99": lambda r: ((r["window"] or {}).get("latencyMs") or {}).get("p99"),
    "dlqSize": lambda r: r["dlqSize"],
    "retrying": lambda r: r["retrying"],
    "paused": lambda r: r["paused"],
}
HEADER_RGB = (0x2F, 0x4B, 0x7C)  # pipeline.css th background


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is not installed: run `make setup` (tools/ensure_apt.sh) "
                "to install Debian's chromium package for this test")


def headless(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--virtual-time-budget=3000", *extra, url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


class PageCells(HTMLParser):
    """The figure cells (data-topic, data-field) and each topic row's window start."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.window_start: dict[str, str] = {}
        self._open: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-topic"):
            self.window_start[a["data-topic"] or ""] = a.get("data-window-start") or ""
        if tag == "td" and a.get("data-topic") and a.get("data-field"):
            self._open = (a["data-topic"] or "", a["data-field"] or "")
            self.cells[self._open] = ""

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.cells[self._open] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._open = None


def shown(value: Any) -> str:
    """How pipeline.js prints a value: a dash for none, JavaScript's number text."""
    if value is None:
        return "\u2013"  # an en dash
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def figures(view: dict[str, Any]) -> dict[str, Any]:
    return {r["topic"]: ({f: pick(r) for f, pick in FIGURES.items()}, (r["window"] or {}).get("start"))
            for r in view["rows"]}


def send_traffic(settings: Settings, ingress: httpx.Client, unique: str, size: int) -> int:
    """6 updates of a registered package, 2 of unknown ones (failed), 1 bad record (DLQ),
    all at the start of a fresh window; returns that window's start (ms) once every
    record has its outcome."""
    package = f"{unique}-pkg"
    assert ingress.post(f"/PackageTracker/{package}/registerPackage",
                        json={"finalDestination": "Ghent"}).status_code == 200
    loc = json.dumps({"timestamp": "10:00", "location": "Bruges"}).encode()
    records = ([(package, loc)] * 6 + [(f"{unique}-ghost-{i}", loc) for i in range(2)]
               + [(f"{unique}-bad", b"{not json")])
    with TopicReader(settings.kafka.client_config(), [PACKAGES.results, PACKAGES.dlq]) as reader:
        t0 = await_fresh_window(size)
        sent = set(produce_at(settings, PACKAGES.name, records, t0))
        reader.collect(lambda rs: sent <= {source_of(r) for r in rs}, timeout=60)
    return (t0 // (size * 1000)) * size * 1000


def test_the_page_shows_the_numbers_the_json_gives(
    settings: Settings, ingress: httpx.Client, unique: str, tmp_path: Path
) -> None:
    size = max(int(w.total_seconds()) for w in settings.streams.windows)
    url = f"http://{settings.streams.web_bind}/pipeline/?window={size}"
    view_path = f"/views/pipeline/?window={size}"

    def caught_up() -> None:  # a worker still reading earlier tests' traffic fills windows late
        problems = web_json(settings, view_path)["problems"]
        assert not any("records behind" in p for p in problems), problems

    eventually(caught_up, timeout=120)
    changed: list[str] = []
    for _ in range(5):  # a round fails only if the window rolls over before the page is read
        start = send_traffic(settings, ingress, unique, size)

        def closed_with_my_traffic(start: int = start) -> dict[str, Any]:
            view = web_json(settings, view_path)
            row = next(r for r in view["rows"] if r["topic"] == PACKAGES.name)
            w = row["window"]
            assert w is not None
            assert w["start"] == start
            got = (w["recordsIn"], w["resultsOk"], w["resultsFailed"], w["dlq"])
            assert all(n >= least for n, least in zip(got, (9, 6, 2, 1), strict=True)), w
            return dict(view)

        try:
            before = eventually(closed_with_my_traffic, timeout=2 * size + 5)
        except AssertionError:
            continue  # the window closed and rolled on before the worker had all of it
        page = PageCells()
        page.feed(headless(url, tmp_path / "profile", "--dump-dom").stdout)
        after = web_json(settings, view_path)
        if figures(before) == figures(after):
            break
        changed = differences(figures(before), figures(after))
    else:
        pytest.fail("5 rounds without a stable view: the window with the traffic never showed complete, "
                    f"or the view changed while Chromium loaded the page (last change: {changed})")

    for t, (want, window_start) in figures(after).items():
        assert page.window_start.get(t) == ("" if window_start is None else str(window_start)), t
        for field, value in want.items():
            assert page.cells.get((t, field)) == shown(value), (t, field, value)
    row = figures(after)[PACKAGES.name][0]
    assert row["p50"] is not None
    assert row["in"] >= 9

    shot = tmp_path / "pipeline.png"
    headless(url, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1600,1000",
             "--hide-scrollbars")
    width, height, pixels = decode_png(shot.read_bytes(), rows=300)  # the title and the table's head
    assert (width, height) == (1600, 1000)
    assert len(set(pixels)) > 20, "the screenshot is (nearly) one colour: a blank page"
    assert HEADER_RGB in pixels, "no table header in the screenshot"


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Which figures moved between two views: `topic.field: old -> new`."""
    out = []
    for t, (figs, start) in after.items():
        old_figs, old_start = before.get(t, ({}, None))
        out += [f"{t}.{f}: {old_figs.get(f)} -> {v}" for f, v in figs.items() if old_figs.get(f) != v]
        out += [f"{t}.window: {old_start} -> {start}"] if old_start != start else []
    return out


def decode_png(data: bytes, rows: int) -> tuple[int, int, list[tuple[int, int, int]]]:
    """The size of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) and
    the RGB pixels of its first ``rows`` rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0), (depth, interlace)
    assert colour in (2, 6), colour
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, pixels = bytearray(stride), []
    for y in range(min(rows, height)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left, up = line[i - bpp] if i >= bpp else 0, prev[i]
            corner = prev[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + _predict(kind, left, up, corner)) & 0xFF
        pixels += [tuple(line[i:i + 3]) for i in range(0, stride, bpp)]
        prev = line
    return width, height, pixels  # type: ignore[return-value]


def _predict(kind: int, left: int, up: int, corner: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return left
    if kind == 2:
        return up
    if kind == 3:
        return (left + up) // 2
    p = left + up - corner
    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
    return left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
