"""The topic catalogue's types: what a topic declaration says, the names of its
companions, and the lookups every layer uses. The declarations themselves (which topics
a deployment has) live above the core, in ``schemas.catalogue``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, RootModel, ValidationError

ServiceKind = Literal["object", "workflow", "service"]
# A topic's sample record: (record number, approximate value size in bytes) -> a value its
# schema takes. The load generator (switchyard/ops/load.py) and `switchyard produce --generate` send these.
Sample = Callable[[int, int], BaseModel]

# The names of an input topic's companions: `<topic>-results`, `<topic>-dlq`, and (gated
# topics) `<topic>-routed`, the key gate's copy that Restate subscribes to.
RESULTS_SUFFIX = "-results"
DLQ_SUFFIX = "-dlq"
ROUTED_SUFFIX = "-routed"
# A workflow topic's subscription invokes `<service>Ingest/ingest` (switchyard/core/sink.py).
INGEST_HANDLER = "ingest"
INGEST_SUFFIX = "Ingest"


@dataclass(frozen=True)
class Topic:
    name: str
    key: str  # what the record key means
    value: type[BaseModel]
    service: str
    handler: str
    kind: ServiceKind
    summary: str
    # None: no valid value can be made up without what only a deployment has (a webhook
    # event needs the provider's signing secret), and the load generator refuses the topic.
    sample: Sample | None = field(default=None, compare=False, repr=False)

    @property
    def noun(self) -> str:
        """The flow's name in every layer: schemas/, handlers/, producers/demos/ and
        tests/*/test_<noun>.py all use it."""
        return self.value.__module__.rsplit(".", 1)[-1]

    @property
    def results(self) -> str:
        return f"{self.name}{RESULTS_SUFFIX}"

    @property
    def dlq(self) -> str:
        return f"{self.name}{DLQ_SUFFIX}"

    @property
    def dlq_replayed(self) -> str:
        """Compacted markers of DLQ records replayed to this topic (created by
        `switchyard dlq replay` on first use), so each is replayed once."""
        return f"{self.dlq}-replayed"

    @property
    def target(self) -> str:
        return f"{self.service}/{self.handler}"

    @property
    def sink(self) -> str:
        """The sink URI of the handler the contract names (what the seeds' curl subscribes)."""
        return f"service://{self.service}/{self.handler}"

    @property
    def gated(self) -> bool:
        """Objects and workflows take the record key as their key (plain services take it
        as the idempotency key). Restate needs a UTF-8 key for such sinks and retries any
        other record forever, halting the whole subscription (restatedev/restate#4682), so
        these topics reach Restate through Switchyard's key gate (switchyard/core/gate.py),
        which dead-letters records whose key cannot be an object key."""
        return self.kind != "service"

    @property
    def routed(self) -> str:
        """The gate's output for a gated topic: same partitions and keys, each value an
        envelope naming its source record (switchyard.core.envelope.RoutedRecord)."""
        return f"{self.name}{ROUTED_SUFFIX}"

    @property
    def subscribed_topic(self) -> str:
        """The topic Restate's subscription reads."""
        return self.routed if self.gated else self.name

    @property
    def subscribed_service(self) -> str:
        """The service Restate's subscription invokes. A workflow's `run` can be invoked
        once per key and Restate refuses a second one before any code runs, so a workflow
        topic feeds a virtual object of the same keys (one record at a time per key, in
        order) that calls `run` and reports either outcome (switchyard/core/sink.py)."""
        return f"{self.service}{INGEST_SUFFIX}" if self.kind == "workflow" else self.service

    @property
    def subscribed_handler(self) -> str:
        return INGEST_HANDLER if self.kind == "workflow" else self.handler

    @property
    def subscription_sink(self) -> str:
        return f"service://{self.subscribed_service}/{self.subscribed_handler}"

    def parse(self, raw: bytes) -> Any:
        """Validate a record value; raises ``ValueError`` (incl. ValidationError)."""
        parsed = self.value.model_validate_json(raw)
        return parsed.root if isinstance(parsed, RootModel) else parsed


# The record size companion topics (-results, -dlq, -routed) take, and what our producers
# send: a record the broker took on an input topic (up to its 1,048,588-byte default) must
# fit as a dead letter with headers, or base64-wrapped by the key gate.
COMPANION_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class StreamTopic:
    """A topic the stream workers (streams/) derive from the input topics: no sink
    handler, no companions; the bootstrap creates it with the others."""

    name: str
    key: str
    value: type[BaseModel]
    writer: str  # the streams module that produces it
    summary: str


@dataclass(frozen=True)
class Catalogue:
    """A deployment's topics: the input topics with their sinks, and the topics the stream
    workers derive. Every tool takes one and asks it, so no list of names is copied."""

    topics: tuple[Topic, ...]
    stream_topics: tuple[StreamTopic, ...] = ()
    _by_name: dict[str, Topic] = field(init=False, repr=False, compare=False)
    _by_routed: dict[str, Topic] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {t.name: t for t in self.topics}
        if len(by_name) != len(self.topics):
            raise ValueError("a topic is declared twice")
        for t in self.topics:
            if t.name.endswith(ROUTED_SUFFIX):
                raise ValueError(f"{t.name}: an input topic's name may not end in {ROUTED_SUFFIX!r} (the gate's)")
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_routed", {t.routed: t for t in self.topics if t.gated})

    def topic(self, name: str) -> Topic:
        """The entry for an input topic; KeyError names the known topics."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown input topic {name!r}; known: {', '.join(self._by_name)}") from None

    def stream_topic(self, name: str) -> StreamTopic:
        for s in self.stream_topics:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.stream_topics)
        raise KeyError(f"unknown stream topic {name!r}; known: {known}")

    def topic_for_routed(self, name: str) -> Topic | None:
        return self._by_routed.get(name)

    def companion_topics(self) -> list[str]:
        return [name for t in self.topics for name in (t.results, t.dlq)]

    def routed_topics(self) -> list[str]:
        return [t.routed for t in self.topics if t.gated]

    def gated_topics(self) -> list[Topic]:
        return [t for t in self.topics if t.gated]

    def all_topic_names(self) -> list[str]:
        return ([t.name for t in self.topics] + self.companion_topics() + self.routed_topics()
                + [s.name for s in self.stream_topics])


REASON_PART_CHARS = 300  # some messages quote the input (a union's tag): a 1 MB tag must not
# become a 1 MB DLQ header, which would push the DLQ record over the broker's size limit.


def describe_error(exc: Exception) -> str:
    """A one-line reason naming the offending field(s), for DLQ headers and 400s; bounded
    in length whatever the input."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors(include_url=False)[:5]:
            loc = ".".join(str(p) for p in err["loc"]) or "(value)"
            parts.append(_clip(f"{_clip(loc)}: {err['msg']}"))
        more = exc.error_count() - len(parts)
        return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return _clip(str(exc), 5 * REASON_PART_CHARS)


def _clip(text: str, limit: int = REASON_PART_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"
