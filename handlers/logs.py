"""Log records stamped with the invocation id, object key and Kafka coordinates."""

from __future__ import annotations

import logging

from restate.extensions import current_context

FORMAT = "%(asctime)s %(levelname)-5s [%(target)s][%(invocation_id)s]%(kafka)s %(name)s - %(message)s"


class InvocationContextFilter(logging.Filter):
    """Adds `invocation_id`, `target` (Service/key) and `kafka` (topic[partition]@offset)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            ctx = current_context()
        except LookupError:  # outside any invocation
            ctx = None
        record.invocation_id = "-"
        record.target = "-"
        record.kafka = ""
        if ctx is None:
            return True
        request = ctx.request()
        record.invocation_id = request.id
        handler = getattr(ctx, "handler", None)
        key = getattr(getattr(ctx, "invocation", None), "key", "")
        if handler is not None:
            service = handler.service_tag.name
            record.target = f"{service}/{key}/{handler.name}" if key else f"{service}/{handler.name}"
        if "kafka.topic" in request.headers:
            h = request.headers
            record.kafka = f" {h['kafka.topic']}[{h.get('kafka.partition')}]@{h.get('kafka.offset')}"
        return True


def configure(level: str = "INFO") -> None:
    """Called once by the service entry point."""
    handler = logging.StreamHandler()
    handler.addFilter(InvocationContextFilter())
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
