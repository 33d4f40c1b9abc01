"""The PackageTracker row's setup: registered packages and, as on `make up`, the stream
worker reading along (the comparison rows run without it; it reads every topic)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.procs import cpu_seconds, tree
from schemas.catalogue import topic
from switchyard.core.poll import poll_until
from switchyard.stack.stack import Stack, settings_env
from switchyard.stack.streams import start_streams

TOPIC = topic("package-location-updates")
SETTLE_TIMEOUT = 90.0  # the worker catching up on every earlier record before the run
IDLE_SHARE = 0.15  # of one core: below this the worker has caught up


def register(ingress_url: str, prefix: str, count: int, concurrency: int = 16) -> None:
    """PackageTracker/registerPackage for ``prefix0 .. prefix<count-1>`` (location updates
    for unregistered packages get a 404 outcome, not the flow measured)."""
    with httpx.Client(base_url=ingress_url, timeout=30) as client:
        def one(n: int) -> None:
            client.post(f"/PackageTracker/{prefix}{n}/registerPackage",
                        json={"finalDestination": f"{n} Rue de Rivoli, Paris"}).raise_for_status()

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(count)))


@contextmanager
def stream_worker(stack: Stack, home: Path) -> Iterator[int | None]:
    """The stack's stream worker (started here if the stack runs without one), settled: it
    has read what the earlier runs produced, so the row measures steady state."""
    running = stack.components.get("streams")
    if running is not None:
        yield int(getattr(running, "process").pid)  # noqa: B009 - Managed only
        return
    settings = stack.settings.model_copy(
        update={"streams": stack.settings.streams.model_copy(update={"enabled": True})})
    worker, _ = start_streams(settings, "streams.worker", home, settings_env(settings),
                              settings.stack.start_timeout.total_seconds())
    try:
        settle(worker.process.pid)
        yield worker.process.pid
    finally:
        worker.stop()


def settle(pid: int, timeout: float = SETTLE_TIMEOUT) -> None:
    """Until the worker idles (caught up), or ``timeout``: the run goes ahead either way."""
    with contextlib.suppress(TimeoutError):
        poll_until(lambda: idle(pid), timeout, 0.0, "the stream worker to catch up")


def idle(pid: int, seconds: float = 2.0) -> bool:
    """The process tree used less than IDLE_SHARE of a core over the next ``seconds``."""
    before = cpu_seconds(tree(pid))
    time.sleep(seconds)
    return cpu_seconds(tree(pid)) - before < seconds * IDLE_SHARE
