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
        if "kafka.topic" in request.headers and "x-restate-ingress-path" not in request.headers:
            h = request.headers
            record.kafka = f" {h['kafka.topic']}[{h.get('kafka.partition')}]@{h.get('kafka.offset')}"
        return True


class OneLineRetries(logging.Filter):
    """A failed side effect that Restate will retry is logged once, in one line.

    The SDK logs every failed attempt with the chained traceback and the remote stack
    trace, about a hundred lines: while a dependency is down, every in-flight record fails
    several times a second, and formatting and writing those tracebacks took more of the
    service's CPU than the work (the provider-outage fault scenario drowned in it).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "restate.server_context" and record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if type(exc).__name__ == "VMException":
                first = str(exc).split("\n", 1)[0][:300]
                record.msg, record.args = "attempt failed, Restate retries it: %s", (first,)
                record.levelno, record.levelname = logging.WARNING, "WARN"
                record.exc_info = record.exc_text = None
        return True


# Each provider call is logged by the provider library and again by its HTTP client.
QUIET_LIBRARIES = ("stripe", "httpx", "httpcore")


def configure(level: str = "INFO") -> None:
    """Called once by the service entry point."""
    handler = logging.StreamHandler()
    handler.addFilter(OneLineRetries())
    handler.addFilter(InvocationContextFilter())
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
