"""The wrappers every served app gets around its ``restate.app``: ``GET /metrics`` before
it, and the ASGI lifespan protocol answered (handlers/app.py, switchyard/serving.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from switchyard.core.metrics import Asgi, is_metrics_request, metrics_app


def with_metrics(app: Asgi, metrics: Asgi | None = None) -> Asgi:
    """``app`` with ``GET /metrics`` answered before it: a Prometheus scraper has no
    Restate signature, so this path is open to whoever reaches the service's port. It
    shows topic names, counts and latencies, nothing of the records (docs/metrics.md)."""
    responder = metrics or metrics_app()

    async def serve(scope: Any, receive: Any, send: Any) -> None:
        if is_metrics_request(scope):
            await responder(scope, receive, send)
        else:
            await app(scope, receive, send)

    return serve


def with_lifespan(app: Asgi, on_shutdown: Callable[[], None]) -> Asgi:
    """``app`` answering the ASGI lifespan protocol, which the SDK's app refuses (granian
    then logs "ASGI Lifespan errored"); on shutdown ``on_shutdown`` runs (the gate stops,
    pending results are flushed) before the worker exits (atexit stays as the fallback for
    a server that sends no lifespan events)."""

    async def serve(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return serve
